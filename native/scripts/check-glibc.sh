#!/bin/sh
# Fails if any given library needs a GLIBC_ symbol version newer than 2.17 (oldest supported).
# Only undefined (needed) symbols count: libgpumem.so itself defines dlsym@GLIBC_2.34.
set -eu
status=0
for lib in "$@"; do
  too_new=$(objdump -T "$lib" | grep '\*UND\*' | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u |
    awk -F'[_.]' '{ minor = ($3 == "" ? 0 : $3) } $2 > 2 || ($2 == 2 && minor > 17)')
  if [ -n "$too_new" ]; then
    echo "$lib needs glibc newer than 2.17 ($(echo $too_new)):" >&2
    objdump -T "$lib" | grep '\*UND\*' | grep -F "$(echo "$too_new" | head -1)" >&2 || true
    status=1
  else
    echo "$lib: needs nothing newer than GLIBC_2.17"
  fi
done
exit $status
