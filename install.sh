#!/bin/sh
# install.sh: install gpumem on this host (once per host, as root), start its agent and its
# Prometheus exporter, and register it with Docker.
#   sudo ./install.sh [--prefix DIR] [--default] [--daemon-json FILE] [--dockerd-pidfile FILE]
#                     [--exporter-listen HOST:PORT | --no-exporter]
#   sudo ./install.sh --uninstall [--prefix DIR] [--dockerd-pidfile FILE]
#   ./install.sh --dry-run | --print-containerd
set -eu

PREFIX=/usr/local
DAEMON_JSON=/etc/docker/daemon.json
PIDFILE=/var/run/docker.pid
DEFAULT=0
UNINSTALL=0
DRY_RUN=0
PRINT_CONTAINERD=0
CONTAINERS_CONF_D=/etc/containers/containers.conf.d
EXPORTER=1
EXPORTER_LISTEN=127.0.0.1:9400

usage() {
  cat <<USAGE
Usage: sudo ./install.sh [OPTIONS]

Builds gpumem, installs it under PREFIX/lib/gpumem (commands in PREFIX/bin), starts the gpumem
agent and its Prometheus exporter (systemd services where systemd runs, else background
processes) and registers the Docker runtime "gpumem" in daemon.json (merged: other keys kept, a
backup written, atomic).

Options:
  --prefix DIR            install under DIR (default /usr/local)
  --default               also make gpumem dockerd's default runtime
  --daemon-json FILE      daemon.json to edit (default /etc/docker/daemon.json)
  --dockerd-pidfile FILE  dockerd to reload with SIGHUP (default /var/run/docker.pid)
  --uninstall             reverse everything: daemon.json back as it was, files removed
  --dry-run               check and build, print the daemon.json change as a unified diff, change nothing
  --print-containerd      print the containerd runtime handler and the Kubernetes RuntimeClass, change nothing
  --containers-conf-d DIR where podman's runtime entry goes when podman is present
                          (default /etc/containers/containers.conf.d)
  --exporter-listen ADDR  where gpumem exporter serves /metrics (default 127.0.0.1:9400)
  --no-exporter           do not install or start the exporter
  -h, --help              show this help
USAGE
}

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#*=} ;;
    --daemon-json) [ $# -ge 2 ] || die "--daemon-json needs a file"; DAEMON_JSON=$2; shift ;;
    --daemon-json=*) DAEMON_JSON=${1#*=} ;;
    --dockerd-pidfile) [ $# -ge 2 ] || die "--dockerd-pidfile needs a file"; PIDFILE=$2; shift ;;
    --dockerd-pidfile=*) PIDFILE=${1#*=} ;;
    --default) DEFAULT=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --print-containerd) PRINT_CONTAINERD=1 ;;
    --containers-conf-d) [ $# -ge 2 ] || die "--containers-conf-d needs a directory"; CONTAINERS_CONF_D=$2; shift ;;
    --containers-conf-d=*) CONTAINERS_CONF_D=${1#*=} ;;
    --exporter-listen) [ $# -ge 2 ] || die "--exporter-listen needs HOST:PORT"; EXPORTER_LISTEN=$2; shift ;;
    --exporter-listen=*) EXPORTER_LISTEN=${1#*=} ;;
    --no-exporter) EXPORTER=0 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1'; see ./install.sh --help" ;;
  esac
  shift
done

case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
PREFIX=${PREFIX%/}
APP=$PREFIX/lib/gpumem
RECORD=$APP/install-record.json
SRC=$(cd "$(dirname "$0")" && pwd)
PODMAN_CONF=$CONTAINERS_CONF_D/gpumem.conf

if [ "$PRINT_CONTAINERD" = 1 ]; then
  cat <<CONTAINERD
