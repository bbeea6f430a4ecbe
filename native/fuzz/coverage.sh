#!/usr/bin/env bash
# Line and branch coverage of the format readers reached by a corpus: builds each target with
# clang's source coverage (no sanitizers), replays the corpus once, and prints llvm-cov's report
# for the files under test.   native/fuzz/coverage.sh [corpus-root]   (default: the committed one;
# native/build/fuzz/work after a run.sh adds what that run found)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${1:-$here/corpus}
out=$(cd "$here/.." && pwd)/build/fuzz/coverage
mkdir -p "$out"
fmt=$here/../src/format
flags=(-g -O0 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping)
declare -A src=(
  [size]="$fmt/size.c"
  [limit]="$fmt/size.c $fmt/limit.c"
  [config]="$fmt/config.c"
  [accounting]="$fmt/accounting.c $fmt/accounting_reader.c"
)
objects=()
for t in size limit config accounting; do
  extra=()
  [ "$t" = accounting ] && extra=(-lpthread)
  # shellcheck disable=SC2086 # the source lists are meant to split
  clang "${flags[@]}" -o "$out/cov-$t" "$here/fuzz_$t.c" ${src[$t]} "${extra[@]}"
  dirs=("$root/$t")
  [ -d "$here/corpus/$t" ] && [ "$root" != "$here/corpus" ] && dirs+=("$here/corpus/$t")
  LLVM_PROFILE_FILE="$out/$t.profraw" "$out/cov-$t" -runs=0 "${dirs[@]}" >/dev/null 2>&1
  llvm-profdata merge -sparse -o "$out/$t.profdata" "$out/$t.profraw"
  objects+=("$t")
done
llvm-profdata merge -sparse -o "$out/all.profdata" "$out"/{size,limit,config,accounting}.profdata
llvm-cov report "$out/cov-size" -object "$out/cov-limit" -object "$out/cov-config" \
  -object "$out/cov-accounting" -instr-profile="$out/all.profdata" \
  "$fmt/size.c" "$fmt/limit.c" "$fmt/config.c" "$fmt/accounting.c" "$fmt/accounting_reader.c"
