#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses in Fuzz/ (ASan + libFuzzer instrumentation,
# own scratch path) and runs each one for a bounded time, starting from the
# committed seed corpus. Fails if a harness does not build, or any run finds
# a crash, a sanitizer report, a leak, a timeout or runs out of memory.
#
#   scripts/reliability/fuzz.sh                      # 60 s per fuzzer (CI)
#   PTYPROXY_FUZZ_SECONDS=600 scripts/reliability/fuzz.sh
#   PTYPROXY_FUZZ_TARGETS=FuzzInvocation scripts/reliability/fuzz.sh
#
# Crashing inputs are kept in .build-fuzz/artifacts/ (crash-*, leak-*, ...):
# turn each into a regression test in Tests/PTYProxyTests/ReliabilityFuzzRegressionTests.swift.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

seconds=${PTYPROXY_FUZZ_SECONDS:-60}
targets=${PTYPROXY_FUZZ_TARGETS:-"FuzzControlRequest FuzzControlReply FuzzInvocation"}
scratch=$root/.build-fuzz
artifacts=$scratch/artifacts
mkdir -p "$artifacts"

echo "fuzz: building (scratch $scratch)"
start=$(date +%s)
if ! swift build --package-path Fuzz --scratch-path "$scratch" -c debug \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >"$scratch/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch/build.log" | tail -40
    echo "fuzz: BUILD FAILED"
    exit 1
fi
echo "fuzz: built in $(( $(date +%s) - start )) s"
bin=$(swift build --package-path Fuzz --scratch-path "$scratch" -c debug --show-bin-path)

status=0
for target in $targets; do
    case $target in
        FuzzControlRequest) seeds=Fuzz/corpus/control; max_len=512 ;;
        FuzzControlReply) seeds=Fuzz/corpus/reply; max_len=4096 ;;
        FuzzInvocation) seeds=Fuzz/corpus/invocation; max_len=1024 ;;
        *) echo "fuzz: unknown target $target"; exit 1 ;;
    esac
    # The working corpus grows in the scratch directory, never in Fuzz/corpus.
    corpus=$scratch/corpus/$target
    mkdir -p "$corpus"
    log=$scratch/$target.log
    echo "fuzz: $target for ${seconds} s"
    before=$(ls "$artifacts" | wc -l)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    timeout --kill-after=30 $(( seconds + 120 )) \
        "$bin/$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$corpus" "$seeds" >"$log" 2>&1
    rc=$?
    after=$(ls "$artifacts" | wc -l)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $target exit $rc, ${runs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files"
    if [ $rc -ne 0 ] || [ "$after" -ne "$before" ]; then
        echo "fuzz: $target FAILED; the log's tail and the new artifacts:"
        grep -v "^#" "$log" | tail -40
        ls -l "$artifacts" | tail -5
        status=1
    fi
done
[ $status -eq 0 ] && echo "fuzz: all fuzzers ran clean"
exit $status
