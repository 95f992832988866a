;;; ptyproxy.el --- Terminals on a real pty through ptyproxy  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy authors

;; Author: The ptyproxy authors
;; Version: 0.2.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: terminals, processes, unix

;; This file is not part of GNU Emacs.

;;; Commentary:

;; ptyproxy is a small program that runs a command on a pseudo
;; terminal of its own and relays the terminal's data over plain
;; pipes (its stdin and stdout).  Window size changes and signals
;; reach the session through a Unix control socket.  It is
;; call-compatible with conpty_proxy.exe, the helper vterm users run
;; on Windows.
;;
;; Emacs talks to such a process over pipes, which are cheap and have
;; no line discipline of their own between Emacs and the program, while
;; the program still sees a real terminal.
;;
;; This package provides:
;;
;; - `ptyproxy-make-process': like `make-process', but the command runs
;;   on a pty through "ptyproxy new".
;; - `ptyproxy-resize', `ptyproxy-signal', `ptyproxy-status': talk to a
;;   session's control socket directly from Emacs.
;; - `ptyproxy-vterm-mode': a global minor mode under which vterm starts
;;   its shell through ptyproxy.
;; - `ptyproxy-term': like M-x term, but through ptyproxy.
;;
;; Window size changes of a process started through ptyproxy are
;; routed to its control socket, and so are `interrupt-process' and
;; friends (they reach the terminal's foreground process group, as
;; with a pty), and `process-send-eof' sends the terminal's end of
;; file character instead of closing the pipe.
;;
;; Usage:
;;
;;   (require 'ptyproxy)
;;   (setq ptyproxy-program "/path/to/ptyproxy")
;;   (ptyproxy-vterm-mode 1)     ; M-x vterm now goes through ptyproxy
;;   ;; M-x ptyproxy-term is M-x term through ptyproxy.

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)

(defgroup ptyproxy nil
  "Run terminal programs on a pty through the ptyproxy program."
  :group 'processes
  :prefix "ptyproxy-")

(defcustom ptyproxy-program "ptyproxy"
  "The ptyproxy executable.
Either a file name, or a program name looked up in variable `exec-path'."
  :type 'string)

(defcustom ptyproxy-new-arguments nil
  "Extra options given to \"ptyproxy new\", such as (\"--hangup-grace\" \"1\").
See \"ptyproxy --help\" for the options."
  :type '(repeat string))

(defcustom ptyproxy-resize-delay 0.05
  "Seconds to wait before sending a window size to a session.
Size changes within this time are coalesced: only the last one is sent."
  :type 'number)

(defcustom ptyproxy-control-timeout 5
  "Seconds to wait for a reply on a session's control socket."
  :type 'number)

(defcustom ptyproxy-default-size '(80 . 24)
  "Terminal size (COLUMNS . ROWS) used when the buffer is not in a window."
  :type '(cons (integer :tag "Columns") (integer :tag "Rows")))

(defvar ptyproxy--counter 0
  "Number of session identifiers made by this Emacs so far.")

;;;; Identifiers and file names

(defun ptyproxy-new-id ()
  "Return a fresh session identifier, unique to this Emacs and this call."
  (format "emacs-%d-%d-%06x" (emacs-pid) (cl-incf ptyproxy--counter)
          (random #x1000000)))

(defun ptyproxy--nonempty-env (name)
  "Return the value of environment variable NAME, or nil if unset or empty."
  (let ((value (getenv name)))
    (and value (not (equal value "")) value)))

(defun ptyproxy-socket-directory ()
  "Return the directory of ptyproxy's control sockets.
It is computed from `process-environment' as ptyproxy computes it:
$XDG_RUNTIME_DIR/ptyproxy when XDG_RUNTIME_DIR is set and not empty,
else ${TMPDIR:-/tmp}/ptyproxy-UID."
  (let ((runtime (ptyproxy--nonempty-env "XDG_RUNTIME_DIR")))
    (if runtime
        (concat (file-name-as-directory runtime) "ptyproxy")
      (concat (file-name-as-directory
               (or (ptyproxy--nonempty-env "TMPDIR") "/tmp"))
              (format "ptyproxy-%d" (user-real-uid))))))

