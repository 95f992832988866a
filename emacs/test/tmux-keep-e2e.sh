#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test of kept sessions as a user sees them: `emacs -nw -Q`
# in a tmux session, vterm under ptyproxy-vterm-mode with
# ptyproxy-keep-sessions on, keys typed with `tmux send-keys`, the screen
# read with `tmux capture-pane`.
#
#  1. C-x k in the vterm asks detach/end; `d` detaches, the shell goes on.
#  2. M-x ptyproxy-attach brings it back in vterm, its variable kept.
#  3. C-x C-c leaves Emacs without a question; the shell goes on.
#  4. A second Emacs: M-x ptyproxy-list shows it detached, RET attaches,
#     C-x k and `e` end it.
#
# Usage: PTYPROXY_PROGRAM=/path/to/ptyproxy test/tmux-keep-e2e.sh
# Environment: EMACS (default emacs), PTYPROXY_VTERM_DIR (vterm's lisp
# directory, if not the Debian package's), PTYPROXY_E2E_TIMEOUT
# (seconds any single wait may take, default 20).
#
# Exits 0 when every check passed, 1 otherwise.  Every wait polls a real
# condition (screen text, a file, a process) up to a deadline.  The tmux
# server is private (its own socket) and is killed on every exit path,
# and so is the session if a check failed.

set -u

session_id=
e2e_cleanup_more() {
    if [ -n "$session_id" ]; then
        "$program" signal "$session_id" KILL >/dev/null 2>&1
    fi
}
e2e_name=tmux-keep-e2e e2e_prefix=e2k
. "$(dirname "${BASH_SOURCE[0]}")/tmux-lib.sh"

cat >"$work/common.el" <<'EOF'
;;; common.el --- emacs -nw set-up of the kept-session test  -*- lexical-binding: t; -*-
(load (expand-file-name "setup.el" (getenv "PTYPROXY_E2E_DIR")))
(setq ptyproxy-keep-sessions t)
(ptyproxy-vterm-mode 1)
EOF
cat >"$work/first.el" <<'EOF'
;;; first.el --- the first Emacs: a kept vterm  -*- lexical-binding: t; -*-
(load (expand-file-name "common.el" (getenv "PTYPROXY_E2E_DIR")))
(vterm)
(write-region (format "%s\n" (process-get vterm--process 'ptyproxy-id))
              nil (expand-file-name "session" (getenv "PTYPROXY_E2E_DIR")))
EOF
cat >"$work/second.el" <<'EOF'
;;; second.el --- the second Emacs: the list  -*- lexical-binding: t; -*-
(load (expand-file-name "common.el" (getenv "PTYPROXY_E2E_DIR")))
(ptyproxy-list)
(delete-other-windows)
EOF

status_has() { "$program" status "$session_id" 2>/dev/null | grep -q "$1"; }
session_gone() { "$program" status "$session_id" >/dev/null 2>&1; [ $? -eq 4 ]; }
shell_pid() {
    tm capture-pane -p -t e2e | sed -n "s/^$1-kept-42-\([0-9][0-9]*\)\$/\1/p" | tail -n 1
}

tm new-session -d -s e2e -x 160 -y 30 \
   "$emacs -nw -Q -l $work/first.el; echo emacs-exited=\$?; sleep 600" \
    || fail "tmux new-session"
wait_until "vterm to start through ptyproxy" file_nonempty "$work/session"
read -r session_id <"$work/session"
wait_until "the kept session to be attached" status_has '"kept":true,"attached":true'
type_line "K=kept-\$((6*7)); echo \"be\"\"fore-\$K-\$\$\""
wait_until "the shell's first output" screen_has '^before-kept-42-[0-9]+$'
pid=$(shell_pid before)
echo "tmux-keep-e2e: kept vterm started: session $session_id, shell $pid"

# 1. C-x k asks; d detaches.
tm send-keys -t e2e C-x k Enter
wait_until "the question about the kept session" screen_has "Kept session $session_id"
tm send-keys -t e2e d
wait_until "the session to be detached" status_has '"attached":false'
kill -0 "$pid" 2>/dev/null || fail "the shell ended on detach"
echo "tmux-keep-e2e: C-x k, d: detached"

# 2. M-x ptyproxy-attach: the same shell, in vterm.
tm send-keys -t e2e M-x
tm send-keys -t e2e -l ptyproxy-attach
tm send-keys -t e2e Enter
wait_until "the attach prompt" screen_has "Attach to session:"
type_line "$session_id"
wait_until "the session to be attached again" status_has '"attached":true'
# Keys typed before the buffer shows are M-x's, not the shell's: after
# the command, M-x suggests a shorter name (`suggest-key-bindings'),
# and keys typed meanwhile do not all reach the new buffer.
wait_until "the attached vterm buffer" screen_has "\\*vterm $session_id\\*"
type_line "echo \"ag\"\"ain-\$K-\$\$\""
wait_until "the shell's output after attach" screen_has '^again-kept-42-[0-9]+$'
[ "$(shell_pid again)" = "$pid" ] || fail "another shell: $(shell_pid again), not $pid"
echo "tmux-keep-e2e: M-x ptyproxy-attach: same shell"

# 3. C-x C-c: no question; the shell goes on, detached.
tm send-keys -t e2e C-x C-c
wait_until "Emacs to exit" screen_has '^emacs-exited=0$'
wait_until "the session to be detached after Emacs left" status_has '"attached":false'
kill -0 "$pid" 2>/dev/null || fail "the shell ended with Emacs"
echo "tmux-keep-e2e: C-x C-c: Emacs left, the shell goes on"

# 4. A second Emacs: the list, RET, C-x k, e.
tm respawn-pane -k -t e2e "$emacs -nw -Q -l $work/second.el; echo emacs-exited=\$?; sleep 600" \
    || fail "tmux respawn-pane"
wait_until "the list to show the detached session" screen_has "$session_id .*detached [0-9]+:"
tm send-keys -t e2e Enter
wait_until "the session to be attached from the list" status_has '"attached":true'
type_line "echo \"th\"\"ird-\$K-\$\$\""
wait_until "the shell's output in the second Emacs" screen_has '^third-kept-42-[0-9]+$'
[ "$(shell_pid third)" = "$pid" ] || fail "another shell: $(shell_pid third), not $pid"
tm send-keys -t e2e C-x k Enter
wait_until "the question in the second Emacs" screen_has "Kept session $session_id"
tm send-keys -t e2e e
wait_until "the session to end" session_gone
wait_until "the shell (pid $pid) to end" not_alive "$pid"
leftover=$(ls -A "$XDG_RUNTIME_DIR/ptyproxy" 2>/dev/null)
[ -z "$leftover" ] || fail "left in the socket directory: $leftover"
session_id=
echo "tmux-keep-e2e: second Emacs: list, RET, C-x k, e: ended"

tm send-keys -t e2e C-x C-c
wait_until "the second Emacs to exit" screen_has '^emacs-exited=0$'

echo "tmux-keep-e2e: PASS"
