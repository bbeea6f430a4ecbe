#!/bin/sh
# gpumem-runtime: the OCI runtime docker runs (registered in daemon.json). It hands every call to
# the lower runtime untouched, except `create` of a container asking for a GPU memory limit, whose
# bundle it prepares first (in Node). Plain sh, so that everything else costs one exec, not a Node start.
# install.sh fills in the three paths below.
NODE='@NODE@'
APP='@APP@'
LOWER='@LOWER@'

# Find the subcommand behind runc's global flags (those with a value take the next word).
skip=0
sub=
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --root|--log|--log-format|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) sub=$a; break ;;
  esac
done
[ "$sub" = create ] || exec "$LOWER" "$@"

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

# Cheap filter: only a spec that mentions a limit is worth starting Node for; Node decides exactly.
if grep -q -e 'gpumem\.io/' -e 'GPUMEM_' "$bundle/config.json" 2>/dev/null; then
  "$NODE" "$APP/dist/hook/gpumem-runtime.js" "$@" || exit $?
fi
exec "$LOWER" "$@"
