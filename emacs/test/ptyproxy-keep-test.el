;;; ptyproxy-keep-test.el --- ERT tests of kept sessions and IDs  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Sessions that outlive their buffer and Emacs (`ptyproxy-keep-sessions',
;; `ptyproxy-attach', the kill-buffer question, the list's state), and
;; the rule for session IDs.
;;
;; Run with emacs/run-tests.sh, or by hand:
;;
;;   PTYPROXY_PROGRAM=/path/to/ptyproxy emacs -Q --batch -L emacs -L emacs/test \
;;     -l emacs/test/ptyproxy-keep-test.el -f ert-run-tests-batch-and-exit
;;
;; The end-to-end tests run real shells through the real ptyproxy, in
;; this Emacs and in child Emacsen that exit with `kill-emacs'.  Every
;; wait is for an observable condition, bounded by
;; `ptyproxy-test-timeout'.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'ptyproxy)
(eval-and-compile
  (add-to-list 'load-path
               (file-name-directory
                (or load-file-name byte-compile-current-file buffer-file-name))))
(require 'ptyproxy-test-common)
(require 'ptyproxy-term)
(require 'ptyproxy-vterm)

(defvar ptyproxy-keep-test-child-timeout 60
  "Seconds a child Emacs of these tests may run before it is killed.")

(defconst ptyproxy-keep-test--file (or load-file-name buffer-file-name)
  "This file, which child Emacsen load for `ptyproxy-keep-test--child'.")

(defvar vterm-shell)
(defvar vterm--process)
(defvar vterm-kill-buffer-on-exit)
(defvar term-width)
(defvar term-height)
(declare-function vterm "vterm" (&optional arg))
(declare-function vterm-send-string "vterm" (string &optional paste-p))
(declare-function vterm-send-return "vterm" ())

;;;; Helpers

(defun ptyproxy-keep-test--status (id)
  "Return the status of session ID from \"ptyproxy list\", or nil."
  (cdr (assoc id (ptyproxy--sessions))))

(defun ptyproxy-keep-test--wait-detached (id)
  "Wait until session ID is listed as kept and detached; return its status."
  (ptyproxy-test--wait
   (lambda () (let ((status (ptyproxy-keep-test--status id)))
                (and (ptyproxy-session-detached-p status) status)))
   (lambda () (format "session %s to be detached: %S" id
                      (ptyproxy-keep-test--status id)))))

(defun ptyproxy-keep-test--end (id &optional pid)
  "End session ID, whose shell is PID (if known), however the test left it.
Its program gets HUP, then KILL if it is still listed after a while."
  (let ((program (ptyproxy--check-program)))
    (when (and id (eq 0 (call-process program nil nil nil "signal" id "HUP")))
      (let ((deadline (+ (float-time) ptyproxy-test-timeout)))
        (while (and (eq 0 (call-process program nil nil nil "status" id))
                    (< (float-time) deadline))
          (accept-process-output nil 0.05)))
      (call-process program nil nil nil "signal" id "KILL")))
  (when (and pid (ptyproxy-test--pid-alive-p pid))
    (signal-process pid 'SIGKILL)))

(defun ptyproxy-keep-test--binary-keeps-p ()
  "Return non-nil if the ptyproxy binary knows \"attach\".
It answers 4 (no such session) for an unknown ID; an older binary
refuses the unknown command with 125."
  (let ((program (ptyproxy--executable)))
    (and program
         (eq 4 (call-process program nil nil nil "attach" "ppx-keep-probe-none")))))

(defmacro ptyproxy-keep-test--no-question (&rest body)
  "Run BODY; fail if it asks the kill-buffer question."
  (declare (indent 0))
  `(cl-letf (((symbol-function 'read-multiple-choice)
              (lambda (&rest args) (ert-fail (list "asked" args)))))
     ,@body))

;;;; Session IDs

(defun ptyproxy-keep-test--unescape (field)
  "Return FIELD of a docs/conformance file unescaped (its README's rules)."
  (let ((out nil) (i 0) (n (length field)))
    (while (< i n)
      (let ((char (aref field i)))
        (if (/= char ?\\)
            (progn (push (string char) out) (cl-incf i))
          (let ((next (aref field (1+ i))))
            (pcase next
              (?\\ (push "\\" out) (cl-incf i 2))
              (?t (push "\t" out) (cl-incf i 2))
              (?n (push "\n" out) (cl-incf i 2))
              (?r (push "\r" out) (cl-incf i 2))
              (?x (let ((byte (string-to-number (substring field (+ i 2) (+ i 4)) 16))
                        (count 1))
                    (setq i (+ i 4))
                    (when (and (< i n) (eq (aref field i) ?*)
                               (string-match "\\*\\([0-9]+\\)" field i))
                      (setq count (string-to-number (match-string 1 field))
                            i (match-end 0)))
                    (push (make-string count byte) out)))
              (_ (error "Bad escape in %S" field)))))))
    (apply #'concat (nreverse out))))

(defun ptyproxy-keep-test--conformance-ids ()
  "Return (VALID . INVALID), the IDs of docs/conformance/cli.tsv.
INVALID are the IDs of the cases the programs refuse with \"invalid
ID\"; VALID those of the cases they accept.  Only cases of the
platforms \"all\" and \"posix\" whose ID is the argument after the
verb (or after \"--\") count."
  (let ((valid nil) (invalid nil))
    (with-temp-buffer
      (insert-file-contents-literally
       (expand-file-name "docs/conformance/cli.tsv" ptyproxy-test-source))
      (dolist (line (split-string (buffer-string) "\n" t))
        (unless (string-prefix-p "#" line)
          (let* ((fields (mapcar #'ptyproxy-keep-test--unescape
                                 (split-string line "\t")))
                 (platform (nth 1 fields))
                 (parser (nth 2 fields))
                 (stderr (nth 5 fields))
                 (args (nthcdr 6 fields))
                 (id (if (equal (nth 1 args) "--") (nth 2 args) (nth 1 args))))
            (when (and (member platform '("all" "posix"))
                       (member (car args) '("new" "resize" "signal" "status" "attach"))
                       id
                       (not (string-prefix-p "{" id))
                       (not (member "--arg-encoding" args)))
              (cond ((string-match-p "invalid ID" stderr) (push id invalid))
                    ((and (equal parser "accept") (not (string-prefix-p "-" id)))
                     (push id valid))))))))
    (cons valid invalid)))

(ert-deftest ptyproxy-keep-test-id-rule ()
  "The package accepts exactly the IDs of docs/INTERFACE.md.
The cases of docs/conformance/cli.tsv, and the rule's own examples:
no trailing `.', no Windows device name alone or before a `.', in
any case."
  (let ((ids (ptyproxy-keep-test--conformance-ids)))
    (should (>= (length (car ids)) 3))
    (should (>= (length (cdr ids)) 10))
    (dolist (id (car ids))
      (should (ptyproxy--valid-id-p id)))
    (dolist (id (cdr ids))
      (should-not (ptyproxy--valid-id-p id))))
  (dolist (id '("con" "CON" "Con" "prn" "aux" "NUL" "nul.txt" "Com1.log"
                "com0" "COM9" "lpt0" "LPT9.x" "nul.tar.gz" "con." "t." "a.."
                "." "-x" "-" "x/y" ""))
    (should-not (ptyproxy--valid-id-p id)))
  (dolist (id '("t" "t.x" "console" "com10" "com" "lpt" "xcon" "x.con"
                "nul_" "auxx.txt" "a.b_c-D9" "x-" ".x"
                "emacs-12-3-00ab12"))
    (should (ptyproxy--valid-id-p id)))
  ;; The binary agrees on each: 125 for a refused ID, 4 (no such
  ;; session) for an accepted one.
  (let ((program (ptyproxy--check-program)))
    (dolist (id '("con" "CON" "nul.txt" "Com1.log" "lpt9" "t." "a.." "-x"
                  "t" "t.x" "console" "com10" "x.con" "nul_" ".x" "x-"))
      (should (equal (cons id (call-process program nil nil nil "status" id))
                     (cons id (if (ptyproxy--valid-id-p id) 4 125))))))
  ;; The sessions the package names itself are valid.
  (dotimes (_ 20)
    (should (ptyproxy--valid-id-p (ptyproxy-new-id))))
  ;; A list line of a session with a refused ID is not offered.
  (should (equal (mapcar #'car (ptyproxy-parse-list
                                "con\t{\"kept\":true}\nok1\t{\"kept\":true}\n"))
                 '("ok1"))))

(ert-deftest ptyproxy-keep-test-id-checked-before-start ()
  "`ptyproxy-make-process' refuses a device-name ID before starting anything."
  (let ((before (length (process-list))))
    (dolist (id '("con" "t." "NUL.log"))
      (should-error (ptyproxy-make-process :name "ppx" :command '("true") :id id)
                    :type 'wrong-type-argument))
    (should (= before (length (process-list))))))

;;;; Command lines

(ert-deftest ptyproxy-keep-test-command-lines ()
  "\"--keep\" comes with the options of new; attach takes the size."
  (let ((ptyproxy-new-arguments '("--hangup-grace" "1"))
        (ptyproxy-term-name nil)
        (ptyproxy-working-directory nil)
        (ptyproxy-environment nil))
    (should (equal (ptyproxy--command "pp" "x1" '(80 . 24) '("sh") t)
                   '("pp" "new" "--keep" "--hangup-grace" "1" "--" "x1" "80" "24" "sh")))
    (should (equal (ptyproxy--command "pp" "x1" '(80 . 24) '("sh"))
                   '("pp" "new" "--hangup-grace" "1" "--" "x1" "80" "24" "sh")))
    (should (equal (ptyproxy--attach-command "pp" "x1" '(81 . 25) nil)
                   '("pp" "attach" "x1" "81" "25")))
    (should (equal (ptyproxy--attach-command "pp" "x1" '(81 . 25) t)
                   '("pp" "attach" "x1" "81" "25" "--force")))))

(defun ptyproxy-keep-test--command-of (buffer)
  "Return the command line of BUFFER's process, without the program."
  (cdr (process-command (get-buffer-process buffer))))

(ert-deftest ptyproxy-keep-test-adapters-pass-keep ()
  "With `ptyproxy-keep-sessions', term and vterm start \"new --keep\".
Without it they start plain sessions, as before; an explicit :keep
of `ptyproxy-make-process' wins over the option."
  (let ((vterm-kill-buffer-on-exit nil)
        (vterm-shell "/bin/sh")
        buffers processes)
    (unwind-protect
        (dolist (keep '(t nil))
          (let* ((ptyproxy-keep-sessions keep)
                 (term (ptyproxy-term "/bin/sh"))
                 (term-process (get-buffer-process term))
                 (made (ptyproxy-make-process :name "ppx-keep" :command '("/bin/sh")
                                              :buffer (generate-new-buffer " *ppx*")))
                 (other (ptyproxy-make-process :name "ppx-keep" :command '("/bin/sh")
                                               :keep (not keep)
                                               :buffer (generate-new-buffer " *ppx*"))))
            (push term buffers)
            (push (process-buffer made) buffers)
            (push (process-buffer other) buffers)
            (setq processes (append (list term-process made other) processes))
            (dolist (process (list term-process made))
              (should (equal (cadr (process-command process)) "new"))
              (should (eq (and (member "--keep" (process-command process)) t) keep))
              (should (eq (process-get process 'ptyproxy-kept) keep))
              ;; Emacs does not ask about a kept session when it exits:
              ;; exiting only detaches it.
              (when keep
                (should-not (process-query-on-exit-flag process))))
            (should (eq (and (member "--keep" (process-command other)) t) (not keep)))
            (when (ptyproxy-test--load-vterm)
              (let* ((vterm (ptyproxy-vterm (generate-new-buffer-name "*ppx-vterm*")))
                     (process (buffer-local-value 'vterm--process vterm)))
                (push vterm buffers)
                (push process processes)
                (should (ptyproxy-process-p process))
                (should (eq (and (member "--keep" (process-command process)) t)
                            keep))))))
      (mapc #'ptyproxy-test--cleanup buffers)
      (dolist (process processes)
        (when (member "--keep" (process-command process))
          (ptyproxy-keep-test--end (process-get process 'ptyproxy-id)))))))

(ert-deftest ptyproxy-keep-test-windows-kept ()
  "Sessions are kept on Windows too (ptyproxy.exe has new --keep and attach)."
  (let ((system-type 'windows-nt))
    (should (ptyproxy--keep-p nil t))
    (should (ptyproxy--keep-p t nil))
    (should-not (ptyproxy--keep-p nil nil))
    (should (member "--keep" (ptyproxy--command "ptyproxy.exe" "w1" '(80 . 24) '("cmd.exe") t))))
  (should (ptyproxy--keep-p nil t))
  (should (ptyproxy--keep-p t nil))
  (should-not (ptyproxy--keep-p nil nil)))

(ert-deftest ptyproxy-keep-test-windows-ends-with-term ()
  "Ending a kept session sends TERM on Windows (ptyproxy.exe has no HUP), HUP elsewhere."
  (dolist (case '((windows-nt . "TERM") (gnu/linux . "HUP")))
    (let ((system-type (car case))
          (sent nil))
      (cl-letf (((symbol-function 'ptyproxy--call)
                 (lambda (arguments &rest _) (setq sent arguments) (cons 0 ""))))
        (let ((process (make-pipe-process :name "ppx-keep-term" :noquery t)))
          (unwind-protect
              (progn
                (process-put process 'ptyproxy-id "w1")
                (should (ptyproxy--hang-up process))
                (should (equal (last sent 3) (list "signal" "w1" (cdr case)))))
            (delete-process process)))))))

(ert-deftest ptyproxy-keep-test-attach-command-of-adapters ()
  "The attach functions run \"ptyproxy attach ID COLS ROWS\" at the window's size.
`ptyproxy-attach' picks vterm with `ptyproxy-vterm-mode', else term."
  (let ((ptyproxy-attach-terminal 'auto))
    (should (eq (ptyproxy--attach-terminal) 'term))
    (ptyproxy-vterm-mode 1)
    (unwind-protect
        (should (eq (ptyproxy--attach-terminal) 'vterm))
      (ptyproxy-vterm-mode -1))
    (let ((ptyproxy-attach-terminal 'vterm))
      (should (eq (ptyproxy--attach-terminal) 'vterm))))
  (let ((vterm-kill-buffer-on-exit nil)
        buffers)
    (unwind-protect
        (progn
          (delete-other-windows)
          (let* ((term (ptyproxy-term-attach "ppx-none-1" t))
                 (process (get-buffer-process term)))
            (push term buffers)
            (should (equal (buffer-name term) "*ptyproxy ppx-none-1*"))
            (should (eq (window-buffer) term))
            (with-current-buffer term
              (should (equal (process-command process)
                             (list (ptyproxy--check-program) "attach" "ppx-none-1"
                                   (number-to-string term-width)
                                   (number-to-string term-height) "--force"))))
            (should (equal (process-get process 'ptyproxy-id) "ppx-none-1"))
            (should (process-get process 'ptyproxy-kept))
            (should (eq (process-get process 'adjust-window-size-function)
                        #'ptyproxy--adjust-window-size)))
          (when (ptyproxy-test--load-vterm)
            (let* ((vterm-shell "/bin/sh")
                   (vterm (ptyproxy-vterm-attach "ppx-none-2"))
                   (process (buffer-local-value 'vterm--process vterm)))
              (push vterm buffers)
              (should (ptyproxy-process-p process))
              (should (equal (cl-subseq (process-command process) 1 3)
                             '("attach" "ppx-none-2")))
              (should (= (length (process-command process)) 5))
              (should (process-get process 'ptyproxy-kept)))))
      (mapc #'ptyproxy-test--cleanup buffers)
      (delete-other-windows))))

;;;; The list

(ert-deftest ptyproxy-keep-test-list-state ()
  "The list's State column: not kept, attached, detached since, bytes kept.
Only detached sessions are offered to attach (all kept ones with force)."
  (let* ((sessions
          (ptyproxy-parse-list
           (concat
            "plain\t{\"id\":\"plain\",\"pid\":1,\"command\":[\"sh\"]}\n"
            "plain2\t{\"id\":\"plain2\",\"kept\":false,\"command\":[\"sh\"]}\n"
            "there\t{\"id\":\"there\",\"kept\":true,\"attached\":true,"
            "\"buffered\":0,\"command\":[\"sh\"]}\n"
            "away\t{\"id\":\"away\",\"kept\":true,\"attached\":false,"
            "\"detached_since\":3725,\"buffered\":2048,\"command\":[\"vi\",\"x\"]}\n"
            "odd\t{\"id\":\"odd\",\"kept\":true,\"attached\":false,"
            "\"detached_since\":\"x\",\"command\":[\"sh\"]}\n"))))
    (should (equal (mapcar #'car sessions) '("plain" "plain2" "there" "away" "odd")))
    (let ((states (mapcar (lambda (session)
                            (aref (cadr (ptyproxy--list-entry session)) 7))
                          sessions)))
      (should (equal states '("" "" "attached" "detached 1:02:05, 2k kept"
                              "detached ?, ? kept"))))
    (should (equal (mapcar #'car (ptyproxy--attach-candidates sessions nil))
                   '("away" "odd")))
    (should (equal (mapcar #'car (ptyproxy--attach-candidates sessions t))
                   '("there" "away" "odd")))
    (should (string-match-p "vi x" (cdr (assoc "away" (ptyproxy--attach-candidates
                                                        sessions nil)))))))

;;;; The kill-buffer question

(ert-deftest ptyproxy-keep-test-kill-choice ()
  "Who is asked what, when a kept session's buffer is killed.
Batch mode and an exiting Emacs detach without asking; otherwise
`ptyproxy-kill-buffer-action' decides, and `ask' asks."
  (let ((process (make-pipe-process :name "ppx-choice" :noquery t))
        (asked 0))
    (unwind-protect
        (cl-letf (((symbol-function 'read-multiple-choice)
                   (lambda (prompt choices &rest _)
                     (cl-incf asked)
                     (should (string-match-p "ppx-x" prompt))
                     (should (equal (mapcar #'car choices) '(?d ?e ?c)))
                     (assq (process-get process 'answer) choices))))
          (process-put process 'ptyproxy-id "ppx-x")
          (let ((ptyproxy-kill-buffer-action 'ask))
            (let ((noninteractive t))
              (should (eq (ptyproxy--kill-choice process) 'detach)))
            (let ((noninteractive nil) (ptyproxy--exiting t))
              (should (eq (ptyproxy--kill-choice process) 'detach)))
            (should (= asked 0))
            (let ((noninteractive nil))
              (dolist (case '((?d . detach) (?e . end) (?c . cancel)))
                (process-put process 'answer (car case))
                (should (eq (ptyproxy--kill-choice process) (cdr case))))
              (should (= asked 3))))
          (let ((noninteractive nil))
            (dolist (action '(detach end))
              (let ((ptyproxy-kill-buffer-action action))
                (should (eq (ptyproxy--kill-choice process) action))))
            ;; Exiting never ends a session, whatever the option says.
            (let ((ptyproxy-kill-buffer-action 'end) (ptyproxy--exiting t))
              (should (eq (ptyproxy--kill-choice process) 'detach))))
          (should (= asked 3)))
      (delete-process process))))

(ert-deftest ptyproxy-keep-test-exit-hook ()
  "A kept session puts the exit note first on `kill-emacs-hook'.
So a buffer killed by any later function of the hook is detached
without a question.  Its buffer gets the question and its answer."
  (let ((kill-emacs-hook (list #'ignore))
        (buffer (generate-new-buffer " *ppx-hook*"))
        (process nil))
    (unwind-protect
        (progn
          (setq process (make-pipe-process :name "ppx-hook" :buffer buffer :noquery t))
          (process-put process 'ptyproxy-id "ppx-hook")
          (ptyproxy--keep process)
          (should (eq (car kill-emacs-hook) #'ptyproxy--note-exit))
          (add-hook 'kill-emacs-hook #'identity)
          (should (eq (car kill-emacs-hook) #'ptyproxy--note-exit))
          (with-current-buffer buffer
            (should (memq #'ptyproxy--kill-buffer-query kill-buffer-query-functions))
            (should (memq #'ptyproxy--kill-buffer-act kill-buffer-hook))
            (should (eq (ptyproxy--kept-process) process))
            ;; "cancel" keeps the buffer.
            (let ((noninteractive nil) (ptyproxy-kill-buffer-action 'ask))
              (cl-letf (((symbol-function 'read-multiple-choice)
                         (lambda (_prompt choices &rest _) (assq ?c choices))))
                (should-not (kill-buffer buffer))))
            (should (buffer-live-p buffer))
            (should (process-live-p process))))
      (when (process-live-p process) (delete-process process))
      (ptyproxy-test--cleanup buffer))))

;;;; End to end, with the real binary

(defmacro ptyproxy-keep-test--with-session (spec &rest body)
  "Run BODY with a kept `ptyproxy-term' shell; end it afterwards.
SPEC is (BUFFER ID PID): BUFFER is bound to the term buffer, ID to
the session's ID and PID to its shell's process ID.  The shell has
K=kept-42."
  (declare (indent 1))
  (let ((buffer (nth 0 spec)) (id (nth 1 spec)) (pid (nth 2 spec)))
    `(let* ((ptyproxy-keep-sessions t)
            (,buffer (ptyproxy-term "/bin/sh"))
            (,id (process-get (get-buffer-process ,buffer) 'ptyproxy-id))
            (,pid nil))
       (unwind-protect
           (progn
             (process-send-string (get-buffer-process ,buffer)
                                  "K=kept-$((6*7)); echo \"pid=$$\"\n")
             (setq ,pid (string-to-number
                         (ptyproxy-test--wait-text ,buffer "pid=\\([0-9]+\\)\\_>")))
             ,@body)
         (ptyproxy-test--cleanup ,buffer)
         (ptyproxy-keep-test--end ,id ,pid)))))

(defun ptyproxy-keep-test--fifo ()
  "Return a new FIFO in a new private directory."
  (let* ((dir (make-temp-file "ppx-fifo" t))
         (fifo (expand-file-name "f" dir)))
    (should (eq 0 (call-process "mkfifo" nil nil nil fifo)))
    fifo))

(defun ptyproxy-keep-test--write-fifo (fifo text)
  "Write TEXT and a newline into FIFO, waiting at most 10 seconds for a reader."
  (should (eq 0 (call-process "timeout" nil nil nil "10" "sh" "-c"
                              "printf '%s\\n' \"$1\" > \"$0\"" fifo text))))

(ert-deftest ptyproxy-keep-test-detach-and-attach ()
  "A kept term session: detach by killing the buffer, attach, end.
Killing the buffer in batch mode detaches without asking; the shell
goes on (its output while detached is replayed on attach, its
variables are kept); `ptyproxy-list' says detached and RET attaches;
the attached buffer resizes; killing it with the answer \"end\" ends
the session with the shell's status."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (let ((fifo (ptyproxy-keep-test--fifo))
        attached list)
    (unwind-protect
        (ptyproxy-keep-test--with-session (buffer id pid)
          (should (member "--keep" (process-command (get-buffer-process buffer))))
          (should (equal (ptyproxy--state-text id (ptyproxy-keep-test--status id))
                         "attached here"))
          ;; Output that comes while detached.
          (process-send-string (get-buffer-process buffer)
                               (format "read -r w < %s; echo \"while-$w-$K\"\n" fifo))
          ;; Its echo: the line reached the terminal (input still in
          ;; the pipe when the host goes is not read).
          (ptyproxy-test--wait-text buffer "while-\\$w-\\$K")
          (ptyproxy-keep-test--no-question
            (kill-buffer buffer))
          (should-not (buffer-live-p buffer))
          (ptyproxy-keep-test--wait-detached id)
          (should (ptyproxy-test--pid-alive-p pid))
          (ptyproxy-keep-test--write-fifo fifo "ping")
          (ptyproxy-test--wait
           (lambda () (let ((n (ptyproxy--field (ptyproxy-keep-test--status id)
                                                'buffered)))
                        (and n (> n 0))))
           "output kept while detached")
          ;; The list shows it detached; RET attaches.
          (setq list (ptyproxy-list))
          (with-current-buffer list
            (goto-char (point-min))
            (should (re-search-forward (concat "^ " (regexp-quote id) " ") nil t))
            (should (string-prefix-p "detached " (aref (tabulated-list-get-entry) 7)))
            (should (eq (key-binding (kbd "RET")) #'ptyproxy-list-attach))
            (setq attached (ptyproxy-list-attach)))
          (should (eq (window-buffer) attached))
          (ptyproxy-test--wait-text attached "while-ping-kept-42\\_>")
          (let ((process (get-buffer-process attached)))
            (should (equal (cadr (process-command process)) "attach"))
            (process-send-string process "echo \"li\"\"ve-$K-$$\"\n")
            (should (equal (ptyproxy-test--wait-text
                            attached "live-kept-42-\\([0-9]+\\)\\_>")
                           (number-to-string pid)))
            (should (equal (ptyproxy--state-text id (ptyproxy-keep-test--status id))
                           "attached here"))
            ;; Resize follows the window, as for new sessions.
            (delete-other-windows)
            (set-window-buffer (selected-window) attached)
            (set-window-buffer (split-window-below) (get-buffer-create "*scratch*"))
            (window--adjust-process-windows)
            (with-current-buffer attached
              (should (< term-height 20))
              (ptyproxy-test--wait
               (lambda () (equal (process-get process 'ptyproxy-size)
                                 (cons term-width term-height)))
               "the smaller size to be acknowledged")
              (process-send-string process "echo \"si\"\"ze=$(stty size)\"\n")
              (ptyproxy-test--wait-text
               attached (format "size=%d %d\\_>" term-height term-width)))
            ;; Kill the buffer, answering "end": the session ends, also
            ;; with a job in the foreground (it is hung up, then the shell).
            (process-send-string process "sleep 60\n")
            (ptyproxy-test--wait
             (lambda () (ptyproxy-test--has-child-p pid "sleep"))
             "sleep to run in the foreground")
            (let ((noninteractive nil)
                  (ptyproxy-kill-buffer-action 'ask)
                  (asked nil))
              (cl-letf (((symbol-function 'read-multiple-choice)
                         (lambda (_prompt choices &rest _)
                           (setq asked t)
                           (assq ?e choices))))
                (kill-buffer attached))
              (should asked))
            (should-not (buffer-live-p attached))
            (ptyproxy-test--wait (lambda () (not (process-live-p process)))
                                      "the attach process to end")
            (should (= (process-exit-status process) 129))
            (ptyproxy-test--wait
             (lambda () (not (ptyproxy-test--pid-alive-p pid)))
             "the shell to end")
            (ptyproxy-test--wait
             (lambda () (not (ptyproxy-keep-test--status id)))
             "the session to leave the list")))
      (ptyproxy-test--cleanup attached)
      (ptyproxy-test--cleanup list)
      (delete-other-windows)
      (delete-directory (file-name-directory fifo) t))))

(ert-deftest ptyproxy-keep-test-detach-attach-cycles ()
  "Twenty cycles of detach (killing the buffer) and `ptyproxy-attach'.
Each attached buffer types into the same shell, whose counter goes
on; no cycle asks a question or leaves a process of Emacs behind."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (ptyproxy-keep-test--with-session (buffer id pid)
    (process-send-string (get-buffer-process buffer) "n=0; echo \"ze\"\"ro\"\n")
    (ptyproxy-test--wait-text buffer "zero\\_>")
    (let ((processes (length (process-list))))
      (ptyproxy-keep-test--no-question
        (dotimes (i 20)
          (ptyproxy-keep-test--kill-asking buffer)
          (ptyproxy-keep-test--wait-detached id)
          (setq buffer (ptyproxy-attach id))
          (process-send-string (get-buffer-process buffer)
                               "n=$((n+1)); echo \"cyc\"\"le-$n-$$\"\n")
          (should (equal (ptyproxy-test--wait-text
                          buffer (format "cycle-%d-\\([0-9]+\\)\\_>" (1+ i)))
                         (number-to-string pid)))))
      (ptyproxy-test--wait
       (lambda () (<= (length (process-list)) processes))
       "the detached hosts to end"))))

(ert-deftest ptyproxy-keep-test-attach-force ()
  "A session attached elsewhere is offered and taken only with force.
Its other host (here a plain \"ptyproxy new --keep\" process, not the
package's) is detached and exits 3; the interactive command offers
only detached sessions, and with a prefix argument the attached ones."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (let* ((id (ptyproxy-new-id))
         (other (make-process :name "ppx-other" :noquery t
                              :buffer (generate-new-buffer " *ppx-other*")
                              :connection-type 'pipe
                              :command (list (ptyproxy--check-program) "new" "--keep"
                                             "--" id "80" "24" "/bin/sh")))
         (offered nil)
         buffer)
    (unwind-protect
        (progn
          (ptyproxy-test--wait (lambda () (ptyproxy-keep-test--status id))
                                    "the other session in the list")
          (should (equal (ptyproxy--state-text id (ptyproxy-keep-test--status id))
                         "attached"))
          (should (string-match-p "attached elsewhere"
                                  (cadr (should-error (ptyproxy-attach id)
                                                      :type 'user-error))))
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt collection &rest _)
                       (setq offered (mapcar #'car collection))
                       id)))
            ;; No detached session: nothing is offered.
            (let ((current-prefix-arg nil))
              (should-error (call-interactively #'ptyproxy-attach) :type 'user-error))
            (should-not offered)
            (let ((current-prefix-arg '(4)))
              (setq buffer (call-interactively #'ptyproxy-attach))))
          (should (member id offered))
          (should (equal (car (last (process-command (get-buffer-process buffer))))
                         "--force"))
          (ptyproxy-test--wait (lambda () (not (process-live-p other)))
                                    "the other host to be detached")
          (should (= (process-exit-status other) 3))
          (process-send-string (get-buffer-process buffer) "echo \"ta\"\"ken\"\n")
          (ptyproxy-test--wait-text buffer "taken\\_>"))
      (ptyproxy-test--cleanup buffer)
      (ptyproxy-test--cleanup (process-buffer other))
      (ptyproxy-keep-test--end id))))

(ert-deftest ptyproxy-keep-test-list-kill-ends-kept ()
  "`k' in `ptyproxy-list' ends a kept session of this Emacs.
SIGHUP to its host would only detach it; the shell under a
foreground `sleep' ends too."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (let (list)
    (unwind-protect
        (ptyproxy-keep-test--with-session (buffer id pid)
          (let ((process (get-buffer-process buffer)))
            (process-send-string process "sleep 60\n")
            (ptyproxy-test--wait
             (lambda () (ptyproxy-test--has-child-p pid "sleep"))
             "sleep to run in the foreground")
            (setq list (ptyproxy-list))
            (with-current-buffer list
              (goto-char (point-min))
              (should (re-search-forward (concat "^ " (regexp-quote id) " ") nil t))
              (cl-letf (((symbol-function 'yes-or-no-p) (lambda (&rest _) t)))
                (ptyproxy-list-kill)))
            (ptyproxy-test--wait (lambda () (not (process-live-p process)))
                                      "the host to end")
            (should (= (process-exit-status process) 129))
            (should-not (ptyproxy-test--pid-alive-p pid))
            (should-not (ptyproxy-keep-test--status id))))
      (ptyproxy-test--cleanup list))))

(ert-deftest ptyproxy-keep-test-cli-beside-busy-terminal ()
  "The CLI answers while another terminal has output waiting for Emacs.
\"ptyproxy list\" (and \"signal\", which ends a kept session) run as
processes whose sentinel gives their result; Emacs runs sentinels only
once no process has output waiting, so waiting on the CLI's process
alone never sees its end beside a terminal that keeps writing."
  (let* ((ptyproxy-keep-sessions nil)
         (buffer (generate-new-buffer " *ppx-busy*"))
         (busy (ptyproxy-make-process :name "ppx-busy" :buffer buffer
                                      :command '("/bin/sh" "-c" "yes busy-line")
                                      :filter #'ignore)))
    (unwind-protect
        (progn
          (accept-process-output busy 1)
          (dotimes (_ 5)
            (let ((start (float-time)))
              (should (assoc (process-get busy 'ptyproxy-id) (ptyproxy--sessions)))
              (should (< (- (float-time) start) 2)))))
      (ptyproxy-test--cleanup buffer))))

(defun ptyproxy-keep-test--kill-asking (buffer)
  "Kill BUFFER as a user's command does: with `kill-buffer-query-functions'."
  (kill-buffer buffer)
  (should-not (buffer-live-p buffer)))

(defun ptyproxy-keep-test--new-buffers (before)
  "Return the live buffers a user sees that are not in the list BEFORE."
  (cl-remove-if (lambda (buffer)
                  (or (memq buffer before)
                      (string-prefix-p " " (buffer-name buffer))))
                (buffer-list)))

(ert-deftest ptyproxy-keep-test-attach-refusals ()
  "`ptyproxy-attach' says why it cannot attach, and makes no buffer.
A session attached in this Emacs is shown in its buffer instead."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (let ((before (buffer-list)))
    (should-error (ptyproxy-attach "ppx-no-such-session") :type 'user-error)
    (should-error (ptyproxy-attach "con") :type 'user-error)
    (should-not (ptyproxy-keep-test--new-buffers before)))
  (ptyproxy-keep-test--with-session (buffer id pid)
    (should (eq (ptyproxy-attach id) buffer))
    (let* ((ptyproxy-keep-sessions nil)
           (plain (ptyproxy-term "/bin/sh"))
           (plain-id (process-get (get-buffer-process plain) 'ptyproxy-id))
           (other-id (ptyproxy-new-id))
           ;; A session that is not this Emacs's: its process is not
           ;; one of the package's.
           (other (make-process :name "ppx-other" :noquery t
                                :buffer (generate-new-buffer " *ppx-other*")
                                :connection-type 'pipe
                                :command (list (ptyproxy--check-program) "new" "--"
                                               other-id "80" "24" "/bin/sh"))))
      (unwind-protect
          (let ((before (buffer-list)))
            ;; A session of this Emacs, kept or not, is shown in its buffer.
            (should (eq (ptyproxy-attach plain-id) plain))
            (ptyproxy-test--wait (lambda () (ptyproxy-keep-test--status other-id))
                                      "the other session in the list")
            (should (string-match-p
                     "not started with --keep"
                     (cadr (should-error (ptyproxy-attach other-id)
                                         :type 'user-error))))
            (should-not (ptyproxy-keep-test--new-buffers before)))
        (ptyproxy-test--cleanup plain)
        (ptyproxy-test--cleanup (process-buffer other))))))

;;;; Across Emacs sessions

(defun ptyproxy-keep-test--child (adapter kill-buffer-in-hook)
  "Start a kept shell with ADAPTER (`term' or `vterm'), print it, `kill-emacs'.
This runs in a child Emacs.  The shell gets K=kept-42; the child
prints \"SESSION ID PID\" on stdout.  With KILL-BUFFER-IN-HOOK, a
function of `kill-emacs-hook' kills the buffer as if Emacs were
interactive, and \"ASKED\" is printed if that asks a question."
  (setq ptyproxy-keep-sessions t)
  (let* ((buffer (if (eq adapter 'vterm)
                     (progn
                       (unless (ptyproxy-test--load-vterm) (error "No vterm"))
                       (setq vterm-shell "/bin/sh")
                       (ptyproxy-vterm-mode 1)
                       (vterm "*ppx-child*"))
                   (ptyproxy-term "/bin/sh")))
         (process (get-buffer-process buffer)))
    (unless (member "--keep" (process-command process))
      (error "Not kept: %S" (process-command process)))
    (if (eq adapter 'vterm)
        (with-current-buffer buffer
          (vterm-send-string "K=kept-$((6*7)); echo \"pid=$$\"")
          (vterm-send-return))
      (process-send-string process "K=kept-$((6*7)); echo \"pid=$$\"\n"))
    (let ((pid (ptyproxy-test--wait-text buffer "pid=\\([0-9]+\\)\\_>")))
      (princ (format "SESSION %s %s\n" (process-get process 'ptyproxy-id) pid)))
    (when kill-buffer-in-hook
      (add-hook 'kill-emacs-hook
                (lambda ()
                  (let ((noninteractive nil)
                        (ptyproxy-kill-buffer-action 'ask))
                    (cl-letf (((symbol-function 'read-multiple-choice)
                               (lambda (&rest _) (princ "ASKED\n") '(?e "end"))))
                      (kill-buffer buffer))))))
    (kill-emacs 0)))

(defun ptyproxy-keep-test--run-child (adapter kill-buffer-in-hook)
  "Run `ptyproxy-keep-test--child' with ADAPTER and KILL-BUFFER-IN-HOOK.
The child is a batch Emacs, killed after `ptyproxy-keep-test-child-timeout'
seconds.  Return (ID PID OUTPUT)."
  (let* ((output (generate-new-buffer " *ppx-child*"))
         (lisp (file-name-directory (locate-library "ptyproxy")))
         (process
          (make-process
           :name "ppx-child" :buffer output :connection-type 'pipe
           :stderr (get-buffer-create " *ppx-child-stderr*")
           :command (list (expand-file-name invocation-name invocation-directory)
                          "-Q" "--batch" "-L" lisp
                          "-l" ptyproxy-keep-test--file
                          "--eval" (format "(setq ptyproxy-program %S)"
                                           (ptyproxy--check-program))
                          "--eval" (format "(ptyproxy-keep-test--child '%s %s)"
                                           adapter (if kill-buffer-in-hook "t" "nil"))))))
    (unwind-protect
        (progn
          (ptyproxy-test--wait (lambda () (not (process-live-p process)))
                                    "the child Emacs" ptyproxy-keep-test-child-timeout)
          (let ((text (with-current-buffer output (buffer-string))))
            (should (eq (process-exit-status process) 0))
            (should (string-match "^SESSION \\([^ \n]+\\) \\([0-9]+\\)$" text))
            (list (match-string 1 text) (string-to-number (match-string 2 text)) text)))
      (when (process-live-p process) (delete-process process))
      (kill-buffer output))))

(defun ptyproxy-keep-test--across-emacs (adapter kill-buffer-in-hook)
  "A shell started by a child Emacs with ADAPTER outlives its `kill-emacs'.
KILL-BUFFER-IN-HOOK is for `ptyproxy-keep-test--child'.  This Emacs
attaches with `ptyproxy-attach', in ADAPTER too, and finds the shell's
PID and variable, then ends the session."
  (let* ((ptyproxy-attach-terminal adapter)
         (vterm-kill-buffer-on-exit nil)
         (child (ptyproxy-keep-test--run-child adapter kill-buffer-in-hook))
         (id (nth 0 child)) (pid (nth 1 child))
         buffer)
    (unwind-protect
        (progn
          (should-not (string-match-p "ASKED" (nth 2 child)))
          (let ((status (ptyproxy-keep-test--wait-detached id)))
            (should (ptyproxy-session-kept-p status)))
          (should (ptyproxy-test--pid-alive-p pid))
          ;; M-x ptyproxy-attach offers it, described as detached.
          (let (offered annotation)
            (cl-letf (((symbol-function 'completing-read)
                       (lambda (_prompt collection &rest _)
                         (setq offered (mapcar #'car collection))
                         (setq annotation
                               (funcall (plist-get completion-extra-properties
                                                   :annotation-function)
                                        id))
                         id)))
              (setq buffer (call-interactively #'ptyproxy-attach)))
            (should (member id offered))
            (should (string-match-p "detached [0-9]+:[0-9][0-9]:[0-9][0-9], .* kept"
                                    annotation)))
          (let ((process (get-buffer-process buffer)))
            (should (ptyproxy-process-p process))
            (should (equal (cadr (process-command process)) "attach"))
            (should (eq (buffer-local-value 'major-mode buffer)
                        (if (eq adapter 'vterm) 'vterm-mode 'term-mode)))
            (process-send-string process "echo \"ag\"\"ain-$K-$$\"\n")
            (should (equal (ptyproxy-test--wait-text
                            buffer "again-kept-42-\\([0-9]+\\)\\_>")
                           (number-to-string pid)))
            (should (ptyproxy-end-session process))
            (should (= (process-exit-status process) 129))
            (ptyproxy-test--wait
             (lambda () (not (ptyproxy-test--pid-alive-p pid)))
             "the shell to end")))
      (ptyproxy-test--cleanup buffer)
      (ptyproxy-keep-test--end id pid))))

(ert-deftest ptyproxy-keep-test-kill-emacs-term ()
  "A kept term shell survives `kill-emacs'; a new Emacs attaches to it."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (ptyproxy-keep-test--across-emacs 'term nil))

(ert-deftest ptyproxy-keep-test-kill-emacs-hook-kills-buffer ()
  "A buffer killed during `kill-emacs' detaches its session without asking."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (ptyproxy-keep-test--across-emacs 'term t))

(ert-deftest ptyproxy-keep-test-kill-emacs-vterm ()
  "A kept vterm shell survives `kill-emacs'; a new Emacs attaches to it."
  (skip-unless (ptyproxy-keep-test--binary-keeps-p))
  (skip-unless (ptyproxy-test--load-vterm))
  (ptyproxy-keep-test--across-emacs 'vterm nil))

(provide 'ptyproxy-keep-test)
;;; ptyproxy-keep-test.el ends here
