;;; ptyproxy-readme-test.el --- the READMEs' Emacs set-up works as written  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; The set-up a new user copies is the text between the lines
;; "<!-- BEGIN emacs-quickstart -->" and "<!-- END emacs-quickstart -->"
;; of emacs/README.md, and of README.md when it has them.  Each Emacs
;; Lisp block there is written, unchanged, as the init file of a fresh
;; home directory in which ~/src/ptyproxy is a source tree (its emacs/
;; is this one, its .build/release/ptyproxy is PTYPROXY_PROGRAM), and
;; loaded by a batch Emacs started as a user's is (site files and
;; package.el's start-up on, so vterm is found where Debian's
;; elpa-vterm or package.el put it).  Then a `ptyproxy-term' runs
;; `echo' and `exit 3', and, when the block turned
;; `ptyproxy-vterm-mode' on, so does a `vterm'.
;;
;; The first block is for every Emacs the package supports (27.1 on,
;; and 28.2 is what the tests run): it must not need `use-package'.
;; Later blocks that call `use-package' (Emacs 29 and later) run where
;; it is built in (or already autoloaded when the init file starts) and
;; are reported as not run elsewhere: Emacs 28 with Debian's
;; elpa-use-package still needs a `(require 'use-package)' first.
;;
;; Run with emacs/run-tests.sh, or by hand:
;;
;;   PTYPROXY_PROGRAM=/path/to/ptyproxy emacs -Q --batch -L emacs -L emacs/test \
;;     -l emacs/test/ptyproxy-readme-test.el -f ert-run-tests-batch-and-exit

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'ptyproxy)
(require 'ptyproxy-test-common)

(defvar ptyproxy-readme-test-timeout 120
  "Seconds the child Emacs of one block may take.")

(defconst ptyproxy-readme-test--begin "<!-- BEGIN emacs-quickstart -->"
  "The line before the set-up in a README.")

(defconst ptyproxy-readme-test--end "<!-- END emacs-quickstart -->"
  "The line after the set-up in a README.")

(defun ptyproxy-readme-test--quickstart (file)
  "Return the text of FILE between the quick start's marker lines, or nil.
Fail the test if the markers are not one BEGIN line followed by one
END line."
  (with-temp-buffer
    (insert-file-contents file)
    (let ((begin (format "^%s$" (regexp-quote ptyproxy-readme-test--begin)))
          (end (format "^%s$" (regexp-quote ptyproxy-readme-test--end))))
      (goto-char (point-min))
      (when (re-search-forward begin nil t)
        (let ((start (1+ (point))))
          (should-not (re-search-forward begin nil t))
          (goto-char start)
          (should (re-search-forward end nil t))
          (buffer-substring-no-properties start (match-beginning 0)))))))

(defun ptyproxy-readme-test--blocks (text)
  "Return the Emacs Lisp code blocks of the Markdown TEXT, in order."
  (let ((blocks nil) (start 0))
    (while (string-match "^```\\(?:elisp\\|emacs-lisp\\)[ \t]*\n\\(\\(?:.*\n\\)*?\\)```[ \t]*$"
                         text start)
      (push (match-string 1 text) blocks)
      (setq start (match-end 0)))
    (nreverse blocks)))

(defun ptyproxy-readme-test--uses-use-package-p (code)
  "Return non-nil if CODE calls `use-package'."
  (string-match-p "(use-package\\_>" code))

(defun ptyproxy-readme-test--home (code)
  "Make a home directory whose init file is CODE; return its name.
In it ~/src/ptyproxy/emacs is this source tree's emacs/ and
~/src/ptyproxy/.build/release/ptyproxy is the program under test."
  (let* ((home (make-temp-file "ppx-home" t))
         (tree (expand-file-name "src/ptyproxy" home))
         (release (expand-file-name ".build/release" tree)))
    (make-directory release t)
    (make-directory (expand-file-name ".emacs.d" home))
    (make-symbolic-link (expand-file-name "emacs" ptyproxy-test-source)
                        (expand-file-name "emacs" tree))
    (make-symbolic-link (ptyproxy--check-program)
                        (expand-file-name "ptyproxy" release))
    (with-temp-file (expand-file-name ".emacs.d/init.el" home)
      (insert code))
    home))

