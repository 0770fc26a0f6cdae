#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (docs/fuzzing.md), built by `make build-fuzz`.
#   scripts/fuzz.sh check BUILD SECONDS   replay every committed corpus, then fuzz each target
#                                         SECONDS (make test; nothing is written to fuzz/)
#   scripts/fuzz.sh run BUILD SECONDS     fuzz each target SECONDS, keeping what it finds in
#                                         BUILD/fuzz-corpus/<target> (make fuzz)
#   scripts/fuzz.sh merge BUILD           minimise those finds into fuzz/corpus/<target>
# A crash, a leak or a sanitizer report stops the script with the reproducer in
# BUILD/fuzz-artifacts/ (replay it with BUILD/fuzz/fuzz_<target> FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?check, run or merge}
build=${2:-build-fuzz}
secs=${3:-60}
targets=${FUZZ_TARGETS:-"sip_ws token waf_json form config"}
art="$build/fuzz-artifacts"
mkdir -p "$art"

fuzz_opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/")

for t in $targets; do
  bin="$build/fuzz/fuzz_$t"
  seeds="fuzz/corpus/$t"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  case $mode in
  check)
    n=$(find "$seeds" -type f | wc -l)
    echo "fuzz: $t: replaying $n corpus entries"
    "$bin" -runs=0 "${fuzz_opts[@]}" "$seeds" 2>"$art/$t.log" || { tail -50 "$art/$t.log"; exit 1; }
    tmp=$(mktemp -d)
    echo "fuzz: $t: fuzzing for $secs s"
    "$bin" -max_total_time="$secs" "${fuzz_opts[@]}" "${dict[@]}" "$tmp" "$seeds" \
      2>"$art/$t.log" || { tail -50 "$art/$t.log"; rm -rf "$tmp"; exit 1; }
    rm -rf "$tmp"
    grep -h "stat::number_of_executed_units" "$art/$t.log" | sed "s/^/fuzz: $t: /"
    ;;
  run)
    mkdir -p "$build/fuzz-corpus/$t"
    echo "fuzz: $t: fuzzing for $secs s"
    nice "$bin" -max_total_time="$secs" "${fuzz_opts[@]}" "${dict[@]}" \
      "$build/fuzz-corpus/$t" "$seeds" 2>"$art/$t.log" || { tail -50 "$art/$t.log"; exit 1; }
    grep -h "stat::number_of_executed_units\|stat::peak_rss_mb" "$art/$t.log" | sed "s/^/fuzz: $t: /"
    ;;
  merge)
    # Edge coverage only (no hit-count buckets): a modest corpus worth committing.
    "$bin" -merge=1 -use_counters=0 "${fuzz_opts[@]}" "$seeds" "$build/fuzz-corpus/$t" \
      2>"$art/$t.merge.log"
    echo "fuzz: $t: $(find "$seeds" -type f | wc -l) corpus entries, $(du -sh "$seeds" | cut -f1)"
    ;;
  *)
    echo "usage: $0 check|run|merge BUILD [SECONDS]" >&2
    exit 2
    ;;
  esac
done
