#!/usr/bin/env bash
# Installs what the end-to-end tests need to run a real Docker engine on Debian 12 (root):
#   - from Debian 12: runc, containerd, busybox-static, iptables (dockerd probes for it)
#   - from the next Debian release (trixie): docker.io (Engine 26.x) and docker-compose (2.26),
#     fetched with `apt-get download` against a private sources list whose mirror URI is read from
#     this machine's own apt configuration, and unpacked with `dpkg -x` into .cache/engine/
#     (Debian 12's own docker.io is Engine 20.10, which refuses `docker run --annotation`).
#   - links the compose plugin so `docker compose` works with the client in /usr/local/bin/docker.
# Idempotent: a second run only checks. See /work/shared/docs/ENGINE.md-style notes in
# test/e2e/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CACHE=${GPUMEM_ENGINE_CACHE:-$ROOT/.cache/engine}
ROOTFS=$CACHE/root            # dpkg -x target: $ROOTFS/usr/sbin/dockerd, ...
APTDIR=$CACHE/apt
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
SUITE=${GPUMEM_ENGINE_SUITE:-trixie}

say() { printf '[install-engine] %s\n' "$*"; }
die() { printf '[install-engine] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it uses apt-get and dpkg)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 only"

export DEBIAN_FRONTEND=noninteractive

# ---- 1. packages from the host's own release -------------------------------------------------
HOST_PKGS=(runc containerd busybox-static iptables podman)
missing=()
for p in "${HOST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # apt-get update once, only if the lists are missing or do not know the packages
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    say "apt-get update (host lists)"
    apt-get update -qq
  fi
  say "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "host packages present: ${HOST_PKGS[*]}"
fi

# ---- 2. docker.io + docker-compose from $SUITE, unpacked privately --------------------------
have_engine() {
  [ -x "$ROOTFS/usr/sbin/dockerd" ] && [ -x "$ROOTFS/usr/libexec/docker/cli-plugins/docker-compose" ]
}

mirror_uri() {
  # The mirror URI of the host's main Debian archive (not -security), from deb822 or one-line
  # sources. Printed on stdout; nothing is hard-coded here.
  local f uri
  f=/etc/apt/sources.list.d/debian.sources
  if [ -r "$f" ]; then
    # first stanza whose Suites has a plain release name (no -security) -> its URIs
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; s=""
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/,"",$i); u=$i }
          if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/,"",$i); s=$i }
        }
        if (u != "" && s !~ /security/) { split(u, a, /[ \t]+/); print a[1]; exit }
      }' "$f")
  fi
  if [ -z "${uri:-}" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "${uri:-}" ] || return 1
  printf '%s\n' "${uri%/}"
}

if have_engine; then
  say "engine present: $ROOTFS/usr/sbin/dockerd"
else
  uri=$(mirror_uri) || die "cannot find the Debian mirror URI in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  say "fetching docker.io and docker-compose from suite $SUITE of the host's mirror"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/debs" "$ROOTFS"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$uri" "$SUITE" >"$APTDIR/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "APT::Get::List-Cleanup=0"
  )
  say "apt-get update ($SUITE list, private Dir::State::Lists)"
  apt-get "${APT_OPTS[@]}" update -qq
  say "apt-get download docker.io docker-compose"
  (cd "$APTDIR/debs" && rm -f ./*.deb && apt-get "${APT_OPTS[@]}" download docker.io docker-compose)
  for deb in "$APTDIR"/debs/*.deb; do
    say "dpkg -x $(basename "$deb")"
    dpkg -x "$deb" "$ROOTFS"
  done
  have_engine || die "unpacked packages do not contain usr/sbin/dockerd and the compose plugin"
fi

# ---- 3. compose plugin for the client ---------------------------------------------------------
mkdir -p "$PLUGIN_DIR"
want="$ROOTFS/usr/libexec/docker/cli-plugins/docker-compose"
if [ "$(readlink "$PLUGIN_DIR/docker-compose" 2>/dev/null || true)" != "$want" ]; then
  if [ -e "$PLUGIN_DIR/docker-compose" ] && [ ! -L "$PLUGIN_DIR/docker-compose" ]; then
    say "keeping existing $PLUGIN_DIR/docker-compose (not a link of ours)"
  else
    ln -sfn "$want" "$PLUGIN_DIR/docker-compose"
    say "linked $PLUGIN_DIR/docker-compose -> $want"
  fi
fi

# ---- 4. check ----------------------------------------------------------------------------------
ver=$("$ROOTFS/usr/sbin/dockerd" --version 2>&1) || die "dockerd does not run: $ver"
say "$ver"
command -v docker >/dev/null || die "docker client not found in PATH"
cver=$(docker compose version 2>&1) || die "docker compose does not work: $cver"
say "$cver"
say "done"
