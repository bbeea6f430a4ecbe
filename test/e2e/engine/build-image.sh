#!/usr/bin/env bash
# Builds the end-to-end test image `gpumem-test` with `docker import` (no registry is reachable):
#   busybox-static (with its applets), the glibc loader and every library the test programs,
#   the fake driver and the interposer need (found with ldd), the fake `libcuda.so.1` in
#   /usr/lib/x86_64-linux-gnu/, and the test programs in /usr/local/bin/.
# The image carries a label with a hash of all its inputs and is rebuilt only when they change.
# Needs DOCKER_HOST pointing at the engine (engine.sh sets up /run/gpumem-test/docker.sock).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BUILD=${GPUMEM_NATIVE_BUILD:-$ROOT/native/build}
IMAGE=${GPUMEM_TEST_IMAGE:-gpumem-test}
WORK=${GPUMEM_IMAGE_WORK:-$ROOT/.cache/e2e/image}
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/gpumem-test/docker.sock}

say() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "busybox not found: run sudo test/e2e/engine/install-engine.sh"
file_out=$(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true)
if ! grep -qiE 'not a dynamic|statically linked' <<<"$file_out"; then
  die "$BUSYBOX is not static (install busybox-static)"
fi

# allocators, the storm of the faults test, and what a container can do to its own region
PROGRAMS=("$BUILD/tests/alloc-until-oom" "$BUILD/tests/alloc-until-oom-linked" "$BUILD/tests/storm"
          "$BUILD/tests/kill-storm" "$BUILD/tests/region-scribble")
# a dynamically linked cat (busybox's is static: nothing can be preloaded into it), for gpumem doctor --probe
GNU_CAT=/bin/cat
FAKE_CUDA=$BUILD/fake/libcuda.so.1
INTERPOSER=$BUILD/libgpumem.so
for f in "${PROGRAMS[@]}" "$FAKE_CUDA" "$INTERPOSER"; do
  [ -f "$f" ] || die "missing $f (run npm run build first)"
done

# Every shared library these objects load, found by ldd (the loader included). libcuda.so.1
# resolves to the fake when LD_LIBRARY_PATH names its directory, which is what we want ldd to see.
deps() {
  LD_LIBRARY_PATH="$BUILD/fake" ldd "$@" 2>/dev/null | awk '
    $1 ~ /:$/ { next }  # the "file:" header ldd prints for each of several files
    /=>/ { if ($3 ~ /^\//) print $3; next }
    $1 ~ /^\// { print $1 }' | grep -v "^$BUILD/" | sort -u
}
mapfile -t LIBS < <(deps "${PROGRAMS[@]}" "$GNU_CAT" "$FAKE_CUDA" "$INTERPOSER")
# libraries glibc loads by name at run time (not seen by ldd), present on Debian 12 as separate
# compatibility stubs: copy them when they exist so dlopen("libdl.so.2") etc. work too.
for extra in /lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libpthread.so.0 \
             /lib/x86_64-linux-gnu/librt.so.1 /lib/x86_64-linux-gnu/libm.so.6; do
  [ -e "$extra" ] && LIBS+=("$extra")
done
mapfile -t LIBS < <(printf '%s\n' "${LIBS[@]}" | sort -u)

SELF=$(cat "${BASH_SOURCE[0]}")
HASH=$( { printf '%s\n' "$SELF"; sha256sum "$BUSYBOX" "${PROGRAMS[@]}" "$GNU_CAT" "$FAKE_CUDA" \
          $(printf '%s\n' "${LIBS[@]}" | xargs -r readlink -f) | awk '{print $1}'; } | sha256sum | cut -c1-32)

current=$(docker image inspect -f '{{ index .Config.Labels "io.gpumem.test.inputs" }}' "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$HASH" ]; then
  say "$IMAGE is up to date ($HASH)"
  exit 0
fi

say "assembling rootfs for $IMAGE (inputs $HASH)"
RFS=$WORK/rootfs
rm -rf "$RFS"
mkdir -p "$RFS"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,usr/local/bin,etc,tmp,proc,sys,dev,root,run}
chmod 1777 "$RFS/tmp"
# merged-/usr layout, as Debian 12
ln -s usr/bin "$RFS/bin"; ln -s usr/sbin "$RFS/sbin"; ln -s usr/lib "$RFS/lib"; ln -s usr/lib64 "$RFS/lib64"

cp "$BUSYBOX" "$RFS/usr/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ -e "$RFS/usr/bin/$applet" ] || ln -s busybox "$RFS/usr/bin/$applet"
done

for lib in "${LIBS[@]}"; do
  dest="$RFS$lib"
  mkdir -p "$(dirname "$dest")"
  cp -L "$lib" "$dest"
done
cp -L "$FAKE_CUDA" "$RFS/usr/lib/x86_64-linux-gnu/libcuda.so.1"
ln -sf libcuda.so.1 "$RFS/usr/lib/x86_64-linux-gnu/libcuda.so"
for p in "${PROGRAMS[@]}"; do cp -L "$p" "$RFS/usr/local/bin/"; done
cp -L "$GNU_CAT" "$RFS/usr/local/bin/gnu-cat"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$RFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$RFS/etc/group"
printf '/usr/local/lib\n/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n' >"$RFS/etc/ld.so.conf"
if command -v ldconfig >/dev/null || [ -x /sbin/ldconfig ]; then
  "$(command -v ldconfig || echo /sbin/ldconfig)" -r "$RFS" 2>/dev/null || say "ldconfig -r failed (the loader's default paths still apply)"
fi

say "docker import -> $IMAGE"
tar --numeric-owner --owner=0 --group=0 -C "$RFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL io.gpumem.test.inputs=$HASH" \
  --change 'CMD ["/bin/sh"]' \
  - "$IMAGE:latest" >/dev/null
say "built $IMAGE ($(printf '%s\n' "${LIBS[@]}" | wc -l) libraries)"
