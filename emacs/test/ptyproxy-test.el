;;; ptyproxy-test.el --- ERT tests of ptyproxy.el  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run with emacs/run-tests.sh, or by hand:
;;
;;   PTYPROXY_PROGRAM=/path/to/ptyproxy emacs -Q --batch -L emacs \
;;     -l emacs/test/ptyproxy-test.el -f ert-run-tests-batch-and-exit
;;
;; The tests run real shells through the real ptyproxy program.  Every
;; wait is for an observable condition (text in a buffer, a process
;; state, a file), bounded by `ptyproxy-test-timeout'.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'ptyproxy)

(defvar ptyproxy-test-timeout 15
  "Seconds any single wait in these tests may take before it fails.")

(let ((program (getenv "PTYPROXY_PROGRAM")))
  (when (and program (not (equal program "")))
    (setq ptyproxy-program program)))

;;;; Helpers

(defun ptyproxy-test--wait (predicate what &optional timeout)
  "Wait until PREDICATE returns non-nil; return its value.
Fail the test, mentioning WHAT, after TIMEOUT (default
`ptyproxy-test-timeout') seconds."
  (let ((deadline (+ (float-time) (or timeout ptyproxy-test-timeout)))
        value)
    (while (and (not (setq value (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value
        (ert-fail (list "Timed out waiting for" what)))))

(defun ptyproxy-test--buffer-has (buffer regexp)
  "Return non-nil when BUFFER's text matches REGEXP."
  (and (buffer-live-p buffer)
       (with-current-buffer buffer
         (save-excursion
           (goto-char (point-min))
           (re-search-forward regexp nil t)))))

(defun ptyproxy-test--wait-text (buffer regexp)
  "Wait until BUFFER's text matches REGEXP."
  (ptyproxy-test--wait (lambda () (ptyproxy-test--buffer-has buffer regexp))
                       (format "%S in %s; text: %S" regexp buffer
                               (and (buffer-live-p buffer)
                                    (with-current-buffer buffer
                                      (buffer-substring-no-properties
                                       (max (point-min) (- (point-max) 600))
                                       (point-max)))))))

(defun ptyproxy-test--pid-alive-p (pid)
  "Return non-nil if a process with PID exists (and is not a zombie)."
  (let ((attributes (process-attributes pid)))
    (and attributes (not (equal (cdr (assq 'state attributes)) "Z")))))

(defun ptyproxy-test--has-child-p (pid command)
  "Return non-nil if process PID has a child whose command name is COMMAND."
  (cl-some (lambda (line)
             (let ((fields (split-string line)))
               (and (equal (car fields) (number-to-string pid))
                    (equal (file-name-nondirectory (or (cadr fields) "")) command))))
           (process-lines "ps" "-A" "-o" "ppid=,comm=")))

(defun ptyproxy-test--cleanup (buffer)
  "Kill BUFFER and its process without asking."
  (when (buffer-live-p buffer)
    (let ((process (get-buffer-process buffer)))
      (when process
        (set-process-query-on-exit-flag process nil)))
    (let ((kill-buffer-query-functions nil))
      (kill-buffer buffer))))

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
                                        (file-exists-p (process-get p 'ptyproxy-socket)))
                                  ,exits)))
              ,@args)))
       (ignore ,exits)
       (unwind-protect (progn ,@body)
         (ptyproxy-test--cleanup ,buffer)))))

(defun ptyproxy-test--send (process line)
  "Send LINE and a newline to PROCESS."
  (process-send-string process (concat line "\n")))

;;;; Plain processes

(ert-deftest ptyproxy-test-socket-file ()
  "The socket file name follows the rule of docs/INTERFACE.md."
  (let ((process-environment (append '("XDG_RUNTIME_DIR=/run/user/7")
                                     process-environment)))
    (should (equal (ptyproxy-socket-file "a-b.c")
                   "/run/user/7/ptyproxy/a-b.c.sock")))
  (let ((process-environment (append '("XDG_RUNTIME_DIR=" "TMPDIR=/var/tmp/")
                                     process-environment)))
    (should (equal (ptyproxy-socket-file "x")
                   (format "/var/tmp/ptyproxy-%d/x.sock" (user-real-uid)))))
  (let ((process-environment (append '("XDG_RUNTIME_DIR" "TMPDIR")
                                     process-environment)))
    (should (equal (ptyproxy-socket-directory)
                   (format "/tmp/ptyproxy-%d" (user-real-uid))))))

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
    (should (file-exists-p (process-get process 'ptyproxy-socket)))))

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
    ;; The generic Emacs entry point goes the same way.
    (set-process-window-size process 12 70)
    (ptyproxy-test--wait (lambda () (equal (process-get process 'ptyproxy-size)
                                           '(70 . 12)))
                         "acknowledged size 70x12")
    (ptyproxy-test--send process "echo \"si\"\"ze=$(stty size)\"")
    (ptyproxy-test--wait-text buffer "size=12 70\\_>")))

(ert-deftest ptyproxy-test-resize-fallback ()
  "Without a reachable socket, the size goes through \"ptyproxy resize\"."
  (ptyproxy-test--with-shell (process buffer exits :size '(80 . 24))
    (let ((socket (process-get process 'ptyproxy-socket)))
      (process-put process 'ptyproxy-socket
                   (concat (ptyproxy-socket-directory) "/no-such-session.sock"))
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
    (let ((socket (process-get process 'ptyproxy-socket))
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
  "`interrupt-process' reaches the terminal's foreground job, not ptyproxy."
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
    (interrupt-process process)
    ;; Without the interrupt, this would only be echoed after 60 s.
    (ptyproxy-test--send process "echo sti''ll-here")
    (ptyproxy-test--wait-text buffer "still-here\\_>")
    (should (process-live-p process))))

(ert-deftest ptyproxy-test-send-eof ()
  "`process-send-eof' acts as on a pty: the pipe stays open."
  (ptyproxy-test--with-shell (process buffer exits)
    (ptyproxy-test--send process "cat >/dev/null; echo cat-''done")
    (process-send-eof process)
    (ptyproxy-test--wait-text buffer "cat-done\\_>")
    (ptyproxy-test--send process "echo sti''ll-here")
    (ptyproxy-test--wait-text buffer "still-here\\_>")))

(ert-deftest ptyproxy-test-kill-buffer ()
  "Killing the buffer ends the proxy and its shell and leaves no socket."
  (ptyproxy-test--with-shell (process buffer exits)
    (let ((socket (process-get process 'ptyproxy-socket))
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
  "Deleting the process leaves no socket file and no shell behind."
  (ptyproxy-test--with-shell (process buffer exits)
    (let ((socket (process-get process 'ptyproxy-socket))
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
      (should-not (file-exists-p socket))
      (ptyproxy-test--wait (lambda () (not (ptyproxy-test--pid-alive-p child)))
                           "the shell to end"))))

;;;; vterm

(defun ptyproxy-test--load-vterm ()
  "Load vterm if it can be found; return non-nil if it is loaded."
  (or (featurep 'vterm)
      (let ((dirs (append (let ((dir (getenv "PTYPROXY_VTERM_DIR")))
                            (and dir (not (equal dir "")) (list dir)))
                          (file-expand-wildcards
                           "/usr/share/emacs/site-lisp/elpa/vterm-*")
                          (file-expand-wildcards
                           "/usr/lib/*/emacs-libvterm"))))
        (dolist (dir dirs)
          (add-to-list 'load-path dir))
        (condition-case nil
            (progn (require 'vterm) t)
          (error nil)))))

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
          (let ((socket (process-get process 'ptyproxy-socket))
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

(ert-deftest ptyproxy-test-term ()
  "`ptyproxy-term': output, resize following the window, exit message."
  (let (buffer process)
    (unwind-protect
        (progn
          (delete-other-windows)
          (when (get-buffer "*terminal*")
            (ptyproxy-test--cleanup (get-buffer "*terminal*")))
          (setq buffer (ptyproxy-term "/bin/sh"))
          (setq process (get-buffer-process buffer))
          (should (ptyproxy-process-p process))
          (should (eq (window-buffer) buffer))
          (process-send-string process "echo hel''lo-$((6*7))\n")
          (ptyproxy-test--wait-text buffer "hello-42\\_>")
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
          (let ((socket (process-get process 'ptyproxy-socket)))
            (process-send-string process "exit 7\n")
            (ptyproxy-test--wait-text
             buffer "Process terminal exited abnormally with code 7")
            (should-not (process-live-p process))
            (should (= (process-exit-status process) 7))
            (should-not (file-exists-p socket))
            (should-not (process-get process 'ptyproxy-stale-socket))))
      (delete-other-windows)
      (ptyproxy-test--cleanup buffer))))

(provide 'ptyproxy-test)
;;; ptyproxy-test.el ends here