(defconst ptyproxy-readme-test--check
  "(progn
  (defun ppx-wait (predicate what)
    (let ((deadline (+ (float-time) 30)))
      (while (not (funcall predicate))
        (when (> (float-time) deadline) (error \"Timed out waiting for %s\" what))
        (accept-process-output nil 0.05))))
  (defun ppx-has (buffer regexp)
    (and (buffer-live-p buffer)
         (with-current-buffer buffer
           (save-excursion (goto-char (point-min)) (re-search-forward regexp nil t)))))
  (let* ((buffer (ptyproxy-term \"/bin/sh\"))
         (process (get-buffer-process buffer)))
    (unless (ptyproxy-process-p process) (error \"term is not through ptyproxy\"))
    (process-send-string process \"echo hel''lo-$((6*7))\\n\")
    (ppx-wait (lambda () (ppx-has buffer \"hello-42\")) \"the echo in term\")
    (process-send-string process \"exit 3\\n\")
    (ppx-wait (lambda () (not (process-live-p process))) \"the end of term's shell\")
    (princ (format \"TERM %s %d\\n\" (process-status process) (process-exit-status process))))
  (princ (format \"VTERM-MODE %s\\n\" (and (boundp 'ptyproxy-vterm-mode) ptyproxy-vterm-mode)))
  (when (and (boundp 'ptyproxy-vterm-mode) ptyproxy-vterm-mode)
    (if (not (locate-library \"vterm\"))
        (princ \"VTERM not-installed\\n\")
      (require 'vterm)
      (let* ((vterm-shell \"/bin/sh\")
             (buffer (vterm))
             (process (get-buffer-process buffer)))
        (unless (ptyproxy-process-p process) (error \"vterm is not through ptyproxy\"))
        (with-current-buffer buffer
          (vterm-send-string \"echo hel''lo-$((6*7))\")
          (vterm-send-return))
        (ppx-wait (lambda () (ppx-has buffer \"hello-42\")) \"the echo in vterm\")
        (with-current-buffer buffer
          (vterm-send-string \"exit 4\")
          (vterm-send-return))
        (ppx-wait (lambda () (not (process-live-p process))) \"the end of vterm's shell\")
        (princ (format \"VTERM %s %d\\n\" (process-status process)
                       (process-exit-status process)))))))"
  "What the child Emacs runs after the init file: the package works.")

(defun ptyproxy-readme-test--run (code optional)
  "Load CODE as the init file of a fresh user's batch Emacs; return its output.
Then run `ptyproxy-readme-test--check'.  When OPTIONAL is non-nil and
`use-package' is not defined when the init file starts, the output is
\"SKIP\"."
  (let* ((home (ptyproxy-readme-test--home code))
         (process-environment (cons (concat "HOME=" home) process-environment))
         (output (generate-new-buffer " *ptyproxy-readme-test*"))
         (stderr (generate-new-buffer " *ptyproxy-readme-test-stderr*"))
         (process
          (make-process
           :name "emacs" :buffer output :connection-type 'pipe :sentinel #'ignore
           :stderr stderr
           ;; No -Q: the site files and package.el's start-up run, as for
           ;; a user; --batch loads no init file, so it is loaded by -l.
           :command (append
                     (list (expand-file-name invocation-name invocation-directory)
                           "--batch")
                     (and optional
                          (list "--eval" "(unless (fboundp 'use-package)
                                            (princ \"SKIP\\n\")
                                            (kill-emacs 0))"))
                     (list "-l" (expand-file-name ".emacs.d/init.el" home)
                           "--eval" ptyproxy-readme-test--check)))))
    (unwind-protect
        (let ((deadline (+ (float-time) ptyproxy-readme-test-timeout)))
          (while (and (process-live-p process) (< (float-time) deadline))
            (accept-process-output process 0.1))
          (should-not (process-live-p process))
          (let ((text (with-current-buffer output (buffer-string))))
            (unless (zerop (process-exit-status process))
              (ert-fail (list "The init file failed" code
                              (with-current-buffer stderr (buffer-string)))))
            text))
      (when (process-live-p process) (delete-process process))
      (kill-buffer output)
      (let ((pipe (get-buffer-process stderr)))
        (when pipe (delete-process pipe)))
      (kill-buffer stderr)
      (delete-directory home t))))

(defun ptyproxy-readme-test--readme (file)
  "Check the quick start of the README FILE; fail if it has none.
Return the number of blocks that ran."
  (let* ((text (or (ptyproxy-readme-test--quickstart file)
                   (ert-fail (list "No quick start between the markers in" file))))
         (blocks (ptyproxy-readme-test--blocks text))
         (ran 0))
    (should blocks)
    ;; The first block is for every supported Emacs, 28.2 among them.
    (should-not (ptyproxy-readme-test--uses-use-package-p (car blocks)))
    (cl-loop
     for code in blocks
     for index from 0
     do (let ((out (ptyproxy-readme-test--run
                    code (and (> index 0)
                              (ptyproxy-readme-test--uses-use-package-p code)))))
          (if (string-match-p "\\`SKIP$" out)
              (message "%s: block %d not run: it needs use-package (Emacs 29 or later)"
                       file (1+ index))
            (setq ran (1+ ran))
            (should (string-match-p "^TERM exit 3$" out))
            (when (string-match-p "^VTERM-MODE t$" out)
              (when (string-match-p "^VTERM not-installed$" out)
                (ert-skip "vterm is not installed (Debian: elpa-vterm)"))
              (should (string-match-p "^VTERM exit 4$" out)))
            (message "%s: block %d works as written:\n%s" file (1+ index) out))))
    ran))

(ert-deftest ptyproxy-readme-test-emacs-readme ()
  "emacs/README.md's quick start works in a user's Emacs, as written."
  (should (> (ptyproxy-readme-test--readme
              (expand-file-name "emacs/README.md" ptyproxy-test-source))
             0)))

(ert-deftest ptyproxy-readme-test-top-readme ()
  "README.md's Emacs quick start, when it has one, works as written."
  (let ((file (expand-file-name "README.md" ptyproxy-test-source)))
    (skip-unless (file-exists-p file))
    (if (ptyproxy-readme-test--quickstart file)
        (should (> (ptyproxy-readme-test--readme file) 0))
      (message "%s has no emacs-quickstart markers: nothing to check" file))))

(provide 'ptyproxy-readme-test)
;;; ptyproxy-readme-test.el ends here