# containerd (1.6/1.7) with the CRI plugin: /etc/containerd/config.toml, then restart containerd.
# pod_annotations / container_annotations: containerd passes only the annotations these name.
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.gpumem]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["gpumem.io/*"]
  container_annotations = ["gpumem.io/*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.gpumem.options]
    BinaryName = "$PREFIX/bin/gpumem-runtime"

# Kubernetes: a RuntimeClass for that handler (kubectl apply -f -), then in a pod spec
#   runtimeClassName: gpumem   and   metadata.annotations: {gpumem.io/limit: "8g"}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gpumem
handler: gpumem

# containerd without Kubernetes: ctr run --runc-binary $PREFIX/bin/gpumem-runtime --annotation gpumem.io/limit=8g IMAGE ID
CONTAINERD
  exit 0
fi

STEP=0
step() { STEP=$((STEP + 1)); printf '[%d/%d] %s\n' "$STEP" "$STEPS" "$*"; }

# reload_dockerd GO-TEMPLATE GREP-ARGS...: SIGHUP dockerd, then wait until `docker info` shows the change
# (dockerd reloads asynchronously, and the next docker run must see it).
reload_dockerd() {
  template=$1
  shift
  pid=
  [ -s "$PIDFILE" ] && pid=$(cat "$PIDFILE")
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "      dockerd is not running (no live pid in $PIDFILE); it reads daemon.json when it starts"
    return 0
  fi
  kill -HUP "$pid"
  echo "      reloaded dockerd (pid $pid)"
  command -v docker >/dev/null 2>&1 || return 0
  i=0
  while [ $i -lt 50 ]; do
    docker info --format "$template" 2>/dev/null | grep -q "$@" && return 0
    sleep 0.2
    i=$((i + 1))
  done
  echo "      warning: dockerd did not confirm the reload; check 'docker info' and its log" >&2
}

UNIT=/etc/systemd/system/gpumem-agent.service
has_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# The pid of the running agent (any install's: its command line says so), or nothing; with an
# argument, only an agent installed under that directory.
running_agent() { # [APP]
  p=
  [ -s "$AGENT_PID" ] && p=$(cat "$AGENT_PID" 2>/dev/null)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
  case "$cmd" in *"${1:-}"*"gpumem.js agent"*) echo "$p" ;; esac
}
our_agent() { running_agent "$APP/"; }

