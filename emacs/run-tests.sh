#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tests of the Emacs package: package-lint, byte-compilation (warnings
# are errors), checkdoc, the ERT tests (one of them through ptyproxy.exe
# under Wine) and the tmux end-to-end tests.
#
# Usage: emacs/run-tests.sh
# Environment:
#   PTYPROXY_PROGRAM   the ptyproxy binary (default: ../.build/debug/ptyproxy
#                      relative to this script)
#   EMACS              the Emacs to use (default: emacs)
#   PTYPROXY_VTERM_DIR vterm's lisp directory, if not the Debian package's
#   PTYPROXY_ALLOW_SKIP=1  do not count skipped ERT tests as a failure
#   PTYPROXY_PACKAGE_LINT_DIR  package-lint's directory, if not the Debian
#                      package's (elpa-package-lint)
#   PTYPROXY_WINE_EXE, PTYPROXY_WINE_CONHELPER  ptyproxy.exe and
#                      windows/e2e's conhelper.exe for the test that runs
#                      term.el through ptyproxy.exe under Wine (default:
#                      built here with make, when mingw-w64 and Wine are
#                      installed; Debian: gcc-mingw-w64-x86-64, wine64)
#
# Prints one line per check and, last, "N passed, N failed" (followed by
# ", N skipped" when tests were skipped); exits non-zero if anything failed.
# Needs no terminal on stdin.  Everything runs with a private
# XDG_RUNTIME_DIR, TMPDIR and HOME, removed at the end.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
program=${PTYPROXY_PROGRAM:-$here/../.build/debug/ptyproxy}
case $program in
    /*) ;;
    */*) program=$(cd "$(dirname "$program")" 2>/dev/null && pwd)/$(basename "$program") ;;
    *) program=$(command -v "$program" || echo "$program") ;;
esac
export PTYPROXY_PROGRAM=$program
# The tests' fixtures and helpers, beside the sources (the tests run compiled
# from a copy).
export PTYPROXY_TEST_DIRECTORY=$here/test
export EMACS=${EMACS:-emacs}

