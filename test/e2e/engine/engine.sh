#!/usr/bin/env bash
# Private Docker engine for the end-to-end tests.
#   engine.sh start    stop any leftover engine of ours, reset daemon.json, start dockerd, wait for it
#   engine.sh stop     stop it (SIGTERM, then SIGKILL after a grace period)
#   engine.sh revive   start it again after a test killed it: daemon.json and containers kept
#   engine.sh status   exit 0 when it answers
#   engine.sh env      print DOCKER_HOST=... for `eval`
# Everything it owns is under $GPUMEM_TEST_RUN (default /run/gpumem-test) and
# $GPUMEM_TEST_DATA (default /var/lib/gpumem-test): it never touches a system dockerd,
# /etc/docker, or /var/run/docker.sock.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
ENGINE_ROOT=${GPUMEM_ENGINE_CACHE:-$ROOT/.cache/engine}/root
RUN=${GPUMEM_TEST_RUN:-/run/gpumem-test}
DATA=${GPUMEM_TEST_DATA:-/var/lib/gpumem-test}
SOCK=$RUN/docker.sock
PIDFILE=$RUN/docker.pid
DAEMON_JSON=$RUN/daemon.json
EXEC_ROOT=$RUN/exec
LOG=$RUN/dockerd.log
CDI_DIR=$RUN/cdi
# dockerd offers --gpus only when nvidia-container-runtime-hook is on its PATH: a stand-in that does
# nothing (the test image's GPU is the fake driver), so that --gpus gives the spec dockerd makes
# for it (NVIDIA_VISIBLE_DEVICES and the prestart hook).
FAKE_NVIDIA_BIN=$RUN/nvidia-bin
DOCKERD=$ENGINE_ROOT/usr/sbin/dockerd
export DOCKER_HOST=unix://$SOCK

say() { printf '[engine] %s\n' "$*"; }
die() { printf '[engine] error: %s\n' "$*" >&2; exit 1; }

# The daemon.json every run starts from. It already has content (a log level and an extra
# runtime) so that install.sh's merge and uninstall's byte-for-byte restore are really tested.
# CDI is on (as Docker >= 28 has it by default), reading specs from $RUN/cdi (gpus.test.ts writes one).
base_daemon_json() {
  cat <<EOF
{
  "log-level": "info",
  "features": {
    "cdi": true
  },
  "cdi-spec-dirs": [
    "$CDI_DIR"
  ],
  "runtimes": {
    "runc-plain": {
      "path": "/usr/sbin/runc"
    }
  }
}
EOF
}

answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# pids of dockerd processes started with our exec-root (a crashed run may have left one without
# a pid file); found by their own command line, ended one by one by pid.
our_dockerd_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    case "$cmd" in
      *dockerd*"--exec-root $EXEC_ROOT "*) printf '%s\n' "${p#/proc/}" ;;
    esac
  done
}

stop_pid() { # pid
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  say "dockerd $pid did not stop in 30 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

stop() {
  local pids=() pid
  if [ -s "$PIDFILE" ]; then pids+=("$(cat "$PIDFILE")"); fi
  while read -r pid; do [ -n "$pid" ] && pids+=("$pid"); done < <(our_dockerd_pids)
  if [ ${#pids[@]} -eq 0 ]; then say "no engine running"; return 0; fi
  for pid in $(printf '%s\n' "${pids[@]}" | sort -u); do
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping dockerd (pid $pid)"
      stop_pid "$pid"
    fi
  done
  rm -f "$PIDFILE"
}

preflight() {
  [ "$(id -u)" = 0 ] || die "not root: the engine needs root"
  [ -x "$DOCKERD" ] || die "engine not installed ($DOCKERD missing): run sudo test/e2e/engine/install-engine.sh"
  command -v docker >/dev/null || die "docker client not found in PATH"
  for b in containerd containerd-shim-runc-v2 runc; do
    command -v "$b" >/dev/null || die "$b not found in PATH: run sudo test/e2e/engine/install-engine.sh"
  done
}

# dockerd on the current daemon.json, waited for until it answers.
launch() {
  mkdir -p "$RUN" "$DATA" "$EXEC_ROOT" "$CDI_DIR" "$FAKE_NVIDIA_BIN"
  printf '#!/bin/sh\n# stand-in for NVIDIA'"'"'s hook (test/e2e/engine/engine.sh): reads the OCI state, does nothing\ncat >/dev/null\nexit 0\n' >"$FAKE_NVIDIA_BIN/nvidia-container-runtime-hook"
  chmod 755 "$FAKE_NVIDIA_BIN/nvidia-container-runtime-hook"
  rm -f "$SOCK"
  say "starting dockerd $("$DOCKERD" --version | sed 's/^Docker version //') (log: $LOG)"
  # --iptables=false, --bridge=none: test containers need no network and the host's firewall is
  # left alone; --userland-proxy=false: no published ports either.
  # docker-init and docker-proxy come with the engine package
  PATH="$ENGINE_ROOT/usr/bin:$ENGINE_ROOT/usr/sbin:$FAKE_NVIDIA_BIN:$PATH" setsid "$DOCKERD" \
    --data-root "$DATA/docker" \
    --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" \
    -H "unix://$SOCK" \
    --config-file "$DAEMON_JSON" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --bridge=none --userland-proxy=false \
    </dev/null >>"$LOG" 2>&1 &
  local pid=$! i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG" >&2 || true
      die "dockerd exited during start (log: $LOG)"
    fi
    if [ -S "$SOCK" ] && answers; then break; fi
    sleep 0.2
  done
  answers || { tail -n 30 "$LOG" >&2; stop_pid "$pid"; die "dockerd did not answer in 60 s (log: $LOG)"; }
  # dockerd writes its pid file itself; make sure it names the process we started
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null || echo "$pid" >"$PIDFILE"
}

start() {
  preflight
  # a leftover engine from a crashed or interrupted run: stop it first
  if [ -s "$PIDFILE" ] || [ -n "$(our_dockerd_pids)" ]; then
    say "found a leftover engine from an earlier run"
    stop
  fi
  mkdir -p "$RUN"
  base_daemon_json >"$DAEMON_JSON"
  : >"$LOG"
  launch
  # containers left by an interrupted run (the engine is private: every container is ours)
  local stale
  stale=$(docker ps -aq)
  if [ -n "$stale" ]; then
    say "removing $(echo "$stale" | wc -l) leftover container(s)"
    # shellcheck disable=SC2086
    docker rm -f $stale >/dev/null 2>&1 || true
  fi
  docker network prune -f >/dev/null 2>&1 || true
  say "dockerd ready (pid $(cat "$PIDFILE")), DOCKER_HOST=$DOCKER_HOST"
}

# After a test killed dockerd: the same engine again, as an init system would restart it.
revive() {
  preflight
  [ -z "$(our_dockerd_pids)" ] || die "dockerd is still running: revive is for an engine that was killed"
  launch
  say "dockerd revived (pid $(cat "$PIDFILE"))"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  revive) revive ;;
  status) answers ;;
  env) printf 'DOCKER_HOST=%s\n' "$DOCKER_HOST" ;;
  *) echo "usage: $0 start|stop|revive|status|env" >&2; exit 2 ;;
esac