stop_pid() {
  kill "$1" 2>/dev/null || return 0
  i=0
  while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

# remove_unit FILE: stops, disables and removes this install's systemd unit FILE; false when
# there is none (no systemd, no such file, or another install's).
remove_unit() {
  has_systemd && [ -f "$1" ] && grep -q "$APP/" "$1" || return 1
  svc=$(basename "$1")
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
  rm -f "$1"
  systemctl daemon-reload
  echo "      stopped and removed the ${svc%.service} service"
}

stop_agent() {
  remove_unit "$UNIT" && return 0
  p=$(our_agent)
  [ -n "$p" ] || { echo "      no agent of this install running"; return 0; }
  stop_pid "$p"
  echo "      stopped the agent (pid $p)"
}

start_agent() {
  mkdir -p "$STATE_ROOT"
  chmod 755 "$STATE_ROOT"
  if has_systemd; then
    cat >"$UNIT" <<UNITFILE
[Unit]
Description=gpumem agent: decides GPU memory budgets for the gpumem container runtime
Documentation=file://$APP/README.md
Before=docker.service containerd.service

[Service]
ExecStart=$APP/bin/gpumem agent
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
UNITFILE
    systemctl daemon-reload
    systemctl enable gpumem-agent.service >/dev/null 2>&1
    systemctl restart gpumem-agent.service
  else
    # No systemd: a background process (the shim decides in-process while none runs).
    # The running agent, this install's earlier one or another install's: this one takes over.
    old=$(running_agent)
    [ -z "$old" ] || stop_pid "$old"
    rm -f "$AGENT_SOCKET"
    setsid "$APP/bin/gpumem" agent </dev/null >>/var/log/gpumem-agent.log 2>&1 &
  fi
  i=0
  while [ ! -S "$AGENT_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -S "$AGENT_SOCKET" ] || die "the gpumem agent did not start; see /var/log/gpumem-agent.log (or journalctl -u gpumem-agent)"
  echo "      agent listening on $AGENT_SOCKET (pid $(cat "$AGENT_PID" 2>/dev/null))"
}

EXPORTER_UNIT=/etc/systemd/system/gpumem-exporter.service

# The pids of this install's exporters running without systemd, by their command line (a pid
# file alone can be overwritten by another install's exporter that failed to start).
our_exporters() {
  for d in /proc/[0-9]*; do
    case "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" in *"$APP/"*"gpumem.js exporter"*) echo "${d#/proc/}" ;; esac
  done
}

stop_exporter() {
  remove_unit "$EXPORTER_UNIT" && return 0
  ps=$(our_exporters)
  [ -n "$ps" ] || { echo "      no exporter of this install running"; return 0; }
  for p in $ps; do stop_pid "$p"; echo "      stopped the exporter (pid $p)"; done
  # the pid file is left when it names another install's exporter still running
  [ -s "$EXPORTER_PID" ] && kill -0 "$(cat "$EXPORTER_PID")" 2>/dev/null || rm -f "$EXPORTER_PID"
}

# Metrics are for watching: an exporter that cannot start (its port taken) is a warning with its
# fix, not a failed install.
start_exporter() {
  if has_systemd; then
    sed -e "s|@APP@|$APP|g" -e "s|^ExecStart=\(.*\) exporter\$|ExecStart=\1 exporter --listen $EXPORTER_LISTEN|" \
      "$APP/share/gpumem-exporter.service" >"$EXPORTER_UNIT"
    systemctl daemon-reload
    systemctl enable gpumem-exporter.service >/dev/null 2>&1
    systemctl restart gpumem-exporter.service
  else
    for old in $(our_exporters); do stop_pid "$old"; done
    setsid "$APP/bin/gpumem" exporter --listen "$EXPORTER_LISTEN" </dev/null >>/var/log/gpumem-exporter.log 2>&1 &
    started=$!
  fi
  i=0
  while [ $i -lt 100 ]; do
    # without systemd: ours answers only while it runs (another install's may hold the port)
    if { [ -z "${started:-}" ] || kill -0 "$started" 2>/dev/null; } &&
      "$NODE" -e "require('http').get('http://$EXPORTER_LISTEN/metrics', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))" 2>/dev/null; then
      [ -z "${started:-}" ] || echo "$started" >"$EXPORTER_PID"
      echo "      exporter serving http://$EXPORTER_LISTEN/metrics"
      return 0
    fi
    [ -z "${started:-}" ] || kill -0 "$started" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  echo "      warning: gpumem exporter does not answer on $EXPORTER_LISTEN: $(tail -n 1 /var/log/gpumem-exporter.log 2>/dev/null || journalctl -u gpumem-exporter -n 1 2>/dev/null) (another --exporter-listen, or --no-exporter)" >&2
}

# The layout as the C side defines it (native/src/common/layout.h), read through the built code.
layout() { # DIST_DIR
  "$NODE" --input-type=module -e "import { stateRoot, agentSocket, agentPidfile, containerPaths } from '$1/lib/layout.js'; console.log([stateRoot(), agentSocket(), agentPidfile(), containerPaths().interposer].join(' '))"
}

if [ "$UNINSTALL" = 1 ]; then
  [ -d "$APP" ] || die "gpumem is not installed under $PREFIX (no $APP)"
  NODE=$(sed -n "s/^exec '\([^']*\)' .*/\1/p" "$APP/bin/gpumem")
  set -- $(layout "$APP/dist")
  STATE_ROOT=$1 AGENT_SOCKET=$2 AGENT_PID=$3 EXPORTER_PID=$1/exporter.pid
  STEPS=6
  step "unregistering the runtime from daemon.json"
  if [ -f "$RECORD" ]; then
    # dockerd keeps keys a reload does not name: hand the default back first, then restore the file.
    if [ "$("$APP/bin/gpumem" daemon-json release-default --record "$RECORD")" = changed ]; then
      reload_dockerd '{{.DefaultRuntime}}' -v '^gpumem$'
    fi
    "$APP/bin/gpumem" daemon-json unregister --record "$RECORD"
  else
    echo "      no install record; daemon.json left as it is"
  fi
  step "reloading dockerd"
  reload_dockerd '{{json .Runtimes}}' -v '"gpumem"'
  step "stopping the agent"
  stop_agent
  step "stopping the exporter"
  stop_exporter
  step "podman"
  if [ -f "$PODMAN_CONF" ] && grep -q "\"$PREFIX/bin/gpumem-runtime\"" "$PODMAN_CONF"; then
    rm -f "$PODMAN_CONF"
    echo "      removed $PODMAN_CONF"
  else
    echo "      no podman entry of this install"
  fi
  step "removing $APP"
  for b in gpumem gpumem-runtime gpumem-hook; do
    [ -L "$PREFIX/bin/$b" ] && rm -f "$PREFIX/bin/$b"
  done
  rm -rf "$APP"
  echo "gpumem uninstalled"
  exit 0
fi

STEPS=9
[ "$DRY_RUN" = 1 ] && STEPS=4
step "checking tools"
NODE=$(command -v node) || die "node (>= 20) is required; install Node.js 20 or later"
"$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node >= 20 is required; $NODE is $("$NODE" --version)"
command -v npm >/dev/null || die "npm is required (it comes with Node.js)"
command -v make >/dev/null || die "make is required (apt-get install make)"
command -v cc >/dev/null || die "a C compiler is required (apt-get install gcc)"
RUNC=$(command -v runc) || die "runc is required as the lower runtime (apt-get install runc)"
echo "      node $("$NODE" --version), $(cc --version | head -n 1), runc $("$RUNC" --version | sed -n 's/^runc version //p')"
# What the host has, and what it means for gpumem (warnings: gpumem installs either way).
if command -v docker >/dev/null 2>&1; then
  engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null || true)
  case "$engine" in
    '') echo "      Docker: client found, engine not answering (gpumem registers in $DAEMON_JSON for its next start)" ;;
    1[0-9].*|2[0-3].*) echo "      warning: Docker Engine $engine cannot pass --annotation (needs >= 24, API 1.43): use -e GPUMEM_LIMIT=8g there, or upgrade Docker" >&2 ;;
    *) echo "      Docker Engine $engine" ;;
  esac
