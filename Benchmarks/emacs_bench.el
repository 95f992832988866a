;;; emacs_bench.el --- one measurement of Benchmarks/emacs_bench.py  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Run by Benchmarks/emacs_bench.py in a fresh `emacs -Q --batch' for
;; each measurement.  The environment says what to measure:
;;
;;   BENCH_KIND       throughput | echo | intr | firstuse
;;   BENCH_CONTENDER  pty | pipe | ptyproxy | c-relay
;;                    | vterm | vterm-ptyproxy | vterm-c-relay
;;                    | term | term-ptyproxy | term-c-relay
;;   BENCH_FILE       the file `cat' prints (throughput)
;;   BENCH_KEYS       keystrokes to time (echo)
;;   BENCH_FLOOD      bytes of the flood that must have arrived before
;;                    ^C is sent (intr)
;;   BENCH_C_RELAY    the compiled Benchmarks/c-relay.c (the c-relay
;;                    contenders: started where ptyproxy would be, with
;;                    the package's own code for term and vterm)
;;   BENCH_RPOM       `read-process-output-max' (default: Emacs's)
;;   BENCH_ADAPTIVE   "t" to turn `process-adaptive-read-buffering' on
;;                    for the plain contenders (ptyproxy turns it off)
;;   BENCH_CODING     the coding system of pty, pipe and ptyproxy
;;                    processes (default binary)
;;   BENCH_PPX_ARGS   more options of "ptyproxy new" (space-separated)
;;   PTYPROXY_PROGRAM, BENCH_EMACS_LISP (the emacs/ directory)
;;
;; It prints lines "RESULT KEY VALUE" on stdout.  Every wait is for a
;; real condition (the sentinel ran, the text is in the buffer) and is
;; bounded by `bench-timeout'.

;;; Code:

(require 'cl-lib)

(defvar bench-timeout 120 "Seconds any single wait may take.")

(defun bench-env (name &optional default)
  "Return environment variable NAME, or DEFAULT when unset or empty."
  (let ((value (getenv name)))
    (if (and value (not (equal value ""))) value default)))

(let ((rpom (bench-env "BENCH_RPOM")))
  (when rpom (setq read-process-output-max (string-to-number rpom))))

(add-to-list 'load-path (bench-env "BENCH_EMACS_LISP"))
(dolist (dir (append (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/vterm-*")
                     (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa-src/vterm-*")))
  (add-to-list 'load-path dir))
(require 'ptyproxy)
(require 'term)
(defvar bench-have-vterm (condition-case nil (progn (require 'vterm) t) (error nil)))
(setq ptyproxy-program (bench-env "PTYPROXY_PROGRAM"))
;; BENCH_PPX_ARGS: more options of "ptyproxy new", separated by spaces.
(setq ptyproxy-new-arguments (split-string (bench-env "BENCH_PPX_ARGS" "") " " t))
(defvar vterm-timer-delay)
(defvar vterm-kill-buffer-on-exit)
(defvar vterm-exit-functions)
(defvar vterm-shell)
(defvar vterm--process)
(declare-function vterm "vterm" (&optional arg))
(declare-function vterm--delayed-redraw "vterm" (buffer))
;; For keystrokes, redraw the vterm buffer on every output, as vterm
;; does after a key typed with `vterm-send-key' (the echo test sends
;; the key with `process-send-string').  For throughput vterm keeps its
;; 0.1 s redraw timer, and the final redraw is part of the time.
(when (equal (bench-env "BENCH_KIND") "echo")
  (setq vterm-timer-delay nil))
(setq vterm-kill-buffer-on-exit nil)

(defvar bench-done nil "Non-nil once the measured process's sentinel ran.")

(defun bench-c-relay-process (&rest args)
  "Start the :command of ARGS through the C relay; return the process.
This stands in for `ptyproxy-make-process' (same ARGS): the relay
runs where ptyproxy would, as a pipe process with the same coding and
no adaptive read buffering, so term and vterm set up by the package's
code run through it."
  (let ((process-connection-type nil)
        (process-adaptive-read-buffering nil))
    (apply #'make-process
           :command (cons (bench-env "BENCH_C_RELAY") (plist-get args :command))
           :connection-type 'pipe
           :coding (if (plist-member args :coding) (plist-get args :coding) 'no-conversion)
           (ptyproxy--plist-without
            args '(:command :connection-type :file-handler :coding :size :id)))))

(defmacro bench-through-c-relay (&rest body)
  "Run BODY with the package's processes started by the C relay."
  `(cl-letf (((symbol-function 'ptyproxy-make-process) #'bench-c-relay-process))
     ,@body))

(defun bench-relay-p (process)
  "Return non-nil if PROCESS is the C relay."
  (equal (car (process-command process)) (bench-env "BENCH_C_RELAY")))

(defun bench-coding ()
  "The coding system of the pty, pipe and ptyproxy contenders."
  (intern (bench-env "BENCH_CODING" "binary")))

(defun bench-start (contender command)
  "Start COMMAND (a list) as CONTENDER; return its process."
  (let* ((buffer (generate-new-buffer "bench"))
         (process-adaptive-read-buffering (equal (bench-env "BENCH_ADAPTIVE") "t"))
         (sentinel (lambda (_p _e) (setq bench-done t)))
         process)
    (set-buffer buffer)
    (setq process
          (pcase contender
            ("pty" (make-process :name "bench" :buffer buffer :command command
                                 :connection-type 'pty :coding (bench-coding)
                                 :sentinel sentinel))
            ("pipe" (make-process :name "bench" :buffer buffer :command command
                                  :connection-type 'pipe :coding (bench-coding)
                                  :sentinel sentinel))
            ((or "ptyproxy" "c-relay")
             (funcall (if (equal contender "ptyproxy") #'ptyproxy-make-process
                        #'bench-c-relay-process)
                      :name "bench" :buffer buffer
                      :command command :coding (bench-coding)
                      :sentinel sentinel))
            ((or "vterm" "vterm-ptyproxy" "vterm-c-relay")
             (let ((vterm-shell (mapconcat #'shell-quote-argument command " ")))
               (add-hook 'vterm-exit-functions (lambda (&rest _) (setq bench-done t)))
               (kill-buffer buffer)
               (setq buffer (pcase contender
                              ("vterm" (vterm "bench"))
                              ("vterm-ptyproxy" (ptyproxy-vterm "bench"))
                              (_ (bench-through-c-relay (ptyproxy-vterm "bench")))))
               (set-buffer buffer)
               vterm--process))
            ((or "term" "term-ptyproxy" "term-c-relay")
             (kill-buffer buffer)
             (setq buffer (pcase contender
                            ("term" (apply #'make-term "bench" (car command) nil (cdr command)))
                            ("term-ptyproxy"
                             (apply #'ptyproxy-make-term "bench" (car command) nil (cdr command)))
                            (_ (bench-through-c-relay
                                (apply #'ptyproxy-make-term "bench" (car command) nil
                                       (cdr command))))))
             (set-buffer buffer)
             (let ((p (get-buffer-process buffer)))
               (add-function :after (process-sentinel p) sentinel)
               p))))
    (unless (equal (getenv "BENCH_KIND") "firstuse")
      (unless (and (eq (ptyproxy-process-p process) (string-suffix-p "ptyproxy" contender))
                   (eq (bench-relay-p process) (string-suffix-p "c-relay" contender)))
        (error "Contender %s: wrong kind of process %S" contender (process-command process))))
    process))

(defun bench-wait (predicate what &optional process)
  "Wait until PREDICATE is non-nil, reading output of PROCESS."
  (let ((deadline (+ (float-time) bench-timeout)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out waiting for %s" what))
      (accept-process-output process 0.5))))

(defun bench-result (key value)
  "Print the result KEY VALUE."
  (princ (format "RESULT %s %s\n" key value)))

(defun bench-throughput (contender)
  "Time `cat' of BENCH_FILE until all of it is in the buffer, as CONTENDER."
  (let* ((file (bench-env "BENCH_FILE"))
         (size (file-attribute-size (file-attributes file)))
         (t0 (float-time))
         (cpu0 (float-time (get-internal-run-time)))
         (process (bench-start contender (list "cat" file)))
         (reads 0))
    ;; How many pieces Emacs read (one filter call each).
    (add-function :before (process-filter process)
                  (lambda (&rest _) (cl-incf reads)))
    (bench-wait (lambda () bench-done) "the end of cat" process)
    (when (string-prefix-p "vterm" contender)
      (vterm--delayed-redraw (current-buffer)))
    (bench-result "reads" reads)
    (let ((elapsed (- (float-time) t0))
          (cpu (- (float-time (get-internal-run-time)) cpu0)))
      ;; Emacs's own CPU time: what the filter and Emacs's reading cost.
      (bench-result "cpu" cpu)
      (unless (and (memq (process-status process) '(exit))
                   (= (process-exit-status process) 0))
        (error "cat ended with %s %s" (process-status process) (process-exit-status process)))
      ;; The pty and pipe contenders insert everything; a pty adds a CR
      ;; per line.  vterm and term keep the screen and the scrollback.
      (when (member contender '("pty" "pipe" "ptyproxy" "c-relay"))
        (unless (>= (buffer-size) size)
          (error "Only %d of %d bytes arrived" (buffer-size) size)))
      (bench-result "seconds" elapsed)
      (bench-result "bytes" size))))

(defun bench-echo (contender)
  "Time BENCH_KEYS keystrokes until each one's echo is in the buffer."
  (let* ((keys (string-to-number (bench-env "BENCH_KEYS" "50")))
         ;; Emacs turns echo off on its ptys: turn it on, as vterm and
         ;; term do; then say that the terminal is ready.
         (process (bench-start contender
                               (list "/bin/sh" "-c" "stty echo; echo re''ady; exec cat")))
         (times nil)
         (seen 0)
         (count 0))
    ;; Count the x's the process filter has handled: vterm's (which
    ;; redraws at once here), term's and the default filter put the
    ;; text in the buffer before they return.  (Searching the buffer
    ;; would fail once a long line wraps, and costs more than a key.)
    (add-function :after (process-filter process)
                  (lambda (_process output)
                    (cl-incf seen (cl-count ?x output))))
    (cl-flet ((typed (n) (lambda () (>= seen n))))
      (bench-wait (lambda () (save-excursion (goto-char (point-min))
                                             (search-forward "ready" nil t)))
                  "the terminal to be ready" process)
      (process-send-string process "x")
      (cl-incf count)
      (bench-wait (typed count) "the terminal to echo" process)
      (dotimes (_ keys)
        (let ((t0 (float-time)))
          (process-send-string process "x")
          (cl-incf count)
          (let ((done (typed count)))
            (while (not (funcall done))
              (accept-process-output process 1)
              (when (> (- (float-time) t0) bench-timeout)
                (error "No echo"))))
          (push (- (float-time) t0) times)))
      (setq times (sort times #'<))
      (bench-result "p50" (nth (/ (length times) 2) times))
      (bench-result "p90" (nth (/ (* 9 (length times)) 10) times)))))

(defconst bench-prompt "ppx-ready> "
  "The prompt of the shell of the ^C measurement.")

(defun bench-intr (contender)
  "Time ^C during a flood until the shell's prompt is back, as CONTENDER.
An interactive shell runs `yes' with an 80-byte line; once BENCH_FLOOD
bytes of it have arrived, ^C is typed (the byte, as a terminal sends
it), and the time runs until the next prompt has been handled by the
process filter (vterm: and drawn).  Prints the seconds and the bytes
that arrived in between.

The filter itself sends the ^C and notes the prompt: while a pipe
keeps delivering, `accept-process-output' may not return to a loop
that would send it."
  (let* ((flood (string-to-number (bench-env "BENCH_FLOOD" "65536")))
         (process (bench-start
                   contender
                   (list "/bin/sh" "-c"
                         (format "stty sane; exec env PS1=%s /bin/sh -i"
                                 (shell-quote-argument bench-prompt)))))
         (buffer (current-buffer))
         (vterm (string-prefix-p "vterm" contender))
         (prompts 0)
         (bytes 0)
         (tail "")
         (flood-start nil)
         (sent nil)
         (sent-bytes nil)
         (done nil))
    ;; Count the prompts in the output as it is handled; the tail keeps
    ;; the end of the last piece, for a prompt split between two reads.
    (add-function :after (process-filter process)
                  (lambda (process output)
                    (cl-incf bytes (length output))
                    (let ((text (concat tail output))
                          (start 0)
                          (case-fold-search nil))
                      (while (string-match (regexp-quote bench-prompt) text start)
                        (cl-incf prompts)
                        (setq start (match-end 0)))
                      (setq tail (substring text (max start (- (length text)
                                                               (1- (length bench-prompt)))))))
                    (cond
                     ((and flood-start (not sent) (>= (- bytes flood-start) flood))
                      (setq sent (float-time) sent-bytes bytes)
                      (process-send-string process "\C-c"))
                     ((and sent (not done) (>= prompts 2))
                      (when vterm (vterm--delayed-redraw buffer))
                      (setq done (float-time))))))
    (bench-wait (lambda () (>= prompts 1)) "the first prompt" process)
    (setq flood-start bytes)
    (process-send-string process (concat "yes " (make-string 79 ?y) "\n"))
    (bench-wait (lambda () done) "the prompt after ^C" process)
    (bench-result "seconds" (- done sent))
    (bench-result "bytes" (- bytes sent-bytes))))

(defun bench-firstuse ()
  "Time the first (vterm) and the first (ptyproxy-vterm) of this Emacs."
  (let* ((vterm-shell "/bin/sh")
         (t0 (float-time))
         (a (vterm "plain"))
         (t1 (float-time))
         (b (ptyproxy-vterm "through"))
         (t2 (float-time)))
    (unless (ptyproxy-process-p (get-buffer-process b))
      (error "Not through ptyproxy"))
    (bench-result "plain" (- t1 t0))
    (bench-result "ptyproxy" (- t2 t1))
    (bench-result "native-comp" (and (fboundp 'native-comp-available-p)
                                     (native-comp-available-p)))
    (dolist (buffer (list a b))
      (set-process-query-on-exit-flag (get-buffer-process buffer) nil))))

(defun bench-reap ()
  "Hang up every live process and wait (bounded) until Emacs has reaped it.
Emacs exiting first would leave them for init to reap."
  (let ((deadline (+ (float-time) 10)))
    (dolist (process (process-list))
      (set-process-query-on-exit-flag process nil)
      (when (process-live-p process)
        (ignore-errors (signal-process process 'SIGHUP))))
    (while (and (cl-some #'process-live-p (process-list))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))))

(add-hook 'kill-emacs-hook #'bench-reap)

(pcase (bench-env "BENCH_KIND")
  ("throughput" (bench-throughput (bench-env "BENCH_CONTENDER")))
  ("echo" (bench-echo (bench-env "BENCH_CONTENDER")))
  ("intr" (bench-intr (bench-env "BENCH_CONTENDER")))
  ("firstuse"
   (when (and (fboundp 'native-comp-available-p) (native-comp-available-p))
     (let ((cache (make-temp-file "bench-eln" t)))
       (add-hook 'kill-emacs-hook (lambda () (delete-directory cache t)))
       (setq native-comp-eln-load-path (cons cache (last native-comp-eln-load-path)))))
   (bench-firstuse))
  (kind (error "Unknown BENCH_KIND %S" kind)))

(provide 'emacs_bench)
;;; emacs_bench.el ends here