# Unix socket names are short (104-108 bytes): keep the directories short.
base=${TMPDIR:-/tmp}
[ "${#base}" -le 40 ] || base=/tmp
work=$(mktemp -d "$base/ppx-el.XXXXXX") || exit 1
wine64=${WINE64:-/usr/lib/wine/wine64}
wineserver=${WINESERVER:-/usr/lib/wine/wineserver64}
cleanup() {
    # Only this run's prefix: its wineserver and every process in it.
    if [ -d "$work/wine" ]; then
        WINEPREFIX=$work/wine timeout 30 "$wineserver" -k >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -m 700 "$work/run" "$work/tmp" "$work/home" "$work/lisp"
export XDG_RUNTIME_DIR=$work/run TMPDIR=$work/tmp HOME=$work/home
unset TMUX

passed=0 failed=0 skipped=0

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# bounded SECONDS COMMAND...: run COMMAND, killed after SECONDS.
bounded() {
    local seconds=$1
    shift
    if command -v timeout >/dev/null; then
        timeout -k 10 "$seconds" "$@"
    else
        "$@"
    fi
}

emacs_batch() { bounded 300 "$EMACS" -Q --batch "$@" </dev/null; }

echo "ptyproxy: $program"
if ! [ -x "$program" ]; then
    fail "ptyproxy program $program is not executable (build it with swift build)"
fi
if ! command -v "$EMACS" >/dev/null; then
    fail "$EMACS not found"
    echo "$passed passed, $failed failed"
    exit 1
fi
"$EMACS" --version </dev/null | head -n 1

# The ERT test files; ptyproxy-readme-test.el loads the READMEs' set-up
# from this source tree.
test_names=(ptyproxy-test ptyproxy-keep-test ptyproxy-readme-test)
# What the test files share (compiled with them, loaded by them).
test_common=(ptyproxy-test-common)
export PTYPROXY_SOURCE_DIR=$here/..

# The package's files: the core first (package-lint's main file).
package_files=(ptyproxy.el ptyproxy-vterm.el ptyproxy-term.el)

# 1. Byte-compilation, of a copy (no .elc next to the sources).
sources=()
for file in "${package_files[@]}"; do
    cp "$here/$file" "$work/lisp/"
    sources+=("$work/lisp/$file")
done
for name in "${test_common[@]}" "${test_names[@]}"; do
    cp "$here/test/$name.el" "$work/lisp/"
    sources+=("$work/lisp/$name.el")
done
all_compiled() {
    local source
    for source in "${sources[@]}"; do
        [ -f "${source}c" ] || return 1
    done
}
if emacs_batch -L "$work/lisp" \
        --eval '(setq byte-compile-error-on-warn t)' \
        -f batch-byte-compile "${sources[@]}" 2>&1 &&
        all_compiled; then
    pass "byte-compile with no warnings"
else
    fail "byte-compile with no warnings"
fi

# 2. package-lint (Debian: elpa-package-lint): any output is a complaint.
lint_dir=${PTYPROXY_PACKAGE_LINT_DIR:-}
if [ -z "$lint_dir" ]; then
    for d in /usr/share/emacs/site-lisp/elpa-src/package-lint-* \
             /usr/share/emacs/site-lisp/elpa/package-lint-*; do
        [ -f "$d/package-lint.el" ] && lint_dir=$d && break
    done
fi
if [ -z "$lint_dir" ]; then
    fail "package-lint not found (install elpa-package-lint)"
else
    lint_output=$(cd "$here" && emacs_batch -L "$lint_dir" \
        --eval '(require (quote package-lint))' \
        --eval '(setq package-lint-main-file "ptyproxy.el")' \
        -f package-lint-batch-and-exit "${package_files[@]}" 2>&1)
    if [ $? -eq 0 ] && [ -z "$lint_output" ]; then
        pass "package-lint"
    else
        printf '%s\n' "$lint_output"
        fail "package-lint"
    fi
fi

# 3. checkdoc: any output is a complaint.
checkdoc_output=$(cd "$here" && emacs_batch --eval '(progn
   (require (quote checkdoc))
   (setq checkdoc-spellcheck-documentation-flag nil)
   (mapc (function checkdoc-file) command-line-args-left)
   (setq command-line-args-left nil))' "${package_files[@]}" 2>&1)
if [ $? -eq 0 ] && [ -z "$checkdoc_output" ]; then
    pass "checkdoc"
else
    printf '%s\n' "$checkdoc_output"
    fail "checkdoc"
fi

# ptyproxy.exe under Wine, for ptyproxy-test-wine-term: a private prefix,
# booted with stdio on /dev/null (Wine's services inherit the stdio of the
# first Wine program of a prefix).
if [ -z "${PTYPROXY_WINE_EXE:-}" ] && [ -x "$wine64" ] && [ -x "$wineserver" ] &&
        command -v x86_64-w64-mingw32-gcc >/dev/null; then
    if make -s -C "$here/../windows" >"$work/wine-build.log" 2>&1 &&
            make -s -C "$here/../windows/e2e" >>"$work/wine-build.log" 2>&1; then
        export PTYPROXY_WINE_EXE=$here/../windows/build/ptyproxy.exe
        export PTYPROXY_WINE_CONHELPER=$here/../windows/e2e/build/conhelper.exe
    else
        cat "$work/wine-build.log"
        fail "building ptyproxy.exe for the Wine test"
    fi
fi
if [ -n "${PTYPROXY_WINE_EXE:-}" ]; then
    export WINEPREFIX=$work/wine WINEDEBUG=-all WINE64=$wine64
    unset DISPLAY
    mkdir -m 700 "$WINEPREFIX"
    if ! { timeout 30 "$wineserver" -p60 && timeout 300 "$wine64" wineboot.exe -i &&
               timeout 120 "$wine64" cmd.exe /c exit; } </dev/null >/dev/null 2>&1; then
        fail "starting a Wine prefix for the Wine test"
    fi
fi

# 4. ERT, with the compiled files.
results=$work/ert-results
load_tests=()
for name in "${test_names[@]}"; do
    if [ -f "$work/lisp/$name.elc" ]; then
        load_tests+=(-l "$work/lisp/$name.elc")
    else
        load_tests+=(-l "$here/test/$name.el")
    fi
done
emacs_batch -L "$work/lisp" -L "$here" "${load_tests[@]}" --eval "(progn
  (let* ((stats (ert-run-tests-batch t))
         (counts (list 0 0 0)))
    (mapc (lambda (result)
            (cond ((ert-test-passed-p result) (cl-incf (nth 0 counts)))
                  ((ert-test-skipped-p result) (cl-incf (nth 2 counts)))
                  (t (cl-incf (nth 1 counts)))))
          (ert--stats-test-results stats))
    (with-temp-file \"$results\"
      (insert (mapconcat (function number-to-string) counts \" \") \"\n\"))
    (kill-emacs (if (zerop (nth 1 counts)) 0 1))))" 2>&1
ert_status=$?
if read -r ert_passed ert_failed ert_skipped 2>/dev/null <"$results"; then
    passed=$((passed + ert_passed))
    failed=$((failed + ert_failed))
    skipped=$((skipped + ert_skipped))
    echo "ERT: $ert_passed passed, $ert_failed failed, $ert_skipped skipped"
    if [ "$ert_skipped" -gt 0 ] && [ "${PTYPROXY_ALLOW_SKIP:-0}" != 1 ]; then
        fail "ERT tests were skipped (are elpa-vterm, wine64 and gcc-mingw-w64-x86-64 installed?)"
    fi
else
    fail "ERT did not finish (exit status $ert_status)"
fi

# 5. The tmux end-to-end test.
if bounded 300 bash "$here/test/tmux-e2e.sh" </dev/null 2>&1; then
    pass "tmux end-to-end"
else
    fail "tmux end-to-end"
fi

# 6. Kept sessions in emacs -nw under tmux: the kill-buffer question,
# M-x ptyproxy-attach, C-x C-c, and RET in a second Emacs's list.
if bounded 300 bash "$here/test/tmux-keep-e2e.sh" </dev/null 2>&1; then
    pass "tmux kept sessions end-to-end"
else
    fail "tmux kept sessions end-to-end"
fi

leftover=$(ls -A "$XDG_RUNTIME_DIR/ptyproxy" 2>/dev/null)
if [ -n "$leftover" ]; then
    fail "files left in the socket directory: $leftover"
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