else
  echo "      Docker: not found (gpumem registers in $DAEMON_JSON for when it is installed; podman works too)"
fi
driver=$(sed -n 's/.*Kernel Module  *\([0-9][0-9.]*\).*/\1/p' /proc/driver/nvidia/version 2>/dev/null | head -n 1)
if ! { ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1'; } && [ -z "$driver" ]; then
  echo "      warning: no NVIDIA driver (no libnvidia-ml.so.1): GPUs can then be told only by index; percent limits are refused and admission is not checked (install the NVIDIA driver)" >&2
else
  major=${driver%%.*}
  case "$major" in
    '') echo "      NVIDIA: libnvidia-ml.so.1 found, driver version unknown" ;;
    *) if [ "$major" -lt 565 ]; then
         echo "      warning: NVIDIA driver $driver: before 565 NVML gives no per-process memory inside containers, so memory the driver takes on its own is not charged (upgrade to >= 565)" >&2
       elif [ "$major" -lt 615 ]; then
         echo "      NVIDIA driver $driver: budgets enforced by gpumem (the kernel's own per-cgroup limit needs >= 615)"
       else
         echo "      NVIDIA driver $driver: budgets enforced by gpumem, the kernel's per-cgroup limit set as a backstop"
       fi ;;
  esac
fi

step "installing npm packages"
cd "$SRC"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

step "building"
npm run --silent build

if [ "$DRY_RUN" = 1 ]; then
  step "what install.sh would change (dry run: nothing is changed)"
  proposed=$(mktemp)
  trap 'rm -f "$proposed"' EXIT
  "$NODE" dist/hook/gpumem.js daemon-json preview --file "$DAEMON_JSON" --runtime-path "$PREFIX/bin/gpumem-runtime" \
    --record "$RECORD" $([ "$DEFAULT" = 1 ] && echo --default) >"$proposed"
  current=$DAEMON_JSON
  [ -f "$current" ] || current=/dev/null
  if diff -u --label "$DAEMON_JSON" --label "$DAEMON_JSON (with gpumem)" "$current" "$proposed"; then
    echo "$DAEMON_JSON already registers gpumem as it would be: no change"
  fi
  echo "would install gpumem under $APP (commands in $PREFIX/bin), start the gpumem agent$(has_systemd && echo ' (systemd unit gpumem-agent.service)'),"
  [ "$EXPORTER" = 1 ] && echo "start gpumem exporter on http://$EXPORTER_LISTEN/metrics$(has_systemd && echo ' (systemd unit gpumem-exporter.service)'),"
  echo "reload dockerd (pid file $PIDFILE)$(command -v podman >/dev/null 2>&1 && echo ", and write podman's runtime entry $PODMAN_CONF")"
  echo "dry run: nothing was changed"
  exit 0
