;;; ptyproxy-term.el --- term.el through ptyproxy  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;; Author: The ptyproxy developers
;; Maintainer: The ptyproxy developers
;; URL: https://github.com/ptyproxy/ptyproxy
;; Version: 0.2.0
;; Keywords: terminals, processes, unix

;; This file is not part of GNU Emacs.

;; Permission is hereby granted, free of charge, to any person
;; obtaining a copy of this software and associated documentation
;; files (the "Software"), to deal in the Software without
;; restriction, including without limitation the rights to use, copy,
;; modify, merge, publish, distribute, sublicense, and/or sell copies
;; of the Software, and to permit persons to whom the Software is
;; furnished to do so, subject to the following conditions:
;;
;; The above copyright notice and this permission notice shall be
;; included in all copies or substantial portions of the Software.
;;
;; THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
;; EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
;; MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
;; NONINFRINGEMENT.  IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
;; HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
;; WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
;; OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
;; DEALINGS IN THE SOFTWARE.

;;; Commentary:

;; The term.el adapter of ptyproxy: `ptyproxy-term' and
;; `ptyproxy-make-term' run a program through "ptyproxy new" in a term
;; buffer, with term's signal keys rebound to reach the terminal's
;; foreground job (`ptyproxy-term-keys-mode').  On Windows its filter
;; translates what term.el does not know of ConPTY's output (ECH and
;; OSC sequences).  It drives term.el's internals, so it is a file of
;; its own, loaded on first use of one of its commands.

;;; Code:

(require 'ptyproxy)

(defvar term-height)
(defvar term-width)
(defvar term-do-line-wrapping)
(defvar term-term-name)
(defvar term-termcap-format)
(defvar term-protocol-version)
(defvar term-ptyp)
(defvar term-exec-hook)
(defvar explicit-shell-file-name)
(declare-function term-mode "term" ())
(declare-function term-char-mode "term" ())
(declare-function term-check-proc "term" (buffer))
(declare-function term-emulate-terminal "term" (proc str))
(declare-function term-sentinel "term" (proc msg))
(declare-function term-send-string "term" (proc str))
(declare-function term-horizontal-column "term" ())

(defvar ptyproxy-term-keys-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map [remap term-interrupt-subjob] #'ptyproxy-interrupt-subjob)
    (define-key map [remap term-quit-subjob] #'ptyproxy-quit-subjob)
    (define-key map [remap term-stop-subjob] #'ptyproxy-stop-subjob)
    (define-key map [remap term-continue-subjob] #'ptyproxy-continue-subjob)
    (define-key map [remap term-kill-subjob] #'ptyproxy-kill-subjob)
    (define-key map [remap term-send-eof] #'ptyproxy-send-eof)
    (define-key map [remap term-delchar-or-maybe-eof] #'ptyproxy-delchar-or-maybe-eof)
    map)
  "Keymap of `ptyproxy-term-keys-mode'.
It gives term's signal and end of file commands ptyproxy's.")

(define-minor-mode ptyproxy-term-keys-mode
  "Make term's signal keys reach the terminal of ptyproxy.
term.el's commands signal the process of the buffer, which through
ptyproxy is ptyproxy itself; this buffer-local mode rebinds them to
commands that signal the terminal's foreground job through ptyproxy's
control channel, and that send end of file to the terminal."
  :lighter nil
  :keymap ptyproxy-term-keys-mode-map)

(defun ptyproxy-delchar-or-maybe-eof (arg)
  "Delete ARG characters forward, or send end of file at the end of buffer."
  (interactive "p")
  (if (eobp)
      (ptyproxy-send-eof)
    (delete-char arg)))

(defun ptyproxy--term-environment ()
  "Return the environment entries that term.el gives its programs."
  (append
   (unless (ptyproxy--windows-p)
     (list (format "TERM=%s" term-term-name)
           (format "TERMINFO=%s" data-directory)
           (format term-termcap-format "TERMCAP="
                   term-term-name term-height term-width)))
   (list (format "INSIDE_EMACS=%s,term:%s" emacs-version term-protocol-version))))

(defvar-local ptyproxy-term-title nil
  "The title the program of this term buffer set last, or nil.
On Windows, where term.el does not read the sequence that sets it
\(OSC 0 or 2), `ptyproxy--term-windows-filter' puts it here.")

(defconst ptyproxy--conpty-sequence-regexp
  (concat "\e\\(?:"
          ;; ECH, erase characters: CSI COUNT X.  Group 1: COUNT.
          "\\[\\([0-9]*\\)X"
          ;; OSC: ESC ] BODY, ended by BEL or by ESC \.  Group 2: BODY.
          "\\|\\]\\([^\a\e]*\\)\\(?:\a\\|\e\\\\\\)"
          "\\)")
  "The sequences of ConPTY that term.el does not know.")

(defconst ptyproxy--conpty-partial-regexp
  "\e\\(?:\\[[0-?]*[ -/]*\\|\\][^\a\e]*\e?\\)?\\'"
  "An escape sequence cut off by the end of a read.")

(defconst ptyproxy--conpty-held-limit 4096
  "At most this many bytes of a sequence cut off by a read are held back.
A longer one (an OSC that never ends) goes to term.el as it is.")

(defun ptyproxy--utf-8-cut (string)
  "Return where an unfinished UTF-8 sequence ends STRING, or nil.
term.el keeps such bytes for the next output itself, except when
they are all there is (a read of one byte of a character)."
  (let ((end (length string))
        (i (1- (length string)))
        (cut nil))
    (while (and (not cut) (>= i 0) (> i (- end 4)))
      (let ((byte (aref string i)))
        (cond ((< byte #x80) (setq cut 'none))
              ((< byte #xC0) (setq i (1- i)))
              (t (setq cut (if (< (- end i) (cond ((>= byte #xF0) 4)
                                                  ((>= byte #xE0) 3)
                                                  (t 2)))
                               i
                             'none))))))
    (and (integerp cut) cut)))

(defun ptyproxy--conpty-split (string)
  "Split STRING, output of ptyproxy.exe, around what term.el lacks.
Return (PIECES . HELD).  PIECES are, in order, strings for term.el,
\(erase . COUNT) for ECH and (osc . BODY) for an OSC sequence.  HELD
is an escape sequence or a character cut off at the end of STRING,
to be put in front of the next output."
  (let ((start 0) (pieces nil) (held ""))
    (while (string-match ptyproxy--conpty-sequence-regexp string start)
      (let ((from (match-beginning 0))
            (count (match-string 1 string))
            (body (match-string 2 string)))
        (when (> from start)
          (push (substring string start from) pieces))
        (push (if count
                  (cons 'erase (max 1 (string-to-number count)))
                (cons 'osc body))
              pieces)
        (setq start (match-end 0))))
    (let ((partial (string-match ptyproxy--conpty-partial-regexp string start)))
      (unless (and partial (<= (- (length string) partial) ptyproxy--conpty-held-limit))
        (setq partial (ptyproxy--utf-8-cut string)))
      (when (and partial (>= partial start))
        (setq held (substring string partial)
              string (substring string 0 partial))))
    (when (< start (length string))
      (push (substring string start) pieces))
    (cons (nreverse pieces) held)))

(defun ptyproxy--term-erase (process count)
  "Return what term.el knows that erases COUNT characters for PROCESS.
That is ECH (CSI COUNT X) at the cursor of PROCESS's term buffer:
blanks up to the end of the line at most, then back to where the
cursor was.  A wrap that was pending (the last column written) ends,
as ECH ends it; blanks that reach the last column leave term.el's
cursor on it, so the way back is one step shorter."
  (with-current-buffer (process-buffer process)
    (let* ((column (save-excursion
                     (goto-char (process-mark process))
                     (term-horizontal-column)))
           (n (min count (- term-width column)))
           (back (if (= (+ column n) term-width) (1- n) n)))
      (setq term-do-line-wrapping nil)
      (concat (make-string (max n 0) ?\s)
              (if (> back 0) (format "\e[%dD" back) "")))))

(defun ptyproxy--term-osc (process body)
  "Act on the OSC sequence BODY from PROCESS: keep a title, drop the rest."
  (when (string-match "\\`[02];" body)
    (let ((title (decode-coding-string (substring body 2) 'utf-8-unix t)))
      (with-current-buffer (process-buffer process)
        (setq ptyproxy-term-title title)
        (force-mode-line-update)))))

(defun ptyproxy--term-windows-filter (process output)
  "Give term.el the OUTPUT of ptyproxy.exe's PROCESS, in a form it knows.
On Windows the program's terminal is a ConPTY, whose output is UTF-8
\(term.el decodes with `locale-coding-system', the ANSI code page
there) and uses sequences term.el does not know: ECH (erase
characters) becomes blanks and a cursor move back, and OSC sequences
are taken out (a title goes to `ptyproxy-term-title').  A sequence
cut off at the end of OUTPUT waits for the rest."
  (when (buffer-live-p (process-buffer process))
    (let ((split (ptyproxy--conpty-split
                  (concat (process-get process 'ptyproxy-held) output)))
          (locale-coding-system 'utf-8-unix))
      (process-put process 'ptyproxy-held (cdr split))
      (dolist (piece (car split))
        (when (buffer-live-p (process-buffer process))
          (pcase piece
            ((pred stringp) (term-emulate-terminal process piece))
            (`(erase . ,count)
             (term-emulate-terminal process (ptyproxy--term-erase process count)))
            (`(osc . ,body) (ptyproxy--term-osc process body))))))))

(defun ptyproxy--term-filter ()
  "Return the process filter of ptyproxy term buffers on this system."
  (if (ptyproxy--windows-p)
      #'ptyproxy--term-windows-filter
    #'term-emulate-terminal))

(defun ptyproxy--term-exec (buffer name command &optional attach)
  "Start COMMAND through ptyproxy in the term BUFFER, for process NAME.
This does what `term-exec' does, with the process started by
`ptyproxy-make-process'.  ptyproxy gives the terminal sane settings
and the size, so the \"stty\" that term.el runs first is not needed.
ATTACH, (ID . FORCE), attaches to the kept session ID instead (see
`ptyproxy-attach'); COMMAND is then not used."
  (with-current-buffer buffer
    (let ((old (get-buffer-process buffer)))
      (when old (delete-process old)))
    (let* ((process-environment (append (ptyproxy--term-environment)
                                        process-environment))
           (process (ptyproxy-make-process
                     :name name :buffer buffer :command command
                     :attach (and attach t) :id (car attach) :force (cdr attach)
                     :size (cons term-width term-height)
                     :coding 'binary
                     :filter (ptyproxy--term-filter)
                     :sentinel #'term-sentinel)))
      (setq-local term-ptyp t)
      (goto-char (point-max))
      (set-marker (process-mark process) (point))
      (ptyproxy-term-keys-mode 1)
      (run-hooks 'term-exec-hook)
      process)))

;;;###autoload
(defun ptyproxy-make-term (name program &optional startfile &rest switches)
  "Make a term process NAME running PROGRAM through ptyproxy.
This is `make-term' (which see), with PROGRAM started by
`ptyproxy-make-process': the buffer is \"*NAME*\"; if it has a live
process already, it is left alone.  NAME, PROGRAM, STARTFILE and
SWITCHES are as for `make-term'.  On Windows PROGRAM alone is a
command line (\"cmd.exe\", \"powershell.exe -NoLogo\").
Return the buffer."
  (require 'term)
  (ptyproxy--check-program)
  (let ((buffer (get-buffer-create (concat "*" name "*"))))
    (unless (term-check-proc buffer)
      (with-current-buffer buffer
        (term-mode)
        (let ((process (ptyproxy--term-exec
                        buffer name (cons program switches))))
          (when startfile
            (goto-char (point-max))
            (insert-file-contents startfile)
            (term-send-string process
                              (delete-and-extract-region (point) (point-max)))))))
    buffer))

(defun ptyproxy--default-shell ()
  "Return the default program of `ptyproxy-term'."
  (if (ptyproxy--windows-p)
      ptyproxy-windows-shell
    (or explicit-shell-file-name (getenv "ESHELL") shell-file-name)))

;;;###autoload
(defun ptyproxy-term (program)
  "Start a terminal emulator like `term', with PROGRAM run through ptyproxy.
Each call makes a new buffer, *ptyproxy-term*, *ptyproxy-term*<2>...
The buffer is in Term mode and char mode; its window size follows the
window through ptyproxy's control channel.  On Windows PROGRAM is a
command line, by default `ptyproxy-windows-shell'.  Return the buffer."
  ;; Say that the binary is missing before asking for the program.
  (interactive (progn (ptyproxy--check-program)
                      (list (read-shell-command "Run program: "
                                                (ptyproxy--default-shell)))))
  (require 'term)
  (ptyproxy--check-program)
  (let ((buffer (generate-new-buffer "*ptyproxy-term*")))
    (condition-case err
        (with-current-buffer buffer
          (term-mode)
          ;; One program name (a command line on Windows), as for M-x term.
          (ptyproxy--term-exec buffer "ptyproxy-term" (list program))
          (term-char-mode))
      (error (kill-buffer buffer)
             (signal (car err) (cdr err))))
    (switch-to-buffer buffer)
    buffer))

;;;###autoload
(defun ptyproxy-term-attach (id &optional force)
  "Show the kept session ID in a new term buffer, *ptyproxy ID*; return it.
Its process is \"ptyproxy attach ID COLS ROWS\".  FORCE non-nil takes
the session from the host it has.  `ptyproxy-attach' asks for ID."
  (require 'term)
  (ptyproxy--check-program)
  (let ((buffer (generate-new-buffer (format "*ptyproxy %s*" id))))
    (condition-case err
        (with-current-buffer buffer
          (term-mode)
          (ptyproxy--term-exec buffer "ptyproxy-attach" nil (cons id force))
          (term-char-mode))
      (error (kill-buffer buffer)
             (signal (car err) (cdr err))))
    (switch-to-buffer buffer)
    buffer))

(provide 'ptyproxy-term)
;;; ptyproxy-term.el ends here
