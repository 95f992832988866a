;;; ptyproxy-test-common.el --- what the ERT files of ptyproxy share  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; What ptyproxy-test.el and ptyproxy-keep-test.el share: bounded
;; waits on observable conditions, the text of a buffer, processes,
;; killing a buffer without a question, loading vterm, and where the
;; program and the source tree are.  It defines no test, so a file
;; that requires it (a child Emacs loads ptyproxy-keep-test.el alone)
;; gets no other file's tests.
;;
;; A test file finds it beside itself:
;;
;;   (eval-and-compile
;;     (add-to-list 'load-path
;;                  (file-name-directory
;;                   (or load-file-name byte-compile-current-file buffer-file-name))))
;;   (require 'ptyproxy-test-common)

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'ptyproxy)

(defvar ptyproxy-test-timeout 15
  "Seconds any single wait in the tests may take before it fails.")

(let ((program (getenv "PTYPROXY_PROGRAM")))
  (when (and program (not (equal program "")))
    (setq ptyproxy-program program)))

(defconst ptyproxy-test-source
  (let ((dir (getenv "PTYPROXY_SOURCE_DIR")))
    (file-name-as-directory
     (if (and dir (not (equal dir "")))
         dir
       (expand-file-name "../.." (file-name-directory
                                  (or load-file-name buffer-file-name))))))
  "The source tree (its docs/ and README files), PTYPROXY_SOURCE_DIR if set.")

(defun ptyproxy-test--wait (predicate what &optional timeout)
  "Wait until a call of PREDICATE gives non-nil; return that value.
Fail the test, mentioning WHAT (a string, or a function returning
one, called only then), after TIMEOUT (default `ptyproxy-test-timeout')
seconds."
  (let ((deadline (+ (float-time) (or timeout ptyproxy-test-timeout)))
        value)
    (while (and (not (setq value (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value
        (ert-fail (list "Timed out waiting for"
                        (if (functionp what) (funcall what) what))))))

(defun ptyproxy-test--buffer-has (buffer regexp)
  "Return REGEXP's first match in BUFFER: its first group, or the whole match.
nil if there is none, or BUFFER is dead."
  (and (buffer-live-p buffer)
       (with-current-buffer buffer
         (save-excursion
           (goto-char (point-min))
           (and (re-search-forward regexp nil t)
                (or (match-string-no-properties 1)
                    (match-string-no-properties 0)))))))

(defun ptyproxy-test--tail (buffer)
  "Return the end of BUFFER's text, for failure messages."
  (if (buffer-live-p buffer)
      (with-current-buffer buffer
        (buffer-substring-no-properties (max (point-min) (- (point-max) 600))
                                        (point-max)))
    "(buffer killed)"))

(defun ptyproxy-test--wait-text (buffer regexp)
  "Wait until BUFFER's text matches REGEXP; return the match.
The match is what `ptyproxy-test--buffer-has' returns."
  (ptyproxy-test--wait
   (lambda () (ptyproxy-test--buffer-has buffer regexp))
   (lambda () (format "%S in %s; text: %S" regexp buffer
                      (ptyproxy-test--tail buffer)))))

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
  "Kill BUFFER and its process without any question.
A kept session's buffer is detached from its session, not ended."
  (when (buffer-live-p buffer)
    (let ((process (get-buffer-process buffer)))
      (when process
        (set-process-query-on-exit-flag process nil)))
    (let ((kill-buffer-query-functions nil))
      (kill-buffer buffer))))

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

(provide 'ptyproxy-test-common)
;;; ptyproxy-test-common.el ends here