fi

step "staging $APP"
STAGE=$APP.new.$$
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/etc" "$STAGE/share" "$STAGE/native/build/interposer" "$PREFIX/bin"
cp package.json package-lock.json "$STAGE/"
cp -R dist "$STAGE/dist"
cp share/gpumem-exporter.service "$STAGE/share/"
cp native/build/libgpumem.so native/build/libgpumem-host.so "$STAGE/native/build/"
cp native/build/interposer/libgpumem.so "$STAGE/native/build/interposer/" # mounted into containers
cp -R node_modules "$STAGE/node_modules"
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
[ -f "$RECORD" ] && cp "$RECORD" "$STAGE/install-record.json"
printf '#!/bin/sh\nexec %s %s/dist/hook/gpumem.js "$@"\n' "'$NODE'" "'$APP'" >"$STAGE/bin/gpumem"
cp native/build/gpumem-runtime native/build/gpumem-create "$STAGE/bin/"
set -- $(layout "$STAGE/dist")
STATE_ROOT=$1 AGENT_SOCKET=$2 AGENT_PID=$3 EXPORTER_PID=$1/exporter.pid
echo "$4" >"$STAGE/share/ld.so.preload" # where the interposer is mounted inside a container

step "registering the runtime in $DAEMON_JSON"
mkdir -p "$(dirname "$DAEMON_JSON")"
LOWER=$("$NODE" "$STAGE/dist/hook/gpumem.js" daemon-json register --file "$DAEMON_JSON" \
  --runtime-path "$PREFIX/bin/gpumem-runtime" --record "$STAGE/install-record.json" \
  $([ "$DEFAULT" = 1 ] && echo --default))
[ -n "$LOWER" ] || LOWER=$RUNC
# The C shim's settings (native/src/shim/runtime_shim.c reads them beside itself).
printf 'lower %s\nnode %s\napp %s\nstate %s\n' "$LOWER" "$NODE" "$APP" "$STATE_ROOT" >"$STAGE/etc/gpumem-runtime.conf"
chmod 755 "$STAGE"/bin/*
rm -rf "$APP.old"
[ -d "$APP" ] && mv "$APP" "$APP.old"
mv "$STAGE" "$APP"
trap - EXIT
rm -rf "$APP.old"
[ -L "$PREFIX/bin/gpumem-hook" ] && rm -f "$PREFIX/bin/gpumem-hook" # earlier installs' prestart/poststop hook
for b in gpumem gpumem-runtime; do ln -sf "$APP/bin/$b" "$PREFIX/bin/$b"; done
echo "      runtime gpumem -> $PREFIX/bin/gpumem-runtime (lower runtime $LOWER)"

step "starting the agent"
start_agent

step "starting the exporter"
if [ "$EXPORTER" = 1 ]; then
  start_exporter
else
  stop_exporter # an earlier install's, started with other options
  echo "      --no-exporter: no metrics served"
fi

step "podman"
if command -v podman >/dev/null 2>&1; then
  mkdir -p "$CONTAINERS_CONF_D"
  printf '# written by gpumem install.sh: podman run --runtime gpumem ...\n[engine.runtimes]\ngpumem = ["%s"]\n' "$PREFIX/bin/gpumem-runtime" >"$PODMAN_CONF.tmp"
  mv "$PODMAN_CONF.tmp" "$PODMAN_CONF"
  echo "      podman runtime gpumem -> $PODMAN_CONF"
else
  echo "      podman not found: nothing to do"
fi

step "reloading dockerd"
reload_dockerd '{{json .Runtimes}}' '"gpumem"'
echo "gpumem installed. Try: docker run --runtime gpumem --annotation gpumem.io/limit=8g ..."
