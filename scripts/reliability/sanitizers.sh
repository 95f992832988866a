#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the test suite under ThreadSanitizer and AddressSanitizer, each build in
# its own scratch path (.build-tsan, .build-asan). The end-to-end tests start
# the ptyproxy binary built next to the test bundle, so the proxy itself runs
# sanitized too: every sanitized process (test runner, proxies, control
# tools) writes its reports to files under a fresh directory (log_path), and
# this script fails if any report file appears, or if the tests fail.
#
#   scripts/reliability/sanitizers.sh            # both
#   scripts/reliability/sanitizers.sh thread     # one of: thread address
#
# Subset: everything except the soak (--skip soak: it is a fixed 60 s of
# wall time whatever the speed, and its memory slope means nothing under a
# sanitizer's allocator), with the churn cut to PTYPROXY_CHURN_SESSIONS=200
# (default here; the 1000-session churn under a sanitizer adds time, not
# coverage: the same five paths, repeated), and the tail test cut to
# PTYPROXY_TAIL_RUNS=100 sessions for the same reason (the main suite runs
# 300). Extra arguments after the
# sanitizer names are passed to `swift test` (e.g. --filter ReliabilityTests).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

sanitizers=()
extra=()
for argument in "$@"; do
    case $argument in
        thread|address) sanitizers+=("$argument") ;;
        *) extra+=("$argument") ;;
    esac
done
[ ${#sanitizers[@]} -eq 0 ] && sanitizers=(thread address)
export PTYPROXY_CHURN_SESSIONS=${PTYPROXY_CHURN_SESSIONS:-200}
export PTYPROXY_TAIL_RUNS=${PTYPROXY_TAIL_RUNS:-100}

status=0
for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
        thread) scratch=$root/.build-tsan ;;
        address) scratch=$root/.build-asan ;;
    esac
    reports=$scratch/sanitizer-reports
    rm -rf "$reports"
    mkdir -p "$reports"
    # exitcode: a report also fails the process that made it;
    # log_path: reports go to files (PREFIX.PID), found below whatever process wrote them.
    export TSAN_OPTIONS="exitcode=66:halt_on_error=0:second_deadlock_stack=1:log_path=$reports/tsan"
    # (LeakSanitizer runs inside ASan and takes log_path from ASAN_OPTIONS;
    # a log_path in LSAN_OPTIONS/UBSAN_OPTIONS would override it.)
    export ASAN_OPTIONS="exitcode=66:halt_on_error=1:detect_leaks=1:log_path=$reports/asan"
    export LSAN_OPTIONS="exitcode=66:suppressions=$root/scripts/reliability/lsan.supp:print_suppressions=0"

    echo "=== sanitize=$sanitizer: build ($scratch)"
    start=$(date +%s)
    if ! swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$scratch/reliability-build.log" 2>&1; then
        tail -40 "$scratch/reliability-build.log"
        echo "=== sanitize=$sanitizer: BUILD FAILED"
        status=1
        continue
    fi
    built=$(date +%s)
    echo "=== sanitize=$sanitizer: built in $((built - start)) s; testing"
    swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --skip soak "${extra[@]}" \
        >"$scratch/reliability-test.log" 2>&1
    rc=$?
    finished=$(date +%s)
    summary=$(grep -E "^✔ Test run|^✘ Test run" "$scratch/reliability-test.log" | tail -1)
    echo "=== sanitize=$sanitizer: swift test exit $rc in $((finished - built)) s: ${summary:-no summary}"
    report_files=$(find "$reports" -type f | wc -l)
    if [ "$report_files" -ne 0 ]; then
        echo "=== sanitize=$sanitizer: $report_files sanitizer report file(s) in $reports; first lines:"
        for file in $(find "$reports" -type f | head -3); do
            echo "--- $file"
            head -30 "$file"
        done
        status=1
    fi
    if [ $rc -ne 0 ]; then
        echo "=== sanitize=$sanitizer: FAILED tests:"
        grep -E "^✘" "$scratch/reliability-test.log" | head -20
        status=1
    fi
done
[ $status -eq 0 ] && echo "=== sanitizers: clean"
exit $status
