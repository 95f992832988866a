# SPDX-License-Identifier: MIT
# What the tmux end-to-end tests share: the program to test, fail(), the
# prerequisites, a private work directory and tmux server removed on
# every exit path, a private runtime directory, the Emacs set-up file,
# and the helpers that wait on the screen.
#
# Source it after setting:
#   e2e_name    the script's name, the prefix of its messages
#   e2e_prefix  the prefix of its work directory's name
# A script that must undo more on exit defines e2e_cleanup_more before
# sourcing; it runs first on exit.  Environment: see the scripts.

emacs_dir=$(dirname "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)")
program=${PTYPROXY_PROGRAM:-$emacs_dir/../.build/debug/ptyproxy}
case $program in
    /*) ;;
    */*) program=$(cd "$(dirname "$program")" && pwd)/$(basename "$program") ;;
esac
emacs=${EMACS:-emacs}
timeout=${PTYPROXY_E2E_TIMEOUT:-20}

fail() {
    echo "$e2e_name: FAIL: $*" >&2
    if [ -n "${sock:-}" ] && [ -S "$sock" ]; then
        echo "---- screen ----" >&2
        tmux -S "$sock" capture-pane -p -t e2e >&2 2>/dev/null
        echo "----------------" >&2
    fi
    exit 1
}

command -v tmux >/dev/null || fail "tmux is not installed"
command -v "$emacs" >/dev/null || fail "$emacs is not installed"
[ -x "$program" ] || fail "ptyproxy program $program is not executable"

# Unix socket names are short (104-108 bytes): keep the directories short.
base=${TMPDIR:-/tmp}
[ "${#base}" -le 40 ] || base=/tmp
work=$(mktemp -d "$base/$e2e_prefix.XXXXXX") || exit 1
sock=$work/tmux.sock
cleanup() {
    if declare -F e2e_cleanup_more >/dev/null; then
        e2e_cleanup_more
    fi
    tmux -S "$sock" kill-server >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# A private runtime directory: the control sockets of this test only.
mkdir -m 700 "$work/run" "$work/home"
export XDG_RUNTIME_DIR=$work/run
export HOME=$work/home
export PTYPROXY_E2E_DIR=$work PTYPROXY_E2E_LISP=$emacs_dir PTYPROXY_PROGRAM=$program
unset TMUX

# $work/setup.el: vterm and ptyproxy loaded, vterm running /bin/sh.
cat >"$work/setup.el" <<'ELISP'
;;; setup.el --- emacs -nw set-up of the tmux end-to-end tests  -*- lexical-binding: t; -*-
(setq inhibit-startup-screen t)
(let ((dir (getenv "PTYPROXY_VTERM_DIR")))
  (dolist (d (append (and dir (not (equal dir "")) (list dir))
                     (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/vterm-*")
                     (file-expand-wildcards "/usr/lib/*/emacs-libvterm")))
    (add-to-list 'load-path d)))
(add-to-list 'load-path (getenv "PTYPROXY_E2E_LISP"))
(require 'vterm)
(require 'ptyproxy)
(setq ptyproxy-program (getenv "PTYPROXY_PROGRAM"))
(setq vterm-shell "/bin/sh")
ELISP

tm() { tmux -S "$sock" "$@"; }

# wait_until DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_until() {
    local what=$1 deadline=$((SECONDS + timeout))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for $what"
        sleep 0.1
    done
}

screen_has() { tm capture-pane -p -t e2e | grep -qE "$1"; }
type_line() { tm send-keys -t e2e -l "$1" && tm send-keys -t e2e Enter; }
file_nonempty() { [ -s "$1" ]; }
not_alive() { ! kill -0 "$1" 2>/dev/null; }