(defun ptyproxy-socket-file (id)
  "Return the control socket file of the session named ID."
  (concat (file-name-as-directory (ptyproxy-socket-directory)) id ".sock"))

(defun ptyproxy--saved-environment ()
  "Return the entries of `process-environment' that locate control sockets."
  (mapcar (lambda (name)
            (let ((value (getenv name)))
              (if value (concat name "=" value) name)))
          '("XDG_RUNTIME_DIR" "TMPDIR")))

(defun ptyproxy--program ()
  "Return `ptyproxy-program', with a leading \"~\" expanded."
  (if (string-prefix-p "~" ptyproxy-program)
      (expand-file-name ptyproxy-program)
    ptyproxy-program))

(defun ptyproxy-process-p (object)
  "Return non-nil if OBJECT is a process started through ptyproxy."
  (and (processp object) (process-get object 'ptyproxy-id) t))

(defun ptyproxy--clamp (n)
  "Return the integer N limited to the sizes ptyproxy accepts."
  (unless (integerp n)
    (signal 'wrong-type-argument (list 'integerp n)))
  (max 1 (min 65535 n)))

(defun ptyproxy--window-size (buffer)
  "Return (COLUMNS . ROWS) of a window showing BUFFER.
Return `ptyproxy-default-size' when BUFFER is not in any window."
  (let* ((buffer (and buffer (get-buffer buffer)))
         (window (and buffer (get-buffer-window buffer t))))
    (if window
        (cons (window-max-chars-per-line window) (window-body-height window))
      ptyproxy-default-size)))

;;;; Creating processes

(defun ptyproxy--plist-without (plist keys)
  "Return a copy of the property list PLIST without the properties KEYS."
  (let (result)
    (while plist
      (unless (memq (car plist) keys)
        (setq result (cl-list* (cadr plist) (car plist) result)))
      (setq plist (cddr plist)))
    (nreverse result)))

(defun ptyproxy--command (id size command)
  "Return the argument list of \"ptyproxy new\" for session ID.
SIZE is (COLUMNS . ROWS); COMMAND is the program and its arguments."
  (unless (and (consp command) (cl-every #'stringp command))
    (signal 'wrong-type-argument (list 'ptyproxy-command command)))
  ;; ptyproxy runs a single argument containing whitespace through
  ;; "/bin/sh -c" (conpty_proxy.exe does that).  `make-process' takes
  ;; an argument vector, so such a program name is passed through a
  ;; shell that executes it as is.
  (when (and (null (cdr command)) (string-match-p "[ \t\n]" (car command)))
    (setq command (list "/bin/sh" "-c" "exec \"$0\"" (car command))))
  `(,(ptyproxy--program) "new" ,@ptyproxy-new-arguments "--" ,id
                      ,(number-to-string (car size))
                      ,(number-to-string (cdr size))
                      ,@command))

;;;###autoload
(defun ptyproxy-make-process (&rest args)
  "Start a process on a pty through ptyproxy; return the process object.
ARGS are keyword arguments as for `make-process' (:name, :buffer,
:command, :filter, :sentinel, :coding, :noquery, :stop, :stderr ...).
The :command runs as \"ptyproxy new -- ID COLS ROWS COMMAND...\";
Emacs talks to ptyproxy over pipes, and the command sees a terminal.

Keywords specific to this function:

:size (COLUMNS . ROWS) -- the initial terminal size.  The default is
the size of a window showing the buffer, or `ptyproxy-default-size'.

:id ID -- the session identifier; the default is a fresh one from
`ptyproxy-new-id'.

:coding defaults to `no-conversion' both ways.  :connection-type
and :file-handler are ignored: the connection is a pipe, and the
process runs on this machine.

The process's status is the command's: ptyproxy exits with the
command's exit status.  The process has the properties `ptyproxy-id'
\(the session identifier), `ptyproxy-socket' (its control socket) and
`ptyproxy-size' (the last size the session acknowledged)."
  (let* ((buffer (plist-get args :buffer))
         (size (or (plist-get args :size) (ptyproxy--window-size buffer)))
         (size (cons (ptyproxy--clamp (car size)) (ptyproxy--clamp (cdr size))))
         (id (or (plist-get args :id) (ptyproxy-new-id)))
         (coding (if (plist-member args :coding)
                     (plist-get args :coding)
                   'no-conversion))
         (command (ptyproxy--command id size (plist-get args :command)))
         (rest (ptyproxy--plist-without
                args '(:command :connection-type :file-handler :coding
                                :size :id)))
         (process-connection-type nil)
         (process (apply #'make-process
                         :command command
                         :connection-type 'pipe
                         :coding coding
                         rest)))
    (ptyproxy--install-advice)
    (process-put process 'ptyproxy-id id)
    (process-put process 'ptyproxy-socket (ptyproxy-socket-file id))
    (process-put process 'ptyproxy-environment (ptyproxy--saved-environment))
    (process-put process 'ptyproxy-size size)
    (process-put process 'ptyproxy-requested-size size)
    (process-put process 'ptyproxy-resize-count 0)
    (ptyproxy--watch-exit process)
    process))

(defun ptyproxy--watch-exit (process)
  "Arrange for `ptyproxy--cleanup' to run after PROCESS's sentinel.
Call this again after replacing the sentinel with `set-process-sentinel'."
  (add-function :after (process-sentinel process) #'ptyproxy--cleanup))

(defun ptyproxy--cleanup (process &rest _)
  "Cancel the timer of the dead ptyproxy PROCESS; remove a stale socket.
If ptyproxy could not remove its control socket (it was killed), the
stale socket file is removed here."
  (when (and (ptyproxy-process-p process)
             (memq (process-status process) '(exit signal)))
    (let ((timer (process-get process 'ptyproxy-resize-timer)))
      (when (timerp timer)
        (cancel-timer timer)))
    (process-put process 'ptyproxy-resize-timer nil)
    (let ((socket (process-get process 'ptyproxy-socket)))
      (when (and socket (file-exists-p socket))
        (process-put process 'ptyproxy-stale-socket t)
        (ignore-errors (delete-file socket))))))

;;;; The control socket

(defun ptyproxy--control-filter (connection output)
  "Collect OUTPUT of the control CONNECTION; hand over its reply line."
  (let ((pending (concat (process-get connection 'ptyproxy-pending) output)))
    (process-put connection 'ptyproxy-pending pending)
    (when (string-match "\n" pending)
      (ptyproxy--control-done connection (substring pending 0 (match-beginning 0)))
      (delete-process connection))))

(defun ptyproxy--control-sentinel (connection _event)
  "Report a failure if the control CONNECTION closed before a reply."
  (unless (process-live-p connection)
    (ptyproxy--control-done connection nil)))

(defun ptyproxy--control-done (connection reply)
  "Call the callback of the control CONNECTION once, with REPLY."
  (let ((callback (process-get connection 'ptyproxy-callback)))
    (process-put connection 'ptyproxy-callback nil)
    (let ((timer (process-get connection 'ptyproxy-timer)))
      (when (timerp timer)
        (cancel-timer timer)))
    (when callback
      (funcall callback reply))))

(defun ptyproxy--control-timeout (connection)
  "Give up waiting for a reply on the control CONNECTION."
  (ptyproxy--control-done connection nil)
  (delete-process connection))

(defun ptyproxy--request (process request callback)
  "Send the line REQUEST to the control socket of the ptyproxy PROCESS.
Call CALLBACK with the reply line (without its newline), or with nil
if the socket could not be reached or did not answer."
  (let ((connection
         (condition-case nil
             (make-network-process
              :name (format " *ptyproxy-control %s*" (process-get process 'ptyproxy-id))
              :family 'local
              :service (process-get process 'ptyproxy-socket)
              :buffer nil
              :coding 'binary
              :noquery t
              :filter #'ptyproxy--control-filter
              :sentinel #'ptyproxy--control-sentinel)
           (error nil))))
    (if (not connection)
        (funcall callback nil)
      (process-put connection 'ptyproxy-pending "")
      (process-put connection 'ptyproxy-callback callback)
      (process-put connection 'ptyproxy-timer
                   (run-at-time ptyproxy-control-timeout nil
                                #'ptyproxy--control-timeout connection))
      (condition-case nil
          (process-send-string connection (concat request "\n"))
        (error (ptyproxy--control-done connection nil)
               (delete-process connection))))))

(defun ptyproxy--run-cli (process arguments callback)
  "Run ptyproxy with ARGUMENTS for the session of PROCESS.
Call CALLBACK with the exit status and the output when it is done."
  (let ((process-environment (append (process-get process 'ptyproxy-environment)
                                     process-environment))
        (process-connection-type nil)
        (output ""))
    (condition-case err
        (make-process
         :name (format " *ptyproxy %s*" (car arguments))
         :buffer nil
         :command (cons (ptyproxy--program) arguments)
         :connection-type 'pipe
         :coding 'binary
         :noquery t
         :filter (lambda (_proc string) (setq output (concat output string)))
         :sentinel (lambda (proc _event)
                     (unless (process-live-p proc)
                       (funcall callback (process-exit-status proc) output))))
      (error (funcall callback 127 (error-message-string err))))))

(defun ptyproxy--request-or-cli (process request arguments callback)
  "Send REQUEST to PROCESS's session, else run ptyproxy with ARGUMENTS.
The socket is tried first; if it cannot be reached, \"ptyproxy
ARGUMENTS...\" is run instead.  CALLBACK receives t on success, or a
string describing the failure."
  (ptyproxy--request
   process request
   (lambda (reply)
     (cond
      ((null reply)
       (ptyproxy--run-cli
        process arguments
        (lambda (status output)
          (funcall callback
                   (if (eq status 0)
                       t
                     (format "ptyproxy %s exited with %s: %s"
                             (car arguments) status (string-trim output)))))))
      ((string-prefix-p "ok" reply) (funcall callback t))
      (t (funcall callback reply))))))

;;;; Window size

(defun ptyproxy-resize (process cols rows)
  "Set the terminal size of the ptyproxy PROCESS to COLS columns, ROWS rows.
The size is sent shortly after (see `ptyproxy-resize-delay'); when
several sizes are asked for in that time, only the last one is sent.
It is sent on the control socket, or by \"ptyproxy resize\" when the
socket cannot be reached.  Return the size as (COLS . ROWS)."
  (unless (ptyproxy-process-p process)
    (signal 'wrong-type-argument (list 'ptyproxy-process-p process)))
  (let ((size (cons (ptyproxy--clamp cols) (ptyproxy--clamp rows))))
    (process-put process 'ptyproxy-pending-size size)
    (unless (or (timerp (process-get process 'ptyproxy-resize-timer))
                (process-get process 'ptyproxy-resize-busy))
      (process-put process 'ptyproxy-resize-timer
                   (run-at-time ptyproxy-resize-delay nil
                                #'ptyproxy--send-size process)))
    size))

(defun ptyproxy--send-size (process)
  "Send the pending size of the ptyproxy PROCESS to its session."
  (process-put process 'ptyproxy-resize-timer nil)
  (let ((size (process-get process 'ptyproxy-pending-size)))
    (process-put process 'ptyproxy-pending-size nil)
    (when (and size
               (process-live-p process)
               (not (equal size (process-get process 'ptyproxy-requested-size))))
      (process-put process 'ptyproxy-requested-size size)
      (process-put process 'ptyproxy-resize-busy t)
      (process-put process 'ptyproxy-resize-count
                   (1+ (or (process-get process 'ptyproxy-resize-count) 0)))
      (let ((cols (number-to-string (car size)))
            (rows (number-to-string (cdr size))))
        (ptyproxy--request-or-cli
         process (concat "resize " cols " " rows)
         (list "resize" (process-get process 'ptyproxy-id) cols rows)
         (lambda (result)
           (ptyproxy--size-sent process size result)))))))

(defconst ptyproxy--resize-retries 20
  "How many times a size that could not be sent is sent again.
A session's control socket appears shortly after ptyproxy starts.")

(defun ptyproxy--size-sent (process size result)
  "Note that SIZE was sent to the ptyproxy PROCESS with RESULT.
RESULT is t on success, else a string saying what failed."
  (process-put process 'ptyproxy-resize-busy nil)
  (if (eq result t)
      (progn (process-put process 'ptyproxy-size size)
             (process-put process 'ptyproxy-resize-retries 0))
    (process-put process 'ptyproxy-requested-size nil)
    (let ((retries (or (process-get process 'ptyproxy-resize-retries) 0)))
      (when (process-live-p process)
        (if (>= retries ptyproxy--resize-retries)
            (message "ptyproxy: resize failed: %s" result)
          (process-put process 'ptyproxy-resize-retries (1+ retries))
          (unless (process-get process 'ptyproxy-pending-size)
            (process-put process 'ptyproxy-pending-size size))))))
  ;; A size asked for while this one was on its way, or a retry.
  (when (and (process-get process 'ptyproxy-pending-size)
             (process-live-p process)
             (not (timerp (process-get process 'ptyproxy-resize-timer))))
    (process-put process 'ptyproxy-resize-timer
                 (run-at-time (if (eq result t) 0 0.1) nil
                              #'ptyproxy--send-size process))))

;;;; Signals and status

(defun ptyproxy-signal (process signal)
  "Send SIGNAL to the foreground process group of PROCESS's terminal.
PROCESS was started through ptyproxy.  SIGNAL is a name such as
\"INT\" or `INT', or a number.  This is asynchronous."
  (unless (ptyproxy-process-p process)
    (signal 'wrong-type-argument (list 'ptyproxy-process-p process)))
  (let ((name (if (numberp signal) (number-to-string signal) (format "%s" signal))))
    (ptyproxy--request-or-cli
     process (concat "signal " name)
     (list "signal" (process-get process 'ptyproxy-id) name)
     (lambda (result)
       (unless (eq result t)
         (message "ptyproxy: signal %s failed: %s" name result))))
    process))

(defun ptyproxy--wait-reply (process request)
  "Send REQUEST to PROCESS's control socket and wait for the reply line.
While the socket cannot be reached (the session is starting), try
again.  Return the reply, or nil after `ptyproxy-control-timeout'
seconds."
  (let ((deadline (+ (float-time) ptyproxy-control-timeout))
        (reply nil)
        (done nil))
    (while (and (not reply) (process-live-p process)
                (< (float-time) deadline))
      (setq done nil)
      (ptyproxy--request process request
                         (lambda (line) (setq reply line done t)))
      (while (and (not done) (< (float-time) deadline))
        (accept-process-output nil 0.02))
      (unless reply
        (accept-process-output nil 0.05)))
    reply))

(defun ptyproxy-status (process)
  "Return the status of PROCESS's ptyproxy session as an alist.
The keys are those of the control socket's status reply (`id', `pid',
`child_pid', `cols', `rows', `bytes_in', `bytes_out', `uptime',
`command').  Return nil if the session does not answer."
  (let ((reply (and (ptyproxy-process-p process)
                    (ptyproxy--wait-reply process "status"))))
    (when (and reply (string-prefix-p "ok " reply))
      (let ((json-object-type 'alist)
            (json-array-type 'list))
        (json-read-from-string (substring reply 3))))))

;;;; Pty semantics for ptyproxy processes

(defun ptyproxy--resolve (process)
  "Return the process that PROCESS designates, as process functions do.
PROCESS is a process, a buffer, a name, or nil for the current buffer."
  (cond ((processp process) process)
        ((null process) (get-buffer-process (current-buffer)))
        ((bufferp process) (get-buffer-process process))
        ((stringp process) (or (get-process process)
                               (and (get-buffer process)
                                    (get-buffer-process process))))))

(defun ptyproxy--set-process-window-size (orig process height width)
  "Resize the ptyproxy PROCESS to WIDTH by HEIGHT, or call ORIG for others."
  (if (ptyproxy-process-p process)
      (progn (when (process-live-p process)
               (ptyproxy-resize process width height))
             t)
    (funcall orig process height width)))

(defun ptyproxy--signal-advice (signal)
  "Return an :around advice sending SIGNAL to ptyproxy processes' terminals.
The advice calls the original function for other processes."
  (lambda (orig &optional process current-group)
    (let ((proc (ptyproxy--resolve process)))
      (if (and (ptyproxy-process-p proc) (process-live-p proc))
          (ptyproxy-signal proc signal)
        (funcall orig process current-group)))))

(defalias 'ptyproxy--interrupt-process (ptyproxy--signal-advice "INT")
  "Send SIGINT to a ptyproxy terminal's foreground process group.")
(defalias 'ptyproxy--quit-process (ptyproxy--signal-advice "QUIT")
  "Send SIGQUIT to a ptyproxy terminal's foreground process group.")
(defalias 'ptyproxy--stop-process (ptyproxy--signal-advice "TSTP")
  "Send SIGTSTP to a ptyproxy terminal's foreground process group.")
(defalias 'ptyproxy--continue-process (ptyproxy--signal-advice "CONT")
  "Send SIGCONT to a ptyproxy terminal's foreground process group.")

(defun ptyproxy--kill-process (orig &optional process current-group)
  "Call ORIG with PROCESS and CURRENT-GROUP, unless it is a ptyproxy process.
With CURRENT-GROUP non-nil, send SIGKILL to the terminal's foreground
process group, as for a pty."
  (let ((proc (ptyproxy--resolve process)))
    (if (and current-group (ptyproxy-process-p proc) (process-live-p proc))
        (ptyproxy-signal proc "KILL")
      (funcall orig process current-group))))

(defun ptyproxy--process-send-eof (orig &optional process)
  "Call ORIG with PROCESS, unless it is a ptyproxy process.
For a ptyproxy process, send the end of file character, as Emacs does
for a pty, instead of closing the pipe."
  (let ((proc (ptyproxy--resolve process)))
    (if (and (ptyproxy-process-p proc) (process-live-p proc))
        (progn (process-send-string proc "\C-d") proc)
      (funcall orig process))))

(defun ptyproxy--delete-process (&optional process)
  "Clean up after the ptyproxy PROCESS, which was just deleted."
  (let ((proc (ptyproxy--resolve process)))
    (when (ptyproxy-process-p proc)
      (ptyproxy--cleanup proc))))

(defconst ptyproxy--advice
  '((set-process-window-size :around ptyproxy--set-process-window-size)
    (interrupt-process :around ptyproxy--interrupt-process)
    (quit-process :around ptyproxy--quit-process)
    (stop-process :around ptyproxy--stop-process)
    (continue-process :around ptyproxy--continue-process)
    (kill-process :around ptyproxy--kill-process)
    (process-send-eof :around ptyproxy--process-send-eof)
    (delete-process :after ptyproxy--delete-process))
  "Advice that gives ptyproxy processes the behaviour of pty processes.
Each advice acts on processes started through ptyproxy only.")

(defun ptyproxy--install-advice ()
  "Install `ptyproxy--advice'."
  (pcase-dolist (`(,symbol ,how ,function) ptyproxy--advice)
    (advice-add symbol how function)))

(defun ptyproxy--remove-advice ()
  "Remove `ptyproxy--advice'."
  (pcase-dolist (`(,symbol ,_how ,function) ptyproxy--advice)
    (advice-remove symbol function)))

;;;; Sending the next process of a buffer through ptyproxy

(defvar ptyproxy--redirect nil
  "While non-nil, (BUFFER . SIZE-FUNCTION) of the next process to redirect.
The next `make-process' for BUFFER starts through ptyproxy, with the
terminal size that SIZE-FUNCTION returns, called in BUFFER.")

(defun ptyproxy--redirect-make-process (orig &rest args)
  "Call ORIG with ARGS, or `ptyproxy-make-process' if asked to redirect."
  (let ((redirect ptyproxy--redirect)
        (buffer (plist-get args :buffer)))
    (if (and redirect
             (plist-get args :command)
             buffer
             (eq (get-buffer buffer) (car redirect)))
        (let ((size (with-current-buffer (car redirect)
                      (funcall (cdr redirect)))))
          (setq ptyproxy--redirect nil)
          (apply #'ptyproxy-make-process :size size args))
      (apply orig args))))

(defun ptyproxy--call-redirected (size-function function &rest args)
  "Call FUNCTION with ARGS, starting the current buffer's process through ptyproxy.
SIZE-FUNCTION returns the initial terminal size (COLUMNS . ROWS)."
  (let ((ptyproxy--redirect (cons (current-buffer) size-function)))
    (advice-add 'make-process :around #'ptyproxy--redirect-make-process)
    (unwind-protect
        (apply function args)
      (advice-remove 'make-process #'ptyproxy--redirect-make-process))))

;;;; vterm

(defvar vterm-min-window-width)
(declare-function vterm--get-margin-width "vterm" ())

(defun ptyproxy--vterm-size ()
  "Return the size (COLUMNS . ROWS) vterm gives a new terminal."
  (cons (max (- (window-body-width) (vterm--get-margin-width))
             vterm-min-window-width)
        (window-body-height)))

(defun ptyproxy--vterm-set-pty-name (orig term name)
  "Call ORIG with TERM and NAME, unless NAME is nil (a pipe process)."
  (when name
    (funcall orig term name)))

(defun ptyproxy--vterm-mode (orig &rest args)
  "Call `vterm-mode' (ORIG) with ARGS, its shell going through ptyproxy."
  (cond
   ((file-remote-p default-directory)
    (apply orig args))
   ((not (executable-find (ptyproxy--program)))
    (display-warning 'ptyproxy
                     (format "Program %s not found; vterm uses a pty of its own"
                             ptyproxy-program))
    (apply orig args))
   (t
    (advice-add 'vterm--set-pty-name :around #'ptyproxy--vterm-set-pty-name)
    (unwind-protect
        (apply #'ptyproxy--call-redirected #'ptyproxy--vterm-size orig args)
      (advice-remove 'vterm--set-pty-name #'ptyproxy--vterm-set-pty-name)))))

;;;###autoload
(define-minor-mode ptyproxy-vterm-mode
  "Toggle running vterm's shells through ptyproxy.
While this global mode is on, a new vterm buffer starts its shell
through \"ptyproxy new\" over pipes instead of on a pty of Emacs, and
its window size reaches the shell's terminal through ptyproxy's
control socket.  Buffers made while the mode was off are not changed,
and buffers made while it was on keep using ptyproxy."
  :global t
  :group 'ptyproxy
  (if ptyproxy-vterm-mode
      (advice-add 'vterm-mode :around #'ptyproxy--vterm-mode)
    (advice-remove 'vterm-mode #'ptyproxy--vterm-mode)))

;;;; term

(defvar term-height)
(defvar term-width)
(defvar explicit-shell-file-name)
(declare-function term-mode "term" ())
(declare-function term-char-mode "term" ())

(defun ptyproxy--term-size ()
  "Return the size (COLUMNS . ROWS) term.el gives a new terminal."
  (cons term-width term-height))

;;;###autoload
(defun ptyproxy-make-term (name program &optional startfile &rest switches)
  "Make a term process NAME running PROGRAM through ptyproxy.
This is `make-term' (which see), with PROGRAM started by
`ptyproxy-make-process'.
NAME, PROGRAM, STARTFILE and SWITCHES are as for `make-term'.
Return the buffer."
  (require 'term)
  (let ((buffer (get-buffer-create (concat "*" name "*"))))
    (with-current-buffer buffer
      (apply #'ptyproxy--call-redirected #'ptyproxy--term-size
             #'make-term name program startfile switches)
      (let ((process (get-buffer-process buffer)))
        ;; term.el replaced the sentinel.
        (when (ptyproxy-process-p process)
          (ptyproxy--watch-exit process))))
    buffer))

;;;###autoload
(defun ptyproxy-term (program)
  "Start a terminal emulator like `term', with PROGRAM run through ptyproxy.
The buffer is in Term mode and char mode; its window size follows
the window through ptyproxy's control socket."
  (interactive (list (read-shell-command "Run program: "
                                         (or explicit-shell-file-name
                                             (getenv "ESHELL")
                                             shell-file-name))))
  (let ((buffer (ptyproxy-make-term "terminal" program)))
    (set-buffer buffer)
    (term-char-mode)
    (switch-to-buffer buffer)))

;;;; Unloading

(defun ptyproxy-unload-function ()
  "Remove ptyproxy's advice before the feature `ptyproxy' is unloaded."
  (ptyproxy-vterm-mode -1)
  (ptyproxy--remove-advice)
  (advice-remove 'make-process #'ptyproxy--redirect-make-process)
  (advice-remove 'vterm--set-pty-name #'ptyproxy--vterm-set-pty-name)
  nil)

(provide 'ptyproxy)
;;; ptyproxy.el ends here
