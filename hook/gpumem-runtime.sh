#!/bin/sh
# gpumem-runtime: the OCI runtime docker runs (registered in daemon.json). It hands every call to
# the lower runtime untouched, except:
#   create  of a container whose spec mentions gpumem: the gpumem agent decides and prepares the
#           bundle first (through the small C client; in-process in Node when no agent answers),
#           and if runc then fails to create it, nothing of gpumem's stays;
#   delete  of a container gpumem prepared: its state goes once the container is gone.
# Plain sh, so that everything else costs one exec, not a Node start. install.sh fills in the paths.
NODE='@NODE@'
APP='@APP@'
LOWER='@LOWER@'
STATE='@STATE@'
SOCKET='@SOCKET@'

# Find the subcommand behind runc's global flags (those with a value take the next word).
skip=
sub=
root=
for a in "$@"; do
  if [ -n "$skip" ]; then
    [ "$skip" = --root ] && root=$a
    skip=
    continue
  fi
  case "$a" in
    --root|--log|--log-format|--criu|--rootless) skip=$a ;;
    --root=*) root=${a#--root=} ;;
    -*) ;;
    *) sub=$a; break ;;
  esac
done
case "$sub" in
  create|delete) ;;
  *) exec "$LOWER" "$@" ;;
esac

# The container id is runc's last argument for both; an id runc would refuse is left to runc.
for id in "$@"; do :; done
case "$id" in
  ''|.|..|-*|*[!A-Za-z0-9_+.-]*) exec "$LOWER" "$@" ;;
esac

if [ "$sub" = delete ]; then
  [ -d "$STATE/$id" ] || exec "$LOWER" "$@"
  rc=0
  "$LOWER" "$@" || rc=$?
  # Gone when runc deleted it, or runc no longer knows it (deleted before, or never created).
  if [ "$rc" = 0 ] || ! "$LOWER" ${root:+--root "$root"} state "$id" >/dev/null 2>&1; then
    rm -rf "$STATE/$id"
  fi
  exit "$rc"
fi

# The bundle: --bundle/-b, else the current directory, as runc does.
bundle=.
next=0
for a in "$@"; do
  if [ "$next" = 1 ]; then bundle=$a; next=0; continue; fi
  case "$a" in
    --bundle|-b) next=1 ;;
    --bundle=*) bundle=${a#--bundle=} ;;
  esac
done

# Cheap filter: only a spec that mentions gpumem is worth a decision; the decision is exact.
grep -q -e 'gpumem\.io/' -e 'GPUMEM_' "$bundle/config.json" 2>/dev/null || exec "$LOWER" "$@"
rc=0
"$APP/bin/gpumem-create" "$SOCKET" "$@" || rc=$?
if [ "$rc" = 3 ]; then
  rc=0
  "$NODE" "$APP/dist/hook/gpumem-runtime.js" "$@" || rc=$?
fi
[ "$rc" = 0 ] || exit "$rc"
rc=0
"$LOWER" "$@" || rc=$?
# runc made no container: its prepared state would never be deleted (unless the id is a live
# container's, which runc refused for that reason).
if [ "$rc" != 0 ] && ! "$LOWER" ${root:+--root "$root"} state "$id" >/dev/null 2>&1; then
  rm -rf "$STATE/$id"
fi
exit "$rc"
