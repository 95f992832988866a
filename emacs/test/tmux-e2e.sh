#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test of ptyproxy-vterm-mode, as a user would see it:
# `emacs -nw -Q` inside a tmux session, vterm with the mode on, keys
# typed with `tmux send-keys`, the screen read with `tmux capture-pane`.
#
# Usage: PTYPROXY_PROGRAM=/path/to/ptyproxy test/tmux-e2e.sh
# Environment: EMACS (default emacs), PTYPROXY_VTERM_DIR (vterm's lisp
# directory, if not the Debian package's), PTYPROXY_E2E_TIMEOUT
# (seconds any single wait may take, default 20).
#
# Exits 0 when every check passed, 1 otherwise.  Every wait polls a real
# condition (screen text, a file, a process) up to a deadline.  The tmux
# server is private (its own socket) and is killed on every exit path.

set -u

e2e_name=tmux-e2e e2e_prefix=e2e
. "$(dirname "${BASH_SOURCE[0]}")/tmux-lib.sh"

cat >"$work/init.el" <<'EOF'
;;; init.el --- emacs -nw set-up of the tmux end-to-end test  -*- lexical-binding: t; -*-
(load (expand-file-name "setup.el" (getenv "PTYPROXY_E2E_DIR")))
(defun e2e-file (name) (expand-file-name name (getenv "PTYPROXY_E2E_DIR")))
(add-hook 'vterm-exit-functions
          (lambda (_buffer event) (write-region event nil (e2e-file "exit-event"))))
(ptyproxy-vterm-mode 1)
(vterm)
;; The control socket appears once ptyproxy has started: wait for it.
(let ((deadline (+ (float-time) 10)))
  (while (and (not (ptyproxy--socket vterm--process)) (< (float-time) deadline))
    (accept-process-output nil 0.05)))
(write-region (format "%d %s %s\n"
                      (process-id vterm--process)
                      (process-get vterm--process 'ptyproxy-id)
                      (ptyproxy--socket vterm--process))
              nil (e2e-file "session"))
EOF

no_file() { [ ! -e "$1" ]; }

cols=100 rows=30
tm new-session -d -s e2e -x "$cols" -y "$rows" \
   "$emacs -nw -Q -l $work/init.el; echo emacs-exited=\$?; sleep 600" \
    || fail "tmux new-session"

wait_until "vterm to start through ptyproxy" file_nonempty "$work/session"
read -r proxy_pid session_id socket <"$work/session"
echo "tmux-e2e: vterm started: proxy pid $proxy_pid, session $session_id"
[ -S "$socket" ] || fail "no control socket at $socket"

# 1. A command typed in the vterm; its output on the screen.
type_line "echo hel''lo-\$((6*7))"
wait_until "the command's output" screen_has '^hello-42$'
echo "tmux-e2e: output ok"

# The window of vterm is the frame less the menu bar, the mode line and
# the echo area.  Its width is the frame's, or one column less once
# Emacs has adjusted the size (a text terminal keeps a column for the
# continuation glyph, see `window-max-chars-per-line').

# stty_size N: type `stty size` in the vterm; print "ROWS COLS" it shows.
stty_size() {
    type_line "echo \"si\"\"ze$1=\$(stty size)\""
    wait_until "the output of stty size ($1)" screen_has "^size$1=[0-9]+ [0-9]+\$"
    tm capture-pane -p -t e2e | sed -n "s/^size$1=\([0-9]* [0-9]*\)\$/\1/p" | tail -n 1
}
# session_size: print "ROWS COLS" of the session, as ptyproxy status says.
session_size() {
    "$program" status "$session_id" |
        sed -n 's/.*"cols": *\([0-9]*\).*"rows": *\([0-9]*\).*/\2 \1/p'
}
session_size_is() { [ "$(session_size)" = "$1" ]; }

# Emacs may make that one-column adjustment just after the first `stty
# size` ran (seen once in CI: stty 100 columns, then status 99): sample
# again, at most five times, until the pty and ptyproxy agree.
seen=$(stty_size 1)
for again in 2 3 4 5; do
    [ "$(session_size)" = "$seen" ] && break
    seen=$(stty_size "1r$again")
done
case $seen in
    "$((rows - 3)) $cols" | "$((rows - 3)) $((cols - 1))") ;;
    *) fail "initial stty size: '$seen', expected $((rows - 3)) rows, $cols or $((cols - 1)) columns" ;;
esac
[ "$(session_size)" = "$seen" ] || fail "ptyproxy status says '$(session_size)', stty says '$seen'"
echo "tmux-e2e: initial size ok: $seen"

# 2. The tmux window resized: Emacs -> vterm -> ptyproxy -> the pty.
cols=120 rows=40
want="$((rows - 3)) $((cols - 1))"
tm resize-window -t e2e -x "$cols" -y "$rows" || fail "tmux resize-window"
wait_until "the session's size to become '$want' (ptyproxy status)" session_size_is "$want"
seen=$(stty_size 2)
[ "$seen" = "$want" ] || fail "stty size after the resize: '$seen', expected '$want'"
echo "tmux-e2e: resize ok: $seen"

# 3. The shell exits: vterm's own exit handling runs, nothing is left.
type_line "exit 7"
wait_until "vterm-exit-functions" file_nonempty "$work/exit-event"
event=$(cat "$work/exit-event")
[ "$event" = "exited abnormally with code 7" ] || fail "exit event: '$event'"
wait_until "ptyproxy (pid $proxy_pid) to exit" not_alive "$proxy_pid"
wait_until "the control socket to be removed" no_file "$socket"
wait_until "vterm to kill its buffer" eval '! screen_has "^size1="'
leftover=$(ls -A "$XDG_RUNTIME_DIR/ptyproxy" 2>/dev/null)
[ -z "$leftover" ] || fail "left in the socket directory: $leftover"
echo "tmux-e2e: exit ok: $event"

# 4. Emacs quits cleanly.
tm send-keys -t e2e C-x C-c
wait_until "Emacs to exit" screen_has '^emacs-exited=0$'

echo "tmux-e2e: PASS"
