#!/bin/bash
# What a GPU machine without Node, npm or Docker needs for the container path and the benchmarks,
# packed on the build machine and unpacked there (the device tool carries ignored paths).
#
#   bash test/gpu/carry.sh pack      here (root): installs gpumem under /tmp/gpumem-prefix, packs
#                                    it, Node, runc (+ libseccomp) and the bench's yargs into .carry/
#   bash test/gpu/carry.sh unpack    there: puts them back (node at /tmp/n/node, named in the
#                                    prefix's settings) and starts the agent; then: GPUMEM_PREFIX=/tmp/gpumem-prefix
#
# .carry/ must be ignored (echo /.carry/ >> .git/info/exclude) and named in the run's carry list
# together with native/build and dist.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=/tmp/gpumem-prefix
case "${1:-}" in
pack)
  grep -qx '/.carry/' .git/info/exclude 2>/dev/null || echo /.carry/ >>.git/info/exclude
  mkdir -p .carry
  echo "[carry] installing gpumem under $prefix (daemon.json there, no dockerd touched)"
  rm -rf "$prefix" && mkdir -p "$prefix"
  ./install.sh --prefix "$prefix" --daemon-json "$prefix/daemon.json" --dockerd-pidfile "$prefix/none.pid" --containers-conf-d "$prefix/containers.conf.d" --no-exporter >/dev/null
  # install.sh started its agent here: not this machine's to keep
  [ -s /run/gpumem/agent.pid ] && kill "$(cat /run/gpumem/agent.pid)" 2>/dev/null || true
  tar czf .carry/prefix.tgz -C / "${prefix#/}"
  echo "[carry] node $(node --version)"
  gzip -1 -c "$(command -v node)" >.carry/node.gz
  echo "[carry] runc and libseccomp"
  tar czhf .carry/runc.tgz -C / usr/sbin/runc lib/x86_64-linux-gnu/libseccomp.so.2
  # the bench's one dependency outside dist/ (yargs and what it needs)
  tar czf .carry/nm.tgz node_modules/{yargs,yargs-parser,cliui,escalade,get-caller-file,string-width,y18n,strip-ansi,wrap-ansi,ansi-regex,ansi-styles,emoji-regex,get-east-asian-width}
  du -ch .carry/* | tail -1
  ;;
unpack)
  mkdir -p /tmp/n
  gunzip -c .carry/node.gz >/tmp/n/node && chmod +x /tmp/n/node
  tar xzf .carry/prefix.tgz -C /
  sed -i "s#'/usr/bin/node'#'/tmp/n/node'#" "$prefix"/lib/gpumem/bin/gpumem
  sed -i "s#^node .*#node /tmp/n/node#" "$prefix"/lib/gpumem/etc/gpumem-runtime.conf
  command -v runc >/dev/null || tar xzf .carry/runc.tgz -C /
  tar xzf .carry/nm.tgz
  echo "[carry] node $(/tmp/n/node --version), runc $(runc --version | head -1), gpumem under $prefix"
  # the agent, as install.sh starts it (the container path then decides without a Node start)
  mkdir -p /run/gpumem
  setsid "$prefix/lib/gpumem/bin/gpumem" agent </dev/null >>/tmp/gpumem-agent.log 2>&1 &
  for _ in $(seq 1 50); do [ -S /run/gpumem/agent.sock ] && break; sleep 0.1; done
  echo "[carry] agent: $(cat /run/gpumem/agent.pid 2>/dev/null || echo 'not started, see /tmp/gpumem-agent.log')"
  ;;
*) echo "usage: bash test/gpu/carry.sh pack|unpack" >&2; exit 2 ;;
esac
