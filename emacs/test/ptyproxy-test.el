;;; ptyproxy-test.el --- ERT tests of ptyproxy.el  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Run with emacs/run-tests.sh, or by hand:
;;
;;   PTYPROXY_PROGRAM=/path/to/ptyproxy emacs -Q --batch -L emacs -L emacs/test \
;;     -l emacs/test/ptyproxy-test.el -f ert-run-tests-batch-and-exit
;;
;; The tests run real shells through the real ptyproxy program.  Every
;; wait is for an observable condition (text in a buffer, a process
;; state, a file), bounded by `ptyproxy-test-timeout'.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'ptyproxy)
(require 'ptyproxy-vterm)
(require 'ptyproxy-term)
(eval-and-compile
  (add-to-list 'load-path
               (file-name-directory
                (or load-file-name byte-compile-current-file buffer-file-name))))
(require 'ptyproxy-test-common)

(defvar comp-enable-subr-trampolines)
(defvar native-comp-enable-subr-trampolines)

;;;; Helpers

(defun ptyproxy-test--socket (process)
  "Wait until the control socket of the ptyproxy PROCESS is found; return it."
  (ptyproxy-test--wait (lambda () (ptyproxy--socket process)) "the control socket"))

(defmacro ptyproxy-test--with-shell (spec &rest body)
  "Run BODY with a shell started through ptyproxy.
SPEC is (PROCESS BUFFER EXITS . ARGS): PROCESS and BUFFER are bound to
the process and its buffer, EXITS to a list, newest first, of
\(STATUS EXIT-CODE SOCKET-EXISTS) the sentinel saw.  ARGS are more
keyword arguments for `ptyproxy-make-process'."
  (declare (indent 1))
  (let ((process (nth 0 spec)) (buffer (nth 1 spec)) (exits (nth 2 spec))
        (args (nthcdr 3 spec)))
    `(let* ((,buffer (generate-new-buffer " *ptyproxy-test*"))
            (,exits nil)
            (,process
             (ptyproxy-make-process
              :name "ptyproxy-test" :buffer ,buffer
              :command '("/bin/sh")
              :sentinel (lambda (p _event)
                          (unless (process-live-p p)
                            (push (list (process-status p) (process-exit-status p)
                                        (let ((socket (process-get p 'ptyproxy-socket)))
                                          (and socket (file-exists-p socket))))
                                  ,exits)))
              ,@args)))
       (ignore ,exits ,process)
       (unwind-protect (progn ,@body)
         (ptyproxy-test--cleanup ,buffer)))))

(defun ptyproxy-test--send (process line)
  "Send LINE and a newline to PROCESS."
  (process-send-string process (concat line "\n")))

;;;; Plain processes

(defmacro ptyproxy-test--with-directory (dir &rest body)
  "Run BODY with DIR bound to a new private temporary directory; remove it."
  (declare (indent 1))
  `(let ((,dir (make-temp-file "ptyproxy-dirs" t)))
     (unwind-protect (progn (set-file-modes ,dir #o700) ,@body)
       (delete-directory ,dir t))))

(ert-deftest ptyproxy-test-socket-directories ()
  "The candidate directories follow the order of docs/INTERFACE.md."
  (ptyproxy-test--with-directory dir
    (let ((uid (user-real-uid)))
      ;; A private XDG_RUNTIME_DIR is the only place.
      (let ((process-environment (append (list (concat "XDG_RUNTIME_DIR=" dir)
                                               "TMPDIR=/var/tmp" "HOME=/home/h")
                                         process-environment)))
        (should (equal (ptyproxy-socket-directories)
                       (list (concat dir "/ptyproxy")))))
      ;; One that others can enter is not used; then TMPDIR, then HOME.
      (set-file-modes dir #o755)
      (let ((process-environment (append (list (concat "XDG_RUNTIME_DIR=" dir)
                                               "TMPDIR=/var/tmp/" "HOME=/home/h")
                                         process-environment)))
        (should (equal (ptyproxy-socket-directories)
                       (list (format "/var/tmp/ptyproxy-%d" uid)
                             "/home/h/.cache/ptyproxy"))))
      ;; Unset, empty or relative variables are not used.
      (let ((process-environment (append '("XDG_RUNTIME_DIR" "TMPDIR=tmp" "HOME=")
                                         process-environment)))
        (should (equal (ptyproxy-socket-directories)
                       (list (format "/tmp/ptyproxy-%d" uid))))))))

(ert-deftest ptyproxy-test-protocol-facts ()
  "Requests, IDs, sizes and socket names are spelled as ptyproxy's."
  (should (equal (ptyproxy--request-line "resize" "80" "24") "resize 80 24"))
  (should (equal (ptyproxy--request-line "signal" "INT") "signal INT"))
  (should (equal (ptyproxy--request-line "status") "status"))
  (should (equal (ptyproxy--cli-arguments "resize" "s1" "80" "24")
                 '("resize" "s1" "80" "24")))
  (should (equal (ptyproxy--cli-arguments "status" "s1") '("status" "s1")))
  (should (equal (ptyproxy--socket-name "s1") "s1.sock"))
  (should (ptyproxy--valid-id-p (make-string 64 ?a)))
  (should-not (ptyproxy--valid-id-p (make-string 65 ?a)))
  (should-not (ptyproxy--valid-id-p ""))
  (should-not (ptyproxy--valid-id-p "a/b"))
  (should-not (ptyproxy--valid-id-p 'a))
  (cl-letf (((symbol-function 'ptyproxy--windows-p) #'ignore))
    (should (equal (ptyproxy--clamp 70000) 65535))
    (should (equal (ptyproxy--clamp 0) 1)))
  (cl-letf (((symbol-function 'ptyproxy--windows-p) (lambda () t)))
    (should (equal (ptyproxy--clamp 70000) 32767))))

(ert-deftest ptyproxy-test-socket-file-trusts-only-private-directories ()
  "A socket is used only in a real directory of this user with mode 0700.
Another user can create /tmp/ptyproxy-UID first and serve a socket in
it; Emacs must not send it anything."
  (ptyproxy-test--with-directory tmp
    (let* ((process-environment (append (list "XDG_RUNTIME_DIR" (concat "TMPDIR=" tmp)
                                              (concat "HOME=" tmp "/home"))
                                        process-environment))
           (control (format "%s/ptyproxy-%d" tmp (user-real-uid)))
           (socket (concat control "/s1.sock")))
      (make-directory control)
      (write-region "" nil socket)
      (set-file-modes control #o777)
      (should-not (ptyproxy-socket-file "s1"))
      (set-file-modes control #o700)
      (should (equal (ptyproxy-socket-file "s1") socket))
      (should-not (ptyproxy-socket-file "s2"))
      (when (zerop (user-uid))
        ;; Owned by another user (root can make one): refused.
        (set-file-modes control #o700)
        (call-process "chown" nil nil nil "65534" control)
        (should-not (ptyproxy-socket-file "s1"))
        (call-process "chown" nil nil nil "0" control))
      ;; A symbolic link to a private directory is refused too.
      (let ((real (concat tmp "/real")))
        (rename-file control real)
        (make-symbolic-link real control)
        (should (file-exists-p socket))
        (should-not (ptyproxy-socket-file "s1"))
        ;; The fallback in HOME is found when it holds the socket.
        (make-directory (concat tmp "/home/.cache/ptyproxy") t)
        (set-file-modes (concat tmp "/home/.cache/ptyproxy") #o700)
        (write-region "" nil (concat tmp "/home/.cache/ptyproxy/s1.sock"))
        (should (equal (ptyproxy-socket-file "s1")
                       (concat tmp "/home/.cache/ptyproxy/s1.sock")))))))

(ert-deftest ptyproxy-test-new-id ()
  "Identifiers are fresh and match the syntax ptyproxy accepts."
  (let ((a (ptyproxy-new-id)) (b (ptyproxy-new-id)))
    (should-not (equal a b))
    (dolist (id (list a b))
      (should (string-match-p "\\`[A-Za-z0-9._-]\\{1,64\\}\\'" id)))))

(ert-deftest ptyproxy-test-echo ()
  "A shell run through ptyproxy sees a terminal and its output reaches the buffer."
  (ptyproxy-test--with-shell (process buffer exits)
    (should (ptyproxy-process-p process))
    (should (eq (process-type process) 'real))
    (should-not (process-tty-name process)) ; Emacs's side is a pipe
    (ptyproxy-test--send process "echo hel''lo-$((6*7))")
    (ptyproxy-test--wait-text buffer "hello-42\\_>")
    (ptyproxy-test--send process "test -t 0 && test -t 1 && echo is-a-''tty")
    (ptyproxy-test--wait-text buffer "is-a-tty\\_>")
    (ptyproxy-test--send process "echo \"id=$PTYPROXY_ID\"")
    (ptyproxy-test--wait-text
     buffer (concat "id=" (regexp-quote (process-get process 'ptyproxy-id))))
    (should (file-exists-p (ptyproxy-test--socket process)))))

(ert-deftest ptyproxy-test-resize ()
  "A resize reaches the terminal; a burst of resizes sends only the last size."
  (ptyproxy-test--with-shell (process buffer exits :size '(80 . 24))
    (ptyproxy-test--send process "echo \"si\"\"ze=$(stty size)\"")
    (ptyproxy-test--wait-text buffer "size=24 80\\_>")
    (ptyproxy-resize process 100 30)
    (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                           '(100 . 30)))
                         "acknowledged size 100x30")
    (ptyproxy-test--send process "echo \"si\"\"ze=$(stty size)\"")
    (ptyproxy-test--wait-text buffer "size=30 100\\_>")
    ;; Coalescing.
    (let ((before (process-get process 'ptyproxy-resize-count)))
      (ptyproxy-resize process 50 10)
      (ptyproxy-resize process 60 20)
      (ptyproxy-resize process 101 31)
      (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                             '(101 . 31)))
                           "acknowledged size 101x31")
      (should (= (process-get process 'ptyproxy-resize-count) (1+ before))))
    (ptyproxy-test--send process "echo \"si\"\"ze=$(stty size)\"")
    (ptyproxy-test--wait-text buffer "size=31 101\\_>")
    ;; Emacs asks the process's own function for window sizes; it
    ;; returns nil, so Emacs does not call `set-process-window-size'
    ;; on the pipe.
    (should (eq (process-get process 'adjust-window-size-function)
                #'ptyproxy--adjust-window-size))))

(ert-deftest ptyproxy-test-resize-fallback ()
  "Without a reachable socket, the size goes through \"ptyproxy resize\"."
  (ptyproxy-test--with-shell (process buffer exits :size '(80 . 24))
    (let ((socket (process-get process 'ptyproxy-socket)))
      (process-put process 'ptyproxy-socket
                   (concat (car (ptyproxy-socket-directories)) "/no-such-session.sock"))
      (ptyproxy-resize process 90 20)
      (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                             '(90 . 20)))
                           "acknowledged size 90x20")
      (process-put process 'ptyproxy-socket socket))
    (ptyproxy-test--send process "echo \"si\"\"ze=$(stty size)\"")
    (ptyproxy-test--wait-text buffer "size=20 90\\_>")))

(ert-deftest ptyproxy-test-status ()
  "The status request of the control socket is parsed."
  (ptyproxy-test--with-shell (process buffer exits :size '(81 . 25))
    (let ((status (ptyproxy-status process)))
      (should status)
      (should (equal (cdr (assq 'id status)) (process-get process 'ptyproxy-id)))
      (should (equal (cdr (assq 'cols status)) 81))
      (should (equal (cdr (assq 'rows status)) 25))
      (should (equal (cdr (assq 'pid status)) (process-id process))))))

(ert-deftest ptyproxy-test-exit-status ()
  "The sentinel sees the shell's exit status, and the socket is gone."
  (ptyproxy-test--with-shell (process buffer exits)
    (let ((socket (ptyproxy-test--socket process))
          (pid (process-id process)))
      (ptyproxy-test--send process "echo rea''dy")
      (ptyproxy-test--wait-text buffer "ready\\_>")
      (ptyproxy-test--send process "exit 7")
      (ptyproxy-test--wait (lambda () exits) "the sentinel")
      ;; (STATUS EXIT-CODE SOCKET-EXISTS) as the sentinel saw them.
      (should (equal (car exits) '(exit 7 nil)))
      (should-not (file-exists-p socket))
      (should-not (process-get process 'ptyproxy-stale-socket))
      (should-not (ptyproxy-test--pid-alive-p pid)))))

(ert-deftest ptyproxy-test-exit-by-signal ()
  "A shell killed by signal N makes ptyproxy exit with 128+N."
  (ptyproxy-test--with-shell (process buffer exits)
    (ptyproxy-test--send process "echo rea''dy")
    (ptyproxy-test--wait-text buffer "ready\\_>")
    (ptyproxy-test--send process "kill -KILL $$")
    (ptyproxy-test--wait (lambda () exits) "the sentinel")
    (should (equal (car exits) '(exit 137 nil)))))

(ert-deftest ptyproxy-test-interrupt ()
  "`ptyproxy-interrupt-subjob' reaches the terminal's foreground job, not ptyproxy."
  (ptyproxy-test--with-shell (process buffer exits)
    (ptyproxy-test--send process "echo rea''dy")
    (ptyproxy-test--wait-text buffer "ready\\_>")
    (ptyproxy-test--send process "sleep 60")
    (ptyproxy-test--wait
     (lambda ()
       (let ((shell (cdr (assq 'child_pid (ptyproxy-status process)))))
         ;; The shell has forked sleep: the session is busy.
         (and shell (ptyproxy-test--has-child-p shell "sleep"))))
     "sleep to run")
    (with-current-buffer buffer (ptyproxy-interrupt-subjob))
    ;; Without the interrupt, this would only be echoed after 60 s.
    (ptyproxy-test--send process "echo sti''ll-here")
    (ptyproxy-test--wait-text buffer "still-here\\_>")
    (should (process-live-p process))))

(ert-deftest ptyproxy-test-send-eof ()
  "`ptyproxy-send-eof' acts as on a pty: the pipe stays open."
  (ptyproxy-test--with-shell (process buffer exits)
    (ptyproxy-test--send process "cat >/dev/null; echo cat-''done")
    (ptyproxy-send-eof process)
    (ptyproxy-test--wait-text buffer "cat-done\\_>")
    (ptyproxy-test--send process "echo sti''ll-here")
    (ptyproxy-test--wait-text buffer "still-here\\_>")))

(ert-deftest ptyproxy-test-kill-buffer ()
  "Killing the buffer ends the proxy and its shell and leaves no socket."
  (ptyproxy-test--with-shell (process buffer exits)
    (let ((socket (ptyproxy-test--socket process))
          (pid (process-id process))
          child)
      (ptyproxy-test--send process "echo \"pid=$$\"")
      (ptyproxy-test--wait-text buffer "pid=\\([0-9]+\\)\\_>")
      (with-current-buffer buffer
        (goto-char (point-min))
        (re-search-forward "pid=\\([0-9]+\\)")
        (setq child (string-to-number (match-string 1))))
      (should (ptyproxy-test--pid-alive-p child))
      (ptyproxy-test--cleanup buffer)
      (ptyproxy-test--wait (lambda () exits) "the sentinel")
      (ptyproxy-test--wait (lambda () (not (ptyproxy-test--pid-alive-p child)))
                           "the shell to end")
      (should-not (ptyproxy-test--pid-alive-p pid))
      (should-not (file-exists-p socket))
      ;; ptyproxy removed its socket itself: Emacs did not have to.
      (should-not (process-get process 'ptyproxy-stale-socket))
      (should (memq (caar exits) '(exit signal))))))

;; `delete-process' kills ptyproxy at once (SIGKILL): it cannot remove
;; its socket, so Emacs does; the kernel hangs up the shell.
(ert-deftest ptyproxy-test-delete-process ()
  "Deleting the process leaves no shell behind; list removes its socket.
`delete-process' kills ptyproxy at once, so its socket stays; the
package leaves it alone (only the session's lock holder may remove
it), and \"ptyproxy list\" proves it stale and removes it."
  (ptyproxy-test--with-shell (process buffer exits)
    (let ((socket (ptyproxy-test--socket process))
          child)
      (ptyproxy-test--send process "echo \"pid=$$\"")
      (ptyproxy-test--wait-text buffer "pid=[0-9]+\\_>")
      (with-current-buffer buffer
        (goto-char (point-min))
        (re-search-forward "pid=\\([0-9]+\\)")
        (setq child (string-to-number (match-string 1))))
      (should (file-exists-p socket))
      (delete-process process)
      (should exits)
      (should (process-get process 'ptyproxy-stale-socket))
      (should (file-exists-p socket))
      (ptyproxy-test--wait (lambda ()
                             (call-process ptyproxy-program nil nil nil "list")
                             (not (file-exists-p socket)))
                           "ptyproxy list to remove the stale socket")
      (ptyproxy-test--wait (lambda () (not (ptyproxy-test--pid-alive-p child)))
                           "the shell to end"))))

;;;; vterm

(defvar vterm-shell)
(defvar vterm-exit-functions)
(defvar vterm-kill-buffer-on-exit)
(defvar vterm--process)
(declare-function vterm "vterm" (&optional arg))
(declare-function vterm-send-string "vterm" (string &optional paste-p))
(declare-function vterm-send-return "vterm" ())

(defun ptyproxy-test--vterm-send (buffer line)
  "Type LINE and Return in the vterm BUFFER."
  (with-current-buffer buffer
    (vterm-send-string line)
    (vterm-send-return)))

(ert-deftest ptyproxy-test-vterm ()
  "vterm with `ptyproxy-vterm-mode': output, resize, exit and cleanup."
  (skip-unless (ptyproxy-test--load-vterm))
  (let* ((events nil)
         (vterm-shell "/bin/sh")
         (vterm-kill-buffer-on-exit t)
         (vterm-exit-functions (list (lambda (buf event) (push (cons buf event) events))))
         (name (generate-new-buffer-name "*ptyproxy-test-vterm*"))
         buffer process)
    (ptyproxy-vterm-mode 1)
    (unwind-protect
        (progn
          (delete-other-windows)
          (setq buffer (vterm name))
          (setq process (buffer-local-value 'vterm--process buffer))
          (should (ptyproxy-process-p process))
          (should (eq (get-buffer-window buffer) (selected-window)))
          (ptyproxy-test--wait-text buffer "^[#$] ")
          (ptyproxy-test--vterm-send buffer "echo hel''lo-$((6*7))")
          (ptyproxy-test--wait-text buffer "hello-42\\_>")
          ;; Make the window smaller: Emacs -> vterm -> ptyproxy.
          (set-window-buffer (split-window-below) (get-buffer-create "*scratch*"))
          (window--adjust-process-windows)
          (let ((rows (window-body-height (get-buffer-window buffer))))
            (should (< rows 20))
            (ptyproxy-test--wait
             (lambda () (let ((size (process-get process 'ptyproxy-size)))
                          (and size (= (cdr size) rows))))
             (format "the smaller size to be acknowledged: rows %s, size %S"
                     rows (process-get process 'ptyproxy-size)))
            (let ((size (process-get process 'ptyproxy-size)))
              (ptyproxy-test--vterm-send buffer "echo \"si\"\"ze=$(stty size)\"")
              (ptyproxy-test--wait-text
               buffer (format "size=%d %d\\_>" (cdr size) (car size)))))
          (let ((socket (ptyproxy-test--socket process))
                (pid (process-id process)))
            (ptyproxy-test--vterm-send buffer "exit 7")
            (ptyproxy-test--wait (lambda () events) "vterm-exit-functions")
            (should (equal (cdar events) "exited abnormally with code 7\n"))
            (should (= (process-exit-status process) 7))
            (ptyproxy-test--wait (lambda () (not (buffer-live-p buffer)))
                                 "vterm to kill its buffer")
            (should-not (file-exists-p socket))
            (should-not (process-get process 'ptyproxy-stale-socket))
            (should-not (ptyproxy-test--pid-alive-p pid))))
      (ptyproxy-vterm-mode -1)
      (delete-other-windows)
      (ptyproxy-test--cleanup buffer))))

(ert-deftest ptyproxy-test-vterm-mode-off ()
  "With `ptyproxy-vterm-mode' off, vterm uses a pty of its own again."
  (skip-unless (ptyproxy-test--load-vterm))
  (let ((vterm-shell "/bin/sh")
        (vterm-exit-functions nil)
        buffer)
    (ptyproxy-vterm-mode 1)
    (ptyproxy-vterm-mode -1)
    (unwind-protect
        (progn
          (setq buffer (vterm (generate-new-buffer-name "*ptyproxy-test-vterm*")))
          (let ((process (buffer-local-value 'vterm--process buffer)))
            (should-not (ptyproxy-process-p process))
            (should (process-tty-name process))))
      (ptyproxy-test--cleanup buffer))))

;;;; term

(defvar term-height)
(defvar term-width)
(declare-function term-char-mode "term" ())
(declare-function term-send-raw-string "term" (chars))
(declare-function term-line-mode "term" ())
(declare-function term-send-raw-string "term" (chars))
(declare-function term-send-raw "term" ())

(ert-deftest ptyproxy-test-term ()
  "`ptyproxy-term': output, resize following the window, C-c C-c, exit."
  (let (buffer second process)
    (unwind-protect
        (progn
          (delete-other-windows)
          (setq buffer (ptyproxy-term "/bin/sh"))
          (setq process (get-buffer-process buffer))
          (should (ptyproxy-process-p process))
          (should (eq (window-buffer) buffer))
          (should (string-prefix-p "*ptyproxy-term*" (buffer-name buffer)))
          (process-send-string process "echo hel''lo-$((6*7))\n")
          (ptyproxy-test--wait-text buffer "hello-42\\_>")
          ;; C-c C-c interrupts the terminal's job: in char mode it
          ;; sends the ^C byte to the pty; in line mode term.el would
          ;; signal ptyproxy itself, so it is rebound.
          (with-current-buffer buffer
            (dolist (mode '(char line))
              (if (eq mode 'char) (term-char-mode) (term-line-mode))
              (should (eq (key-binding (kbd "C-c C-c"))
                          (if (eq mode 'char) #'term-send-raw
                            #'ptyproxy-interrupt-subjob)))
              (process-send-string process "sleep 60\n")
              (ptyproxy-test--wait
               (lambda ()
                 (let ((shell (cdr (assq 'child_pid (ptyproxy-status process)))))
                   (and shell (ptyproxy-test--has-child-p shell "sleep"))))
               "sleep to run")
              (if (eq mode 'char)
                  (term-send-raw-string "\C-c")
                (call-interactively (key-binding (kbd "C-c C-c"))))
              (process-send-string process (format "echo sti''ll-here-%s\n" mode))
              (ptyproxy-test--wait-text buffer (format "still-here-%s\\_>" mode)))
            (term-char-mode))
          (set-window-buffer (split-window-below) (get-buffer-create "*scratch*"))
          (window--adjust-process-windows)
          (with-current-buffer buffer
            (should (< term-height 20))
            (ptyproxy-test--wait
             (lambda () (equal (process-get process 'ptyproxy-size)
                               (cons term-width term-height)))
             "the smaller size to be acknowledged")
            (process-send-string process "echo \"si\"\"ze=$(stty size)\"\n")
            (ptyproxy-test--wait-text
             buffer (format "size=%d %d\\_>" term-height term-width)))
          ;; A second M-x ptyproxy-term makes a second buffer.
          (setq second (ptyproxy-term "/bin/sh"))
          (should-not (eq second buffer))
          (should (equal (buffer-name second) "*ptyproxy-term*<2>"))
          (should (process-live-p (get-buffer-process buffer)))
          (let ((socket (ptyproxy-test--socket process)))
            (process-send-string process "exit 7\n")
            (ptyproxy-test--wait-text
             buffer "Process ptyproxy-term exited abnormally with code 7")
            (should-not (process-live-p process))
            (should (= (process-exit-status process) 7))
            (should-not (file-exists-p socket))
            (should-not (process-get process 'ptyproxy-stale-socket))))
      (delete-other-windows)
      (ptyproxy-test--cleanup second)
      (ptyproxy-test--cleanup buffer))))

(ert-deftest ptyproxy-test-term-plain-alongside ()
  "`ptyproxy-term' does not take over a plain M-x term's *terminal*."
  (require 'term)
  (let (plain ours)
    (unwind-protect
        (progn
          (setq plain (make-term "terminal" "/bin/sh"))
          (setq ours (ptyproxy-term "/bin/sh"))
          (should-not (eq plain ours))
          (should-not (ptyproxy-process-p (get-buffer-process plain)))
          (should (ptyproxy-process-p (get-buffer-process ours))))
      (ptyproxy-test--cleanup ours)
      (ptyproxy-test--cleanup plain))))

;;;; Options

(ert-deftest ptyproxy-test-options ()
  "`ptyproxy-term-name', `-working-directory', `-environment' reach the program."
  (let* ((dir (make-temp-file "ptyproxy-cwd" t))
         (ptyproxy-term-name "vt100")
         (ptyproxy-working-directory dir)
         (ptyproxy-environment '("PPX_A=one two" "PPX_B=")))
    (unwind-protect
        (ptyproxy-test--with-shell (process buffer exits)
          (should (member "--term" (process-command process)))
          (ptyproxy-test--send
           process "echo \"t=$TERM c=$(pwd -P) a=$PPX_A b=${PPX_B-unset}.\"")
          (ptyproxy-test--wait-text
           buffer (format "t=vt100 c=%s a=one two b=\\.\r?\n"
                          (regexp-quote (file-truename dir)))))
      (delete-directory dir t))))

;;;; Errors

(ert-deftest ptyproxy-test-missing-program ()
  "A missing or non-executable binary gives one `user-error' naming the option."
  (let* ((dir (make-temp-file "ptyproxy-missing" t))
         (plain-file (expand-file-name "ptyproxy" dir)))
    (unwind-protect
        (progn
          (write-region "" nil plain-file)
          (set-file-modes plain-file #o644)
          (dolist (program (list (expand-file-name "no-such-ptyproxy" dir)
                                 plain-file
                                 "no-such-ptyproxy-on-path"
                                 dir))
            (let ((ptyproxy-program program))
              (dolist (thunk (list (lambda ()
                                     (ptyproxy-make-process
                                      :name "x" :buffer nil :command '("true")))
                                   (lambda () (ptyproxy-term "/bin/sh"))))
                (let* ((buffers (buffer-list))
                       (err (should-error (funcall thunk) :type 'user-error)))
                  (should (string-match-p "[`‘]ptyproxy-program['’]" (cadr err)))
                  (should (string-match-p "swift build -c release" (cadr err)))
                  (should (string-match-p "ptyproxy-build-program" (cadr err)))
                  ;; No half-made buffer is left behind.
                  (should (equal (buffer-list) buffers)))))))
      (delete-directory dir t))))

(ert-deftest ptyproxy-test-missing-program-vterm ()
  "With the mode on and no binary, M-x vterm gives the `user-error', no buffer."
  (skip-unless (ptyproxy-test--load-vterm))
  (let ((ptyproxy-program "no-such-ptyproxy-on-path")
        (vterm-shell "/bin/sh")
        (buffers (buffer-list)))
    (ptyproxy-vterm-mode 1)
    (unwind-protect
        (progn
          (should-error (vterm (generate-new-buffer-name "*ptyproxy-test-vterm*"))
                        :type 'user-error)
          (should-error (ptyproxy-vterm) :type 'user-error)
          (should (equal (buffer-list) buffers)))
      (ptyproxy-vterm-mode -1))))

;; What a user sees when a command cannot run: one `user-error' that
;; says what is missing and how to get it, with the package's prefix
;; once, asked before anything else, and no buffer left behind.

(defun ptyproxy-test--one-prefix-p (message)
  "Return non-nil if MESSAGE starts with \"Ptyproxy: \" and says it once.
The rest names no \"Ptyproxy\" and no \"ptyproxy:\" in any case
\(names such as `ptyproxy-program' are fine)."
  (and (string-prefix-p "Ptyproxy: " message)
       (let ((rest (substring message (length "Ptyproxy: "))))
         (and (not (let ((case-fold-search nil)) (string-match-p "Ptyproxy" rest)))
              (not (let ((case-fold-search t)) (string-match-p "ptyproxy:" rest)))))))

(defun ptyproxy-test--user-buffers ()
  "Return the live buffers a user sees (no internal \" *...\" buffers)."
  (cl-remove-if (lambda (buffer) (string-prefix-p " " (buffer-name buffer)))
                (buffer-list)))

(ert-deftest ptyproxy-test-vterm-missing ()
  "`ptyproxy-vterm' without vterm: a `user-error' that says how to get it.
Run in a child Emacs whose `load-path' has no vterm."
  (let* ((library (or (locate-library "ptyproxy") (error "ptyproxy not found")))
         (out (ptyproxy-test--run-emacs
               60 "--eval"
               (format "(progn
  (load %S nil t)
  (setq ptyproxy-program %S)
  (princ (format \"VTERM-FOUND %%S\n\" (and (locate-library \"vterm\") t)))
  (let ((buffers (buffer-list)))
    (condition-case err
        (progn (ptyproxy-vterm) (princ \"NO-ERROR\n\"))
      (error (princ (format \"ERROR %%S\n\" (car err)))
             (princ (format \"MESSAGE %%s\n\" (error-message-string err)))))
    (princ (format \"SAME-BUFFERS %%S\n\" (equal buffers (buffer-list))))))"
                       library ptyproxy-program))))
    (should (string-match-p "^VTERM-FOUND nil$" out))
    (should (string-match-p "^ERROR user-error$" out))
    (should (string-match "^MESSAGE \\(.*\\)$" out))
    (let ((message (match-string 1 out)))
      (should-not (string-match-p "Cannot open load file" message))
      (should (string-match-p "needs the vterm package" message))
      (should (string-match-p "package-install RET vterm" message))
      (should (string-match-p "apt install elpa-vterm" message))
      (should (ptyproxy-test--one-prefix-p message)))
    (should (string-match-p "^SAME-BUFFERS t$" out))))

(ert-deftest ptyproxy-test-adapters-on-demand ()
  "Loading ptyproxy gives every command; an adapter loads on first use.
Run in a child Emacs that loads ptyproxy by its file name, as the
READMEs' set-up may: no adapter, vterm or term is loaded until a
command of the term adapter runs."
  (let* ((library (or (locate-library "ptyproxy") (error "ptyproxy not found")))
         (out (ptyproxy-test--run-emacs
               60 "--eval"
               (format "(progn
  (load %S nil t)
  (setq ptyproxy-program %S)
  (dolist (command '(ptyproxy-vterm ptyproxy-vterm-mode ptyproxy-term ptyproxy-list))
    (princ (format \"COMMAND %%S %%S\n\" command (commandp command))))
  (princ (format \"FUNCTION %%S\n\" (fboundp 'ptyproxy-make-term)))
  (princ (format \"LOADED %%S\n\" (cl-remove-if-not #'featurep
    '(ptyproxy-vterm ptyproxy-term vterm term))))
  (let ((buffer (ptyproxy-make-term \"ptyproxy-test-on-demand\" \"/bin/true\")))
    (princ (format \"TERM %%S %%S\n\" (featurep 'ptyproxy-term)
                   (ptyproxy-process-p (get-buffer-process buffer))))))"
                       library ptyproxy-program))))
    (dolist (command '(ptyproxy-vterm ptyproxy-vterm-mode ptyproxy-term ptyproxy-list))
      (should (string-match-p (format "^COMMAND %s t$" command) out)))
    (should (string-match-p "^FUNCTION t$" out))
    (should (string-match-p "^LOADED nil$" out))
    (should (string-match-p "^TERM t t$" out))))

(ert-deftest ptyproxy-test-customize-vterm-mode ()
  "`custom-set-variables' turns `ptyproxy-vterm-mode' on before its file loads.
Run in a child Emacs that loads ptyproxy by its file name: setting the
mode as a custom file does loads the vterm adapter and runs the mode."
  (let* ((library (or (locate-library "ptyproxy") (error "ptyproxy not found")))
         (out (ptyproxy-test--run-emacs
               60 "--eval"
               (format "(progn
  (load %S nil t)
  (custom-set-variables '(ptyproxy-vterm-mode t))
  (princ (format \"MODE %%S %%S\n\" ptyproxy-vterm-mode
                 (and (advice-member-p 'ptyproxy--vterm-setup 'vterm-mode) t))))"
                       library))))
    (should (string-match-p "^MODE t t$" out))))

(ert-deftest ptyproxy-test-list-errors ()
  "`ptyproxy-list' that cannot list: one `user-error', no *ptyproxy-list*.
With no binary the message is the missing binary's, its prefix once;
with a binary whose \"list\" fails, the message is its error line."
  (let* ((dir (make-temp-file "ptyproxy-list-errors" t))
         (failing (expand-file-name "ptyproxy" dir)))
    (unwind-protect
        (progn
          (with-temp-file failing
            (insert "#!/bin/sh\necho 'ptyproxy: cannot list: b''oom' >&2\nexit 125\n"))
          (set-file-modes failing #o755)
          (when (get-buffer "*ptyproxy-list*")
            (ptyproxy-test--cleanup (get-buffer "*ptyproxy-list*")))
          (dolist (case (list (cons "no-such-ptyproxy-on-path" "[`‘]ptyproxy-program['’]")
                              (cons failing "list failed: cannot list: boom")))
            (let ((ptyproxy-program (car case))
                  (buffers (ptyproxy-test--user-buffers)))
              (let ((err (should-error (ptyproxy-list) :type 'user-error)))
                (should (string-match-p (cdr case) (cadr err)))
                (should (ptyproxy-test--one-prefix-p (cadr err))))
              (should-not (get-buffer "*ptyproxy-list*"))
              (should (equal (ptyproxy-test--user-buffers) buffers)))))
      (delete-directory dir t))))

(ert-deftest ptyproxy-test-term-checks-program-first ()
  "M-x ptyproxy-term reports a missing binary before it asks for the program."
  (let ((ptyproxy-program "no-such-ptyproxy-on-path")
        (asked nil)
        (buffers (ptyproxy-test--user-buffers)))
    (cl-letf (((symbol-function 'read-shell-command)
               (lambda (&rest _) (setq asked t) "/bin/sh")))
      (let ((err (should-error (call-interactively #'ptyproxy-term)
                               :type 'user-error)))
        (should (string-match-p "[`‘]ptyproxy-program['’]" (cadr err)))
        (should (ptyproxy-test--one-prefix-p (cadr err)))))
    (should-not asked)
    (should (equal (ptyproxy-test--user-buffers) buffers))))

;;;; Listing sessions

(ert-deftest ptyproxy-test-parse-list ()
  "\"ptyproxy list\" lines are parsed; hostile fields are made harmless."
  (let ((sessions (ptyproxy-parse-list
                   (concat
                    "good\t{\"id\":\"good\",\"pid\":12,\"cols\":80,\"rows\":24,"
                    "\"bytes_in\":1,\"bytes_out\":2048,\"uptime\":3661.5,"
                    "\"command\":[\"sh\",\"-c\",\"\\u001b]0;pwned\\u0007\\u202e\"]}\n"
                    "bad id\t{\"id\":1}\n"
                    "notjson\t{oops\n"
                    "array\t[1,2]\n"
                    "weird\t{\"pid\":\"12\\n\",\"cols\":-1,\"command\":\"x\\ry\"}\n"))))
    (should (equal (mapcar #'car sessions) '("good" "weird")))
    (let ((entry (ptyproxy--list-entry (car sessions))))
      (should (equal (car entry) "good"))
      (should (equal (aref (cadr entry) 1) "12"))
      (should (equal (aref (cadr entry) 3) "80x24"))
      (should (equal (aref (cadr entry) 6) "1:01:01"))
      (should-not (string-match-p "[[:cntrl:]\u202e]" (aref (cadr entry) 2)))
      (should (string-match-p "\\\\x1b\\]0;pwned\\\\x07\\\\x202e" (aref (cadr entry) 2))))
    (let ((entry (ptyproxy--list-entry (cadr sessions))))
      (should (equal (aref (cadr entry) 1) "?"))
      (should (equal (aref (cadr entry) 3) "?x?"))
      (should (equal (aref (cadr entry) 2) "x\\x0dy")))))

(ert-deftest ptyproxy-test-list-buffer ()
  "`ptyproxy-list' shows the live sessions; its keys signal, resize and kill."
  (ptyproxy-test--with-shell (process buffer exits :size '(80 . 24))
    (ptyproxy-test--send process "echo rea''dy")
    (ptyproxy-test--wait-text buffer "ready\\_>")
    (let ((id (process-get process 'ptyproxy-id))
          list)
      (unwind-protect
          (progn
            (setq list (ptyproxy-list))
            (with-current-buffer list
              (should (eq major-mode 'ptyproxy-list-mode))
              (goto-char (point-min))
              (should (re-search-forward (regexp-quote id) nil t))
              (should (equal (tabulated-list-get-id) id))
              (should (equal (aref (tabulated-list-get-entry) 1)
                             (number-to-string (process-id process))))
              (should (equal (aref (tabulated-list-get-entry) 3) "80x24"))
              (should (eq (key-binding "g") #'revert-buffer))
              (should (eq (key-binding "s") #'ptyproxy-list-signal))
              (should (eq (key-binding "r") #'ptyproxy-list-resize))
              (should (eq (key-binding "k") #'ptyproxy-list-kill))
              ;; r: the size of the window showing the session's buffer
              ;; (here none is shown: the selected window's).
              (ptyproxy-list-resize)
              (let ((want (cons (window-max-chars-per-line) (window-body-height))))
                (ptyproxy-test--wait
                 (lambda () (equal (process-get process 'ptyproxy-size) want))
                 "the resize from the list"))
              ;; s: a signal to the foreground job (the shell ignores INT
              ;; when interactive, so send TERM to a `sleep').
              (ptyproxy-test--send process "sleep 60; echo sle''pt")
              (ptyproxy-test--wait
               (lambda ()
                 (let ((shell (cdr (assq 'child_pid (ptyproxy-status process)))))
                   (and shell (ptyproxy-test--has-child-p shell "sleep"))))
               "sleep to run")
              (goto-char (point-min))
              (re-search-forward (regexp-quote id))
              (ptyproxy-list-signal "TERM")
              (ptyproxy-test--wait-text buffer "slept\\_>")
              ;; k: hang up.
              (goto-char (point-min))
              (re-search-forward (regexp-quote id))
              (cl-letf (((symbol-function 'yes-or-no-p) (lambda (&rest _) t)))
                (ptyproxy-list-kill))
              (ptyproxy-test--wait (lambda () exits) "the session to end")
              (should-not (file-exists-p (ptyproxy-test--socket process)))
              (revert-buffer)
              (goto-char (point-min))
              (should-not (re-search-forward (regexp-quote id) nil t))))
        (ptyproxy-test--cleanup list)))))

(ert-deftest ptyproxy-test-status-command ()
  "`ptyproxy-status' and `ptyproxy-signal' are commands."
  (should (commandp #'ptyproxy-status))
  (should (commandp #'ptyproxy-signal))
  (should (commandp #'ptyproxy-resize))
  (ptyproxy-test--with-shell (process buffer exits :size '(81 . 25))
    (with-current-buffer buffer
      (let* ((messages nil)
             (shown (cl-letf (((symbol-function 'message)
                               (lambda (format &rest args)
                                 (push (apply #'format-message format args) messages))))
                      (call-interactively #'ptyproxy-status))))
        (should (equal (cdr (assq 'cols shown)) 81))
        (should (string-match-p "81x25" (car messages)))))))

;;;; Finding and building the program

(ert-deftest ptyproxy-test-locate-and-build ()
  "`ptyproxy-locate-program' finds the binary; the build command is Swift's."
  (let* ((dir (make-temp-file "ptyproxy-path" t))
         (fake (expand-file-name "ptyproxy" dir))
         (ptyproxy-program "unset"))
    (unwind-protect
        (progn
          (write-region "#!/bin/sh\n" nil fake)
          (set-file-modes fake #o755)
          (let ((exec-path (list dir)))
            (should (equal (ptyproxy-locate-program) fake))
            (should (equal ptyproxy-program fake)))
          (let ((exec-path nil)
                (ptyproxy--source-directory nil))
            (should-error (ptyproxy-locate-program) :type 'user-error))
          (should (equal (ptyproxy-build-command)
                         "swift build -c release -Xswiftc -static-executable"))
          ;; Building in a tree: a fake swift that makes the binary.
          (let* ((tree (file-name-as-directory (expand-file-name "tree" dir)))
                 (bin (expand-file-name "bin" dir))
                 (swift (expand-file-name "swift" bin))
                 (process-environment
                  (cons (concat "PATH=" bin ":" (getenv "PATH")) process-environment))
                 (exec-path (cons bin exec-path)))
            (make-directory tree)
            (make-directory bin)
            (write-region "" nil (expand-file-name "Package.swift" tree))
            (write-region (concat "#!/bin/sh\necho \"$@\" > args\n"
                                  "mkdir -p .build/release\n"
                                  "printf '#!/bin/sh\\n' > .build/release/ptyproxy\n"
                                  "chmod +x .build/release/ptyproxy\n")
                          nil swift)
            (set-file-modes swift #o755)
            (let ((compilation (ptyproxy-build-program tree)))
              (ptyproxy-test--wait
               (lambda () (equal ptyproxy-program
                                 (expand-file-name ".build/release/ptyproxy" tree)))
               "the build to finish")
              (with-temp-buffer
                (insert-file-contents (expand-file-name "args" tree))
                (should (equal (buffer-string)
                               "build -c release -Xswiftc -static-executable\n")))
              (ptyproxy-test--cleanup compilation))))
      (delete-directory dir t))))

;;;; Windows, in this Emacs with `system-type' bound to `windows-nt'

(defun ptyproxy-test--fake-windows-program (dir)
  "Write a fake ptyproxy.exe in DIR that records its arguments; return it.
Each call appends its arguments, each ended by \\037, and a newline to
DIR/log.  \"new\" prints a line and reads its stdin; \"status\" and
\"list\" print canned answers; \"resize\" waits while DIR/hold exists."
  (let ((fake (expand-file-name "ptyproxy.exe" dir)))
    (write-region
     (concat "#!/bin/sh\n"
             "log=\"$(dirname \"$0\")/log\"\n"
             "for a in \"$@\"; do printf '%s\\037' \"$a\"; done >> \"$log\"\n"
             "echo >> \"$log\"\n"
             "case $1 in\n"
             "new) echo fake-started; exec cat >/dev/null ;;\n"
             ;; While DIR/hold exists, a resize stays on its way (30 s at most).
             "resize) i=0; while [ -e \"$(dirname \"$0\")/hold\" ] && [ $i -lt 600 ]; do "
             "sleep 0.05; i=$((i+1)); done ;;\n"
             "status) printf '{\"id\":\"%s\",\"pid\":4242,\"cols\":77,\"rows\":22,"
             "\"bytes_in\":1,\"bytes_out\":2,\"uptime\":3,\"command\":[\"cmd.exe\"]}\\n' \"$2\" ;;\n"
             "list) printf 'win-1\\t{\"id\":\"win-1\",\"pid\":4242,\"cols\":77,\"rows\":22}\\n' ;;\n"
             "esac\n")
     nil fake)
    (set-file-modes fake #o755)
    fake))

(defun ptyproxy-test--log (dir)
  "Return the calls recorded by the fake in DIR, each a list of arguments."
  (let ((file (expand-file-name "log" dir)))
    (when (file-exists-p file)
      (with-temp-buffer
        (insert-file-contents file)
        (mapcar (lambda (line) (split-string line "\037" t))
                (split-string (buffer-string) "\n" t))))))

(defmacro ptyproxy-test--as-windows (dir &rest body)
  "Run BODY as on Windows, with the fake ptyproxy.exe in a temporary DIR.
No socket path may be computed meanwhile."
  (declare (indent 1))
  `(let* ((,dir (make-temp-file "ptyproxy-win" t))
          (ptyproxy-program (ptyproxy-test--fake-windows-program ,dir))
          (socket-calls 0)
          (spy (lambda (&rest _) (cl-incf socket-calls))))
     (advice-add 'ptyproxy-socket-directories :before spy)
     (advice-add 'ptyproxy-socket-file :before spy)
     (unwind-protect
         (let ((system-type 'windows-nt))
           ,@body
           (should (= socket-calls 0)))
       (advice-remove 'ptyproxy-socket-directories spy)
       (advice-remove 'ptyproxy-socket-file spy)
       (delete-directory ,dir t))))

(ert-deftest ptyproxy-test-msvc-quote ()
  "Arguments are quoted for a Windows command line as the C runtime parses it."
  (should (equal (ptyproxy-msvc-quote "plain") "plain"))
  (should (equal (ptyproxy-msvc-quote "") "\"\""))
  (should (equal (ptyproxy-msvc-quote "a b") "\"a b\""))
  (should (equal (ptyproxy-msvc-quote "C:\\dir\\x") "C:\\dir\\x"))
  (should (equal (ptyproxy-msvc-quote "a\"b") "\"a\\\"b\""))
  (should (equal (ptyproxy-msvc-quote "a\\\"b") "\"a\\\\\\\"b\""))
  (should (equal (ptyproxy-msvc-quote "C:\\dir name\\") "\"C:\\dir name\\\\\""))
  (should (equal (ptyproxy-windows-command-line '("cmd.exe /k echo hi"))
                 "cmd.exe /k echo hi"))
  (should (equal (ptyproxy-windows-command-line
                  '("C:\\Program Files\\pwsh.exe" "-Command" "echo \"hi\""))
                 "\"C:\\Program Files\\pwsh.exe\" -Command \"echo \\\"hi\\\"\"")))

(ert-deftest ptyproxy-test-windows-default-program ()
  "On Windows the default program is ptyproxy.exe."
  (let ((system-type 'windows-nt))
    (should (equal (eval (car (get 'ptyproxy-program 'standard-value)) t)
                   "ptyproxy.exe")))
  (let ((system-type 'gnu/linux))
    (should (equal (eval (car (get 'ptyproxy-program 'standard-value)) t)
                   "ptyproxy")))
  ;; Locating looks for ptyproxy.exe; building is the Windows program's make.
  (let* ((dir (make-temp-file "ptyproxy-win-path" t))
         (exe (expand-file-name "ptyproxy.exe" dir))
         (ptyproxy-program "unset"))
    (unwind-protect
        (let ((exec-path (list dir))
              (system-type system-type))
          (write-region "#!/bin/sh\n" nil exe)
          (set-file-modes exe #o755)
          ;; (Files are made first: with `system-type' bound, Emacs on
          ;; GNU/Linux would call Windows file name functions.)
          (setq system-type 'windows-nt)
          (should (equal (ptyproxy-locate-program) exe))
          (should (equal (ptyproxy-build-command) "make -C windows CC=gcc")))
      (delete-directory dir t))))

(ert-deftest ptyproxy-test-windows-process ()
  "On Windows: conpty_proxy.exe's command line; resize, signal, status by CLI."
  (ptyproxy-test--as-windows dir
    (let* ((buffer (generate-new-buffer " *ptyproxy-test-win*"))
           (process (ptyproxy-make-process
                     :name "win" :buffer buffer :id "win-1" :size '(100 . 30)
                     :command '("C:\\Program Files\\pwsh.exe" "-Command" "echo \"hi\""))))
      (unwind-protect
          (progn
            (ptyproxy-test--wait-text buffer "fake-started")
            (should (equal (car (ptyproxy-test--log dir))
                           '("new" "win-1" "100" "30"
                             "\"C:\\Program Files\\pwsh.exe\" -Command \"echo \\\"hi\\\"\"")))
            (should-not (process-get process 'ptyproxy-socket))
            ;; Resizes: through the CLI, coalesced.
            (ptyproxy-resize process 50 10)
            (ptyproxy-resize process 60 20)
            (ptyproxy-resize process 120 40)
            (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                                   '(120 . 40)))
                                 "the resize through the CLI")
            (should (equal (cl-remove-if-not (lambda (call) (equal (car call) "resize"))
                                             (ptyproxy-test--log dir))
                           '(("resize" "win-1" "120" "40"))))
            ;; A window change goes the same way.
            (ptyproxy--adjust-window-size process nil)
            (ptyproxy-signal process "INT")
            (ptyproxy-test--wait (lambda () (member '("signal" "win-1" "INT")
                                                    (ptyproxy-test--log dir)))
                                 "the signal through the CLI")
            (let ((status (ptyproxy-status process)))
              (should (equal (cdr (assq 'cols status)) 77))
              (should (equal (cdr (assq 'id status)) "win-1")))
            (should (member '("status" "win-1") (ptyproxy-test--log dir)))
            ;; End of file: the console's ^Z and Return.
            (should (eq (ptyproxy-send-eof process) process)))
        (ptyproxy-test--cleanup buffer)))))

(ert-deftest ptyproxy-test-windows-command-lines ()
  "On Windows: a single command line is passed as is; options before \"--\"."
  (ptyproxy-test--as-windows dir
    (let ((buffer (generate-new-buffer " *ptyproxy-test-win*")))
      (unwind-protect
          (progn
            (ptyproxy-make-process :name "win" :buffer buffer :id "w-2" :size '(80 . 24)
                                   :command '("cmd.exe /k echo a b"))
            (ptyproxy-test--wait-text buffer "fake-started")
            (should (equal (car (last (ptyproxy-test--log dir)))
                           '("new" "w-2" "80" "24" "cmd.exe /k echo a b"))))
        (ptyproxy-test--cleanup buffer))
      (setq buffer (generate-new-buffer " *ptyproxy-test-win*"))
      (unwind-protect
          (let ((ptyproxy-term-name "xterm-256color")
                (ptyproxy-working-directory "/tmp")
                (ptyproxy-environment '("A=1")))
            (ptyproxy-make-process :name "win" :buffer buffer :id "w-3" :size '(99999 . 24)
                                   :command '("powershell.exe"))
            (ptyproxy-test--wait-text buffer "fake-started")
            (should (equal (car (last (ptyproxy-test--log dir)))
                           '("new" "--term" "xterm-256color" "--cwd" "/tmp"
                             "--env" "A=1" "--" "w-3" "32767" "24" "powershell.exe"))))
        (ptyproxy-test--cleanup buffer)))))

(ert-deftest ptyproxy-test-windows-term-and-list ()
  "On Windows: `ptyproxy-term' runs cmd.exe as is; `ptyproxy-list' uses the CLI."
  (ptyproxy-test--as-windows dir
    (let (buffer list)
      (unwind-protect
          (progn
            (setq buffer (ptyproxy-term (ptyproxy--default-shell)))
            (ptyproxy-test--wait-text buffer "fake-started")
            (let ((call (car (last (ptyproxy-test--log dir))))
                  (process (get-buffer-process buffer)))
              (should (equal (car call) "new"))
              (should (equal (nth 1 call) (process-get process 'ptyproxy-id)))
              (should (equal (nthcdr 2 call)
                             (list (number-to-string (with-current-buffer buffer term-width))
                                   (number-to-string (with-current-buffer buffer term-height))
                                   "cmd.exe")))
              (should-not (process-get process 'ptyproxy-socket)))
            (setq list (ptyproxy-list))
            (should (member '("list") (ptyproxy-test--log dir)))
            (with-current-buffer list
              (goto-char (point-min))
              (should (re-search-forward "win-1" nil t))
              (should (equal (aref (tabulated-list-get-entry) 1) "4242"))
              (ptyproxy-list-signal "INT")
              (ptyproxy-test--wait (lambda () (member '("signal" "win-1" "INT")
                                                      (ptyproxy-test--log dir)))
                                   "the list's signal through the CLI")
              ;; r: a session of another program: "ptyproxy.exe resize".
              (goto-char (point-min))
              (re-search-forward "win-1")
              (ptyproxy-list-resize)
              (let ((want (list "resize" "win-1"
                                (number-to-string (window-max-chars-per-line))
                                (number-to-string (window-body-height)))))
                (ptyproxy-test--wait (lambda () (member want (ptyproxy-test--log dir)))
                                     "the list's resize through the CLI"))
              (goto-char (point-min))
              (re-search-forward "win-1")
              ;; (No native trampoline for the primitive: it would be
              ;; compiled into a file named as on Windows.)
              (let ((comp-enable-subr-trampolines nil)
                    (native-comp-enable-subr-trampolines nil))
                (cl-letf (((symbol-function 'yes-or-no-p) (lambda (&rest _) t)))
                  (ptyproxy-list-kill)))
              (ptyproxy-test--wait (lambda () (member '("signal" "win-1" "TERM")
                                                      (ptyproxy-test--log dir)))
                                   "the list's hang-up through the CLI")))
        (ptyproxy-test--cleanup list)
        (ptyproxy-test--cleanup buffer)))))

(ert-deftest ptyproxy-test-windows-vterm ()
  "On Windows: vterm's shell runs as a command line, without sh and stty."
  (skip-unless (ptyproxy-test--load-vterm))
  (ptyproxy-test--as-windows dir
    (let ((vterm-shell "powershell.exe -NoLogo")
          buffer)
      (unwind-protect
          (progn
            (setq buffer (ptyproxy-vterm (generate-new-buffer-name "*ptyproxy-test-vterm*")))
            (let ((process (get-buffer-process buffer)))
              (should (ptyproxy-process-p process))
              (ptyproxy-test--wait (lambda () (ptyproxy-test--log dir)) "the fake to start")
              (let ((call (car (last (ptyproxy-test--log dir)))))
                (should (equal (car call) "new"))
                (should (equal (nth 1 call) (process-get process 'ptyproxy-id)))
                (should (string-match-p "\\`[0-9]+\\'" (nth 2 call)))
                (should (string-match-p "\\`[0-9]+\\'" (nth 3 call)))
                (should (equal (nthcdr 4 call) '("powershell.exe -NoLogo"))))))
        (ptyproxy-test--cleanup buffer)))))

;;;; Windows: Unicode arguments, pipes, resize (issue 22)

(defvar w32-pipe-buffer-size)
(defvar w32-pipe-read-delay)
(defvar w32-quote-process-args)
(defvar term-home-marker)
(defvar term-height)
(declare-function term-mode "term" ())
(declare-function term-reset-size "term" (height width))
(declare-function term-char-mode "term" ())
(declare-function term-send-raw-string "term" (chars))
(declare-function term-emulate-terminal "term" (proc str))
(declare-function vterm--conpty-proxy-resize "vterm" (&rest args))
(declare-function vterm--conpty-proxy-debounce-resize "vterm" (width height))

(defun ptyproxy-test--percent-decode (string)
  "Return the text that STRING, percent-encoded UTF-8, stands for."
  (decode-coding-string
   (apply #'unibyte-string
          (let ((i 0) bytes)
            (while (< i (length string))
              (if (eq (aref string i) ?%)
                  (progn (push (string-to-number (substring string (1+ i) (+ i 3)) 16) bytes)
                         (setq i (+ i 3)))
                (push (aref string i) bytes)
                (setq i (1+ i))))
            (nreverse bytes)))
   'utf-8-unix t))

(ert-deftest ptyproxy-test-percent-encode ()
  "Arguments are percent-encoded UTF-8, printable ASCII only, and decode back."
  (should (equal (ptyproxy-percent-encode "plain \"quoted\" C:\\dir") "plain \"quoted\" C:\\dir"))
  (should (equal (ptyproxy-percent-encode "100%") "100%25"))
  (should (equal (ptyproxy-percent-encode "C:/Users/José") "C:/Users/Jos%C3%A9"))
  (should (equal (ptyproxy-percent-encode "日本") "%E6%97%A5%E6%9C%AC"))
  (should (equal (ptyproxy-percent-encode "a\tb\nc\177") "a%09b%0Ac%7F"))
  (should (equal (ptyproxy-percent-encode "\U0001F600") "%F0%9F%98%80"))
  ;; Every character of these strings, whatever its script, comes back.
  (let ((samples (list "" "%%" "Jos\u00e9 \u65e5\u672c \u0416 \u05e9\u05dc\u05d5\u05dd"
                       (apply #'string (number-sequence 1 300))
                       (apply #'string (number-sequence #x10000 #x10100 7)))))
    (dolist (sample samples)
      (let ((encoded (ptyproxy-percent-encode sample)))
        (should-not (string-match-p "[^ -~]" encoded))
        (should (equal (ptyproxy-test--percent-decode encoded) sample))))))

(ert-deftest ptyproxy-test-windows-unicode-arguments ()
  "On Windows: non-ASCII arguments go percent-encoded; pipes are tuned."
  (ptyproxy-test--as-windows dir
    (let* ((seen nil)
           (spy (lambda (&rest _)
                  (push (list (and (boundp 'w32-pipe-buffer-size) w32-pipe-buffer-size)
                              (and (boundp 'w32-quote-process-args) w32-quote-process-args))
                        seen)))
           (buffer (generate-new-buffer " *ptyproxy-test-win*")))
      ;; No native trampoline: this file's calls go through the symbol.
      (let ((comp-enable-subr-trampolines nil)
            (native-comp-enable-subr-trampolines nil))
        (advice-add 'make-process :before spy))
      (unwind-protect
          (let ((ptyproxy-new-arguments '("--cwd" "C:\\Users\\José"))
                (ptyproxy-environment '("GREETING=日本")))
            (ptyproxy-make-process :name "win" :buffer buffer :id "w-u" :size '(80 . 24)
                                   :command '("cmd.exe" "/k" "echo 日本 100%"))
            (ptyproxy-test--wait-text buffer "fake-started")
            (should (equal (car (last (ptyproxy-test--log dir)))
                           '("new" "--arg-encoding" "percent"
                             "--cwd" "C:\\Users\\Jos%C3%A9" "--env" "GREETING=%E6%97%A5%E6%9C%AC"
                             "--" "w-u" "80" "24"
                             "cmd.exe /k \"echo %E6%97%A5%E6%9C%AC 100%25\"")))
            ;; 64 KiB pipes, and arguments quoted by Emacs.
            (should (equal (car seen) (list 65536 t))))
        (advice-remove 'make-process spy)
        (ptyproxy-test--cleanup buffer)))))

(ert-deftest ptyproxy-test-windows-read-delay-warning ()
  "On Windows: a `w32-pipe-read-delay' above 0 is warned about, once."
  (ptyproxy-test--as-windows dir
    (let ((warnings nil)
          (ptyproxy--read-delay-warned nil)
          (buffers nil))
      (cl-letf (((symbol-function 'display-warning)
                 (lambda (_type message &rest _) (push message warnings))))
        (unwind-protect
            (dolist (delay '(0 50 50))
              (let ((w32-pipe-read-delay delay)
                    (buffer (generate-new-buffer " *ptyproxy-test-win*")))
                (push buffer buffers)
                (ptyproxy-make-process :name "win" :buffer buffer :command '("cmd.exe"))
                (ptyproxy-test--wait-text buffer "fake-started")))
          (mapc #'ptyproxy-test--cleanup buffers)))
      (should (= (length warnings) 1))
      (should (string-match-p "w32-pipe-read-delay' is 50" (car warnings))))))

(defun ptyproxy-test--resize-calls (dir)
  "Return the \"resize\" calls recorded by the fake in DIR."
  (cl-remove-if-not (lambda (call) (equal (car call) "resize"))
                    (ptyproxy-test--log dir)))

(ert-deftest ptyproxy-test-windows-resize-debounce ()
  "On Windows: each size restarts the timer; one \"resize\" runs at a time."
  (ptyproxy-test--as-windows dir
    (let ((buffer (generate-new-buffer " *ptyproxy-test-win*"))
          (hold (expand-file-name "hold" dir))
          ;; The timers are run by the test, never by the clock.
          (ptyproxy-windows-resize-delay 1000))
      (unwind-protect
          (let ((process (ptyproxy-make-process :name "win" :buffer buffer :id "w-r"
                                                :size '(80 . 24) :command '("cmd.exe"))))
            (ptyproxy-test--wait-text buffer "fake-started")
            (ptyproxy-resize process 50 10)
            (let ((first (process-get process 'ptyproxy-resize-timer)))
              (should (timerp first))
              (sleep-for 0.01)
              (ptyproxy-resize process 60 20)
              (let ((second (process-get process 'ptyproxy-resize-timer)))
                ;; Debounced: the first timer is gone, the second runs later.
                (should (timerp second))
                (should-not (eq first second))
                (should-not (memq first timer-list))
                (should (time-less-p (timer--time first) (timer--time second)))
                (let ((system-type 'gnu/linux))
                  (write-region "" nil hold))
                (cancel-timer second)
                (apply (timer--function second) (timer--args second))))
            (ptyproxy-test--wait (lambda () (ptyproxy-test--resize-calls dir))
                                 "the first resize to start")
            ;; While it is on its way, new sizes wait: no timer, no process.
            (ptyproxy-resize process 70 30)
            (ptyproxy-resize process 80 40)
            (should-not (process-get process 'ptyproxy-resize-timer))
            (should (= (cl-count-if (lambda (p) (string-prefix-p " *ptyproxy resize" (process-name p)))
                                    (process-list))
                       1))
            (let ((system-type 'gnu/linux))
              (delete-file hold))
            (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size) '(80 . 40)))
                                 "the last size to be sent")
            (should (equal (ptyproxy-test--resize-calls dir)
                           '(("resize" "w-r" "60" "20") ("resize" "w-r" "80" "40")))))
        (ptyproxy-test--cleanup buffer)))))

;;;; Windows: term.el on ConPTY's output (issue 22)

(ert-deftest ptyproxy-test-conpty-split ()
  "ECH and OSC are taken out of ConPTY's output; cut-off sequences are held."
  (should (equal (ptyproxy--conpty-split "plain \e[31mred\e[m")
                 '(("plain \e[31mred\e[m") . "")))
  (should (equal (ptyproxy--conpty-split "ab\e[5Xcd\e[X\e]0;Title\ae\e]2;T2\e\\")
                 '(("ab" (erase . 5) "cd" (erase . 1) (osc . "0;Title") "e" (osc . "2;T2")) . "")))
  ;; Cut off at the end: held back, whatever the sequence.
  (dolist (tail '("\e" "\e[" "\e[12" "\e[?25" "\e]" "\e]0;half a ti" "\e]0;x\e"))
    (should (equal (ptyproxy--conpty-split (concat "text" tail))
                   (cons '("text") tail))))
  ;; So is a character cut off, and only then.
  (should (equal (ptyproxy--conpty-split "ab\303") '(("ab") . "\303")))
  (should (equal (ptyproxy--conpty-split "\346\227") '(nil . "\346\227")))
  (should (equal (ptyproxy--conpty-split "\346\227\245") '(("\346\227\245") . "")))
  (should (equal (ptyproxy--conpty-split "\360\237\230") '(nil . "\360\237\230")))
  (should (equal (ptyproxy--conpty-split "a\303\251") '(("a\303\251") . "")))
  ;; An OSC that never ends is not held forever.
  (let ((long (concat "\e]0;" (make-string 5000 ?x))))
    (should (equal (ptyproxy--conpty-split long) (cons (list long) "")))))

(defconst ptyproxy-test--directory
  (file-name-as-directory
   (or (getenv "PTYPROXY_TEST_DIRECTORY")
       (file-name-directory (or load-file-name buffer-file-name))))
  "The directory of this file's sources and fixtures.
run-tests.sh loads a compiled copy from elsewhere and says where the
sources are in PTYPROXY_TEST_DIRECTORY.")

(defun ptyproxy-test--fixture (name)
  "Return the contents of the fixture NAME as a unibyte string."
  (with-temp-buffer
    (set-buffer-multibyte nil)
    (insert-file-contents-literally
     (expand-file-name name ptyproxy-test--directory))
    (buffer-string)))

(defun ptyproxy-test--term-screen (buffer)
  "Return the screen of the term BUFFER as the fixture writes it."
  (with-current-buffer buffer
    (let ((lines (split-string (buffer-substring-no-properties term-home-marker (point-max))
                               "\n")))
      (concat (mapconcat (lambda (i) (string-trim-right (or (nth i lines) "")))
                         (number-sequence 0 (1- term-height)) "\n")
              "\ntitle: " (or ptyproxy-term-title "") "\n"))))

(defun ptyproxy-test--replay (filter data chunk-sizes)
  "Give DATA to FILTER for an 80x24 term buffer; return its screen.
DATA goes in pieces of CHUNK-SIZES, a list of sizes used in turn."
  (let* ((buffer (generate-new-buffer " *ptyproxy-test-replay*"))
         (process nil))
    (unwind-protect
        (with-current-buffer buffer
          (term-mode)
          (term-reset-size 24 80)
          (setq process (make-process :name "replay" :buffer buffer :command '("cat")
                                      :connection-type 'pipe :coding 'binary :noquery t))
          (set-marker (process-mark process) (point))
          ;; As in `ptyproxy-term' (in line mode, term.el keeps the text
          ;; after the cursor as the user's input).
          (term-char-mode)
          (let ((start 0) (sizes chunk-sizes))
            (while (< start (length data))
              (let ((end (min (length data) (+ start (car sizes)))))
                (funcall filter process (substring data start end))
                (setq start end
                      sizes (or (cdr sizes) chunk-sizes)))))
          (ptyproxy-test--term-screen buffer))
      (when process (delete-process process))
      (ptyproxy-test--cleanup buffer))))

(ert-deftest ptyproxy-test-conpty-replay ()
  "ConPTY's output through the Windows filter: term.el shows what pyte shows.
The fixture is real output of ptyproxy.exe under Wine (a title, UTF-8
text, cls, dir) with ECH and OSC written as Windows sends them; its
screen is pyte's rendering (see conpty-capture.py).  The locale's
coding is a Windows code page, as on Windows."
  (require 'term)
  (let ((data (ptyproxy-test--fixture "conpty-capture.bin"))
        (want (decode-coding-string (ptyproxy-test--fixture "conpty-capture.screen") 'utf-8-unix))
        (filter (let ((system-type 'windows-nt)) (ptyproxy--term-filter)))
        (locale-coding-system 'cp1252))
    (should (string-match-p "日本" want))
    (should (string-match-p "^erase-   please$" want))
    ;; Read whole, and read in pieces that cut every kind of sequence.
    (dolist (sizes (list (list (length data)) '(1) '(7 3 1 13 2) '(64 5)))
      (should (equal (ptyproxy-test--replay filter data sizes) want)))
    ;; term.el by itself shows something else (so the comparison can fail).
    (should-not (equal (ptyproxy-test--replay #'term-emulate-terminal data (list (length data)))
                       want))))

(ert-deftest ptyproxy-test-conpty-erase-at-pending-wrap ()
  "ECH right after the last column is written erases that column, as xterm does.
The cursor stays on the line: the next line's text is not pushed down."
  (require 'term)
  (let ((filter (let ((system-type 'windows-nt)) (ptyproxy--term-filter)))
        (data (concat (make-string 79 ?x) "y\e[5X\r\nnext")))
    (dolist (sizes (list (list (length data)) '(1) '(80 3)))
      (let ((screen (split-string (ptyproxy-test--replay filter data sizes) "\n")))
        (should (equal (nth 0 screen) (make-string 79 ?x)))
        (should (equal (nth 1 screen) "next"))))))

;;;; vterm forks on Windows (issue 22)

(defmacro ptyproxy-test--with-functions (definitions &rest body)
  "Run BODY with the functions DEFINITIONS ((NAME FUNCTION)...) defined.
Functions that were not defined before are undefined again after."
  (declare (indent 1))
  (let ((saved (make-symbol "saved")))
    `(let ((,saved (mapcar (lambda (d) (cons (car d) (symbol-function (car d))))
                           ',definitions)))
       (unwind-protect
           (progn ,@(mapcar (lambda (d) `(fset ',(car d) ,(cadr d))) definitions)
                  ,@body)
         (dolist (entry ,saved)
           (fset (car entry) (cdr entry)))))))

(ert-deftest ptyproxy-test-vterm-fork-proxy-era-resize ()
  "kiennq's vterm fork of its proxy era: its own resize is suppressed.
Stand-ins define the fork's functions as 58e8863 (resize WIDTH HEIGHT),
714368f to 72c804b (debounce-resize WIDTH HEIGHT) and v0.0.2.24 to
v0.0.2.29 (resize PROCESS WIDTH HEIGHT) do; each addresses the fork's
own proxy with the process's `conpty-id' and fails without one."
  (let ((variants
         (list (lambda (_process _windows) (vterm--conpty-proxy-resize 90 25))
               (lambda (_process _windows) (vterm--conpty-proxy-debounce-resize 90 25))
               (lambda (process _windows) (vterm--conpty-proxy-resize process 90 25))))
        (fork-resize
         (lambda (&rest args)
           (let ((process (if (processp (car args)) (car args) (get-buffer-process (current-buffer)))))
             (unless (stringp (and process (process-get process 'conpty-id)))
               (signal 'wrong-type-argument (list 'stringp nil))))
           (cons 0 0))))
    (ptyproxy-test--with-functions ((vterm--conpty-proxy-resize fork-resize)
                                    (vterm--conpty-proxy-debounce-resize fork-resize))
      (ptyproxy-test--as-windows dir
        (let ((ptyproxy-windows-resize-delay 0.01) (n 0))
          (dolist (variant variants)
            (let* ((buffer (generate-new-buffer " *ptyproxy-test-win*"))
                   (id (format "w-v%d" (cl-incf n))))
              (unwind-protect
                  (let ((process (ptyproxy-make-process :name "win" :buffer buffer :id id
                                                        :size '(80 . 24) :command '("cmd.exe")))
                        (sizes nil))
                    (ptyproxy-test--wait-text buffer "fake-started")
                    ;; What `ptyproxy--vterm-setup' does with vterm's size function.
                    (process-put process 'ptyproxy-adjust-window-size-function
                                 (lambda (process windows)
                                   (funcall variant process windows)
                                   (push (cons 90 25) sizes)
                                   (cons 90 25)))
                    (with-current-buffer buffer
                      (should-not (ptyproxy--adjust-window-size process nil)))
                    (should (equal sizes '((90 . 25))))
                    (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                                           '(90 . 25)))
                                         "ptyproxy's own resize")
                    (should (equal (ptyproxy-test--resize-calls dir)
                                   (list (list "resize" id "90" "25"))))
                    (let ((system-type 'gnu/linux))
                      (delete-file (expand-file-name "log" dir))))
                (ptyproxy-test--cleanup buffer)))))))
    ;; The stand-ins are gone again.
    (should-not (fboundp 'vterm--conpty-proxy-debounce-resize))))

(ert-deftest ptyproxy-test-vterm-fork-in-process ()
  "kiennq's vterm fork since v0.1.34 has ConPTY inside: said so, nothing run.
A stand-in defines the fork's module function `vterm--conpty-init'."
  (skip-unless (ptyproxy-test--load-vterm))
  (ptyproxy-test--with-functions ((vterm--conpty-init (lambda (&rest _) t)))
    (let ((system-type 'gnu/linux))
      ;; On GNU/Linux the fork uses a pty, like vterm.
      (should-not (ptyproxy--vterm-in-process-p)))
    (ptyproxy-test--as-windows dir
      (should (ptyproxy--vterm-in-process-p))
      (let ((buffers (buffer-list)))
        (should (string-match-p
                 "does not use ptyproxy"
                 (cadr (should-error (ptyproxy-vterm "*ptyproxy-test-inproc*")
                                     :type 'user-error))))
        (should (equal (buffer-list) buffers)))
      ;; `ptyproxy-vterm-mode': vterm runs as it is, with one warning.
      (let ((warnings nil) (ptyproxy--vterm-in-process-warned nil))
        (cl-letf (((symbol-function 'display-warning)
                   (lambda (_type message &rest _) (push message warnings))))
          (should (eq (ptyproxy--vterm-setup (lambda () 'vterm-ran)) 'vterm-ran))
          (should (eq (ptyproxy--vterm-setup (lambda () 'vterm-ran)) 'vterm-ran)))
        (should (= (length warnings) 1))
        (should (string-match-p "kiennq's fork" (car warnings))))
      (should-not (ptyproxy-test--log dir)))))

;;;; term.el through the real ptyproxy.exe under Wine (issue 22)

(defun ptyproxy-test--winpath (file)
  "Return the Windows name under Wine of the local FILE (drive Z:)."
  (concat "Z:" (replace-regexp-in-string "/" "\\\\" (expand-file-name file))))

(defun ptyproxy-test--wine-ready-p ()
  "Return non-nil when run-tests.sh has set up ptyproxy.exe under Wine."
  (cl-every (lambda (name)
              (let ((value (getenv name)))
                (and value (file-exists-p value))))
            '("PTYPROXY_WINE_EXE" "PTYPROXY_WINE_CONHELPER" "WINEPREFIX")))

(ert-deftest ptyproxy-test-wine-term ()
  "term.el through the real ptyproxy.exe under Wine, as on Windows.
The Windows branch of the package is forced (`system-type'), the
locale's coding is a Windows code page, the working directory and
the command line hold José and 日本, and Wine's conhost is a real
ConPTY.  Checked: the program starts in that directory with that
command line, its UTF-8 output and typed input, the title it sets,
a resize through \"ptyproxy.exe resize\", and its exit status."
  (skip-unless (ptyproxy-test--wine-ready-p))
  (require 'term)
  (let* ((ptyproxy-test-timeout 90)    ; each Wine program starts slowly
         (dir (make-temp-file "ptyproxy-test-wine" t))
         (unicode (expand-file-name "José日本" dir))
         (ptyproxy-program (expand-file-name "wine-ptyproxy.sh" ptyproxy-test--directory))
         (ptyproxy-new-arguments (list "--cwd" (ptyproxy-test--winpath unicode)))
         (ptyproxy-windows-resize-delay 0.1)
         (locale-coding-system 'cp1252)
         (results nil)
         (spy (lambda (_process size result) (push (cons size result) results)))
         buffer process)
    (make-directory unicode)
    (advice-add 'ptyproxy--size-sent :after spy)
    (unwind-protect
        (let ((system-type 'windows-nt))
          (setq buffer (ptyproxy-term
                        (format "%s cmd.exe /k echo started-日本-José"
                                (ptyproxy-test--winpath (getenv "PTYPROXY_WINE_CONHELPER")))))
          (setq process (get-buffer-process buffer))
          ;; The command line and the working directory arrived whole.
          (ptyproxy-test--wait-text buffer "^started-日本-José *$")
          (ptyproxy-test--wait-text buffer "José日本>")
          ;; Typed input (as term.el's char mode sends keys), and output
          ;; in UTF-8.
          (with-current-buffer buffer
            (term-send-raw-string "echo typed-日本 %CD%\r"))
          (ptyproxy-test--wait-text buffer "^typed-日本 Z:.*\\\\José日本 *$")
          ;; A title: kept, not shown as text, no bell.
          (with-current-buffer buffer
            (term-send-raw-string "title Wine-日本\r"))
          (ptyproxy-test--wait (lambda () (equal (buffer-local-value 'ptyproxy-term-title buffer)
                                                 "Wine-日本"))
                               "the title")
          (should-not (ptyproxy-test--buffer-has buffer "\e\\|\a\\|0;"))
          ;; Resize through the CLI: it reaches the session, which
          ;; resizes (Windows, newer Wine) or answers that Wine 8's
          ;; ResizePseudoConsole is not implemented.
          (ptyproxy-resize process 100 30)
          (ptyproxy-test--wait (lambda () results) "the resize through ptyproxy.exe")
          (let ((result (cdar (last results))))
            (should (or (eq result t)
                        (string-match-p "resize failed.*80004001" result))))
          ;; The exit status is the program's.
          (process-send-string process "exit 7\r")
          (ptyproxy-test--wait (lambda () (memq (process-status process) '(exit signal)))
                               "cmd.exe to exit")
          (should (eq (process-status process) 'exit))
          (should (= (process-exit-status process) 7)))
      (advice-remove 'ptyproxy--size-sent spy)
      (ptyproxy-test--cleanup buffer)
      (delete-directory dir t))))

;;;; No advice on Emacs's functions; first use

(defun ptyproxy-test--ptyproxy-advice ()
  "Return (SYMBOL . FUNCTION) for every advice of this package on any function."
  (let (found)
    (mapatoms
     (lambda (symbol)
       (when (fboundp symbol)
         (advice-mapc (lambda (function _props)
                        (when (and (symbolp function)
                                   (string-prefix-p "ptyproxy" (symbol-name function)))
                          (push (cons symbol function) found)))
                      symbol))))
    found))

(defun ptyproxy-test--advised-builtins ()
  "Return the built-in functions (primitives and preloaded) that are advised."
  (let (found)
    (mapatoms
     (lambda (symbol)
       (when (and (fboundp symbol)
                  (advice--p (advice--symbol-function symbol))
                  (subrp (advice--cd*r (advice--symbol-function symbol))))
         (push symbol found))))
    found))

(ert-deftest ptyproxy-test-no-advice ()
  "Using ptyproxy advises no built-in function, during or after."
  (let ((before (ptyproxy-test--advised-builtins))
        (vterm (ptyproxy-test--load-vterm))
        buffers)
    (unwind-protect
        (progn
          (ptyproxy-test--with-shell (process buffer exits)
            (ptyproxy-test--send process "echo rea''dy")
            (ptyproxy-test--wait-text buffer "ready\\_>")
            (should-not (ptyproxy-test--ptyproxy-advice))
            (ptyproxy-signal process "INT")
            (ptyproxy-resize process 70 20))
          (push (ptyproxy-term "/bin/sh") buffers)
          (when vterm
            (let ((vterm-shell "/bin/sh"))
              (push (ptyproxy-vterm) buffers)
              (should-not (ptyproxy-test--ptyproxy-advice))
              (ptyproxy-vterm-mode 1)
              (push (vterm (generate-new-buffer-name "*ptyproxy-test-vterm*")) buffers)
              (should (ptyproxy-process-p (get-buffer-process (car buffers))))
              ;; While the mode is on, vterm's `vterm-mode' (only) is advised.
              (should (equal (ptyproxy-test--ptyproxy-advice)
                             '((vterm-mode . ptyproxy--vterm-setup))))
              (ptyproxy-vterm-mode -1)))
          (should-not (ptyproxy-test--ptyproxy-advice))
          (should (equal (ptyproxy-test--advised-builtins) before))
          (dolist (buffer buffers) (ptyproxy-test--cleanup buffer))
          (ptyproxy-test--wait (lambda () (null (ptyproxy--live-processes)))
                               "the last ptyproxy process to end")
          (should-not (ptyproxy-test--ptyproxy-advice))
          (should (equal (ptyproxy-test--advised-builtins) before))
          ;; `advice-member-p' of every function of this package on every
          ;; built-in.
          (let (functions)
            (mapatoms (lambda (s) (when (and (fboundp s)
                                             (string-prefix-p "ptyproxy" (symbol-name s)))
                                    (push s functions))))
            (mapatoms
             (lambda (symbol)
               (when (and (fboundp symbol) (subrp (advice--cd*r (symbol-function symbol))))
                 (dolist (f functions)
                   (should-not (advice-member-p f symbol))))))))
      (ptyproxy-vterm-mode -1)
      (dolist (buffer buffers) (ptyproxy-test--cleanup buffer)))))

(defun ptyproxy-test--run-emacs (timeout &rest args)
  "Run Emacs with ARGS in batch mode, at most TIMEOUT seconds; return stdout."
  (let* ((output (generate-new-buffer " *ptyproxy-test-emacs*"))
         (process (make-process :name "emacs" :buffer output
                                :command (append (list (expand-file-name invocation-name
                                                                         invocation-directory)
                                                       "-Q" "--batch")
                                                 args)
                                :connection-type 'pipe
                                :stderr (get-buffer-create " *ptyproxy-test-stderr*"))))
    (unwind-protect
        (progn
          (ptyproxy-test--wait (lambda () (not (process-live-p process)))
                               "the child Emacs" timeout)
          (with-current-buffer output (buffer-string)))
      (when (process-live-p process) (delete-process process))
      (kill-buffer output))))

(ert-deftest ptyproxy-test-first-use-cost ()
  "The first vterm through ptyproxy costs less than 50 ms more than plain vterm.
Each round is a fresh Emacs with an empty native compilation cache
\(native compilation on when this Emacs has it): plain `(vterm)' first,
then `(ptyproxy-vterm)'.  The median of three rounds is compared."
  (skip-unless (ptyproxy-test--load-vterm))
  (let* ((library (or (locate-library "ptyproxy") (error "ptyproxy not found")))
         (vterm-dir (file-name-directory (locate-library "vterm")))
         (module-dir (file-name-directory (or (locate-library "vterm-module.so")
                                              (locate-library "vterm-module")
                                              (locate-library "vterm"))))
         (script
          (format "(progn
  (when (and (fboundp 'native-comp-available-p) (native-comp-available-p))
    (let ((cache (make-temp-file \"ppx-eln\" t)))
      (add-hook 'kill-emacs-hook (lambda () (delete-directory cache t)))
      (setq native-comp-eln-load-path (cons cache (last native-comp-eln-load-path)))))
  (add-to-list 'load-path %S) (add-to-list 'load-path %S)
  (require 'vterm) (load %S nil t)
  (setq ptyproxy-program %S vterm-shell \"/bin/sh\")
  (let* ((t0 (float-time)) (a (vterm \"plain\")) (t1 (float-time))
         (b (ptyproxy-vterm \"through\")) (t2 (float-time)))
    (unless (ptyproxy-process-p (get-buffer-process b)) (error \"not through ptyproxy\"))
    (princ (format \"RESULT %%f %%f %%s\\n\" (- t1 t0) (- t2 t1)
                   (and (fboundp 'native-comp-available-p) (native-comp-available-p))))
    (dolist (buf (list a b))
      (let ((p (get-buffer-process buf)))
        (set-process-query-on-exit-flag p nil)
        (signal-process p 'SIGHUP)))
    ;; Reap them before exiting (else init must).
    (let ((deadline (+ (float-time) 10)))
      (while (and (or (process-live-p (get-buffer-process a))
                      (process-live-p (get-buffer-process b)))
                  (< (float-time) deadline))
        (accept-process-output nil 0.05)))))"
                  vterm-dir module-dir library (ptyproxy--check-program)))
         (diffs nil))
    (dotimes (_ 3)
      (let ((out (ptyproxy-test--run-emacs 60 "--eval" script)))
        (should (string-match "RESULT \\([0-9.]+\\) \\([0-9.]+\\) \\(.*\\)" out))
        (let ((plain (string-to-number (match-string 1 out)))
              (through (string-to-number (match-string 2 out))))
          (message "first (vterm): plain %.1f ms, through ptyproxy %.1f ms, native-comp %s"
                   (* 1000 plain) (* 1000 through) (match-string 3 out))
          (push (- through plain) diffs))))
    (let ((median (nth 1 (sort diffs #'<))))
      (message "first use through ptyproxy costs %.1f ms more (median of 3)"
               (* 1000 median))
      (should (< median 0.050)))))

;;;; vterm's ICRNL handling

(ert-deftest ptyproxy-test-vterm-icrnl ()
  "Return in vterm reaches the program as on vterm's own pty, ICRNL on or off."
  (skip-unless (ptyproxy-test--load-vterm))
  (let ((vterm-shell "/bin/sh")
        buffer)
    (unwind-protect
        (progn
          (setq buffer (ptyproxy-vterm (generate-new-buffer-name "*ptyproxy-test-vterm*")))
          (should (ptyproxy-process-p (get-buffer-process buffer)))
          ;; Type only once the shell is reading (vterm's "stty sane"
          ;; runs first, and input typed before it may be discarded).
          (ptyproxy-test--wait-text buffer "^[#$] ")
          (dolist (case '(("icrnl" . "0a") ("-icrnl" . "0d")))
            (let ((tag (if (equal (car case) "icrnl") "on" "off")))
              (ptyproxy-test--vterm-send
               buffer (format "stty %s -icanon min 1; echo rea''dy-%s; \
dd bs=1 count=1 2>/dev/null | od -An -tx1 | tr -d ' ' | sed 's/^/got-%s=/'; stty icrnl icanon"
                              (car case) tag tag))
              (ptyproxy-test--wait-text buffer (format "^ready-%s" tag))
              (with-current-buffer buffer (vterm-send-return))
              (ptyproxy-test--wait-text buffer (format "got-%s=%s" tag (cdr case))))))
      (ptyproxy-test--cleanup buffer))))

(provide 'ptyproxy-test)
;;; ptyproxy-test.el ends here
