#!/usr/bin/env bash
# Builds one fuzz target and runs it over the committed corpus for N executions or N seconds,
# printing libFuzzer's progress and, at the end, the executions, time and coverage it reached.
#   native/fuzz/run.sh <size|limit|config|accounting> <N | Ns> [libFuzzer flags...]
#   e.g. native/fuzz/run.sh config 10000000      native/fuzz/run.sh limit 15s -seed=1
# New inputs go to native/build/fuzz/work/<target> (the committed corpus is only read), libFuzzer's
# whole output to native/build/fuzz/logs/; a crash or broken property is saved under
# native/build/fuzz/findings/<target>/ and the script exits non-zero.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${1:-}
amount=${2:-}
case "$target" in size | limit | config | accounting) ;; *)
  echo "usage: $0 <size|limit|config|accounting> <N | Ns> [libFuzzer flags...]" >&2
  exit 2
  ;;
esac
[[ "$amount" =~ ^[0-9]+s?$ ]] || { echo "$0: '$amount' is not a count (10000000) or seconds (15s)" >&2; exit 2; }
shift 2
if [[ "$amount" == *s ]]; then bound=(-max_total_time="${amount%s}"); else bound=(-runs="$amount"); fi

command -v clang >/dev/null || { echo "$0: clang is not installed (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 3; }
make -s -C "$here" "../build/fuzz/fuzz-$target"

build=$(cd "$here/.." && pwd)/build/fuzz
work=$build/work/$target
findings=$build/findings/$target
mkdir -p "$work" "$findings" "$build/logs"
log=$build/logs/$target-$(date -u +%Y%m%dT%H%M%S)-$$.log # one per run: two runs may overlap
# Past 9000 bytes the config reader refuses by size alone; the others gain nothing from long inputs.
case "$target" in config) max_len=9000 ;; accounting) max_len=4096 ;; *) max_len=256 ;; esac

echo "fuzz $target: ${bound[*]}, corpus $here/corpus/$target, log $log"
start=$(date +%s)
set +e
# -jobs/-workers left out: one process, one core. -timeout: an input taking 10 s is a hang.
"$build/fuzz-$target" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$findings/" "${bound[@]}" "$@" "$work" "$here/corpus/$target" 2>&1 |
  tee "$log" | grep --line-buffered -E '^INFO: Seed|INITED|pulse|DONE|ERROR|SUMMARY|property broken|Test unit written|^stat::'
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
echo "fuzz $target: ${execs:-?} executions in ${secs} s, ${cov:-no coverage line}, exit $rc"
if [ "$rc" != 0 ]; then
  echo "fuzz $target: FAILED; inputs saved:" >&2
  ls -1 "$findings" >&2 || true
fi
exit "$rc"
