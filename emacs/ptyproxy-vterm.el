;;; ptyproxy-vterm.el --- vterm through ptyproxy  -*- lexical-binding: t; -*-

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

;; The vterm adapter of ptyproxy: `ptyproxy-vterm-mode' and
;; `ptyproxy-vterm' start vterm's shell through "ptyproxy new".  It
;; hooks into vterm's internals (its `make-process' call and
;; `vterm--set-pty-name'), so it is a file of its own, loaded on first
;; use of one of its commands; vterm itself is loaded only by them.

;;; Code:

(require 'ptyproxy)

(defvar vterm-buffer-name)
(defvar vterm--process)
(declare-function vterm-mode "vterm" ())
(declare-function vterm--get-shell "vterm" ())

(defvar ptyproxy--vterm-buffer nil
  "While vterm sets up this buffer, its process starts through ptyproxy.")

(defvar ptyproxy--vterm-attach nil
  "Nil, or (ID . FORCE): vterm's process attaches to the kept session ID.")

(defun ptyproxy--vterm-size (args)
  "Return the terminal size (COLUMNS . ROWS) of vterm's `make-process' ARGS.
vterm's command sets it with \"stty ... rows R columns C\"."
  (let ((script (nth 2 (plist-get args :command))))
    (if (and (stringp script)
             (string-match "rows \\([0-9]+\\) columns \\([0-9]+\\)" script))
        (cons (string-to-number (match-string 2 script))
              (string-to-number (match-string 1 script)))
      (ptyproxy--window-size (plist-get args :buffer)))))

(defun ptyproxy--file-handler (operation &rest args)
  "Start vterm's process through ptyproxy; pass on other OPERATIONs with ARGS.
This is a file name handler for the operation `make-process' only,
installed while vterm sets up `ptyproxy--vterm-buffer': vterm calls
`make-process' with :file-handler t, which asks the handler of
`default-directory'."
  (let ((buffer (and (eq operation 'make-process)
                     (plist-get args :buffer))))
    (if (and buffer ptyproxy--vterm-buffer
             (eq (get-buffer buffer) ptyproxy--vterm-buffer))
        (let ((ptyproxy--vterm-buffer nil)
              (size (ptyproxy--vterm-size args))
              (args (ptyproxy--plist-without args '(:file-handler))))
          ;; vterm's command is "/bin/sh -c 'stty ...; exec SHELL'".  On
          ;; Windows there is no sh and no stty: run the shell's command
          ;; line itself, as conpty_proxy.exe is used.
          (when (ptyproxy--windows-p)
            (setq args (plist-put args :command (list (vterm--get-shell)))))
          (if ptyproxy--vterm-attach
              (apply #'ptyproxy-make-process :size size
                     :attach t :id (car ptyproxy--vterm-attach)
                     :force (cdr ptyproxy--vterm-attach)
                     args)
            (apply #'ptyproxy-make-process :size size args)))
      (let ((inhibit-file-name-handlers
             (cons 'ptyproxy--file-handler
                   (and (eq inhibit-file-name-operation operation)
                        inhibit-file-name-handlers)))
            (inhibit-file-name-operation operation))
        (apply operation args)))))

(put 'ptyproxy--file-handler 'operations '(make-process))

(defun ptyproxy--vterm-set-pty-name (orig term name)
  "Call ORIG with TERM and NAME, unless NAME is nil (a pipe process)."
  (when name
    (funcall orig term name)))

(defun ptyproxy--vterm-in-process-p ()
  "Return non-nil if the loaded vterm has ConPTY in its own module.
That is kiennq's fork since e838a92 (v0.1.34) on Windows: it starts
no process for its shell, so there is nothing to run through ptyproxy."
  (and (ptyproxy--windows-p)
       (or (fboundp 'vterm--conpty-init)
           (fboundp 'vterm--conpty-inprocess-make))))

(defconst ptyproxy--vterm-in-process-message
  "This vterm (kiennq's fork, v0.1.34 or later) runs ConPTY inside its \
own module and starts no process: it does not use ptyproxy.  Use \
M-x vterm as it is, or a vterm build of the fork's proxy era \
\(58e8863 to 72c804b) with ptyproxy"
  "What is said when vterm runs its terminal in process.")

(defvar ptyproxy--vterm-in-process-warned nil
  "Non-nil once `ptyproxy-vterm-mode' said that vterm does not use it.")

(defun ptyproxy--vterm-setup (function &rest args)
  "Call FUNCTION (`vterm-mode') with ARGS, its shell going through ptyproxy.
vterm's `make-process' is redirected by `ptyproxy--file-handler'.

Advice, and why it stays: vterm passes the process's tty name to its
module function `vterm--set-pty-name', which fails on nil, the tty
name of a pipe.  That function of vterm (not of Emacs) is advised
for the dynamic extent of this call only, to skip that call."
  (cond
   ((file-remote-p default-directory)
    (apply function args))
   ((ptyproxy--vterm-in-process-p)
    (unless ptyproxy--vterm-in-process-warned
      (setq ptyproxy--vterm-in-process-warned t)
      (display-warning 'ptyproxy ptyproxy--vterm-in-process-message))
    (apply function args))
   (t
    (unless (ptyproxy--executable)
      ;; \[vterm] made this buffer for us: leave nothing half-made.
      (when (and (zerop (buffer-size)) (not (get-buffer-process (current-buffer))))
        (kill-buffer (current-buffer)))
      (ptyproxy--check-program))
    (let ((file-name-handler-alist
           (cons '("\\'" . ptyproxy--file-handler) file-name-handler-alist))
          (ptyproxy--vterm-buffer (current-buffer)))
      (advice-add 'vterm--set-pty-name :around #'ptyproxy--vterm-set-pty-name)
      (unwind-protect
          (apply function args)
        (advice-remove 'vterm--set-pty-name #'ptyproxy--vterm-set-pty-name)))
    (let ((process (and (boundp 'vterm--process) vterm--process)))
      (when (ptyproxy-process-p process)
        ;; vterm set its own size function; call it from ours.
        (let ((own (process-get process 'adjust-window-size-function)))
          (unless (eq own #'ptyproxy--adjust-window-size)
            (process-put process 'ptyproxy-adjust-window-size-function own)
            (process-put process 'adjust-window-size-function
                         #'ptyproxy--adjust-window-size))))))))

;;;###autoload
(define-minor-mode ptyproxy-vterm-mode
  "Toggle running vterm's shells through ptyproxy.
While this global mode is on, a new vterm buffer starts its shell
through \"ptyproxy new\" over pipes instead of on a pty of Emacs, and
its window size reaches the shell's terminal through ptyproxy's
control channel.  Buffers made while the mode was off are not changed,
and buffers made while it was on keep using ptyproxy.

This mode advises vterm's function `vterm-mode' (not a function of
Emacs) while it is on: vterm has no hook that runs before it starts
its process.  \\[ptyproxy-vterm] starts one vterm through ptyproxy
without this mode.

On Windows, kiennq's vterm fork since v0.1.34 runs its pseudo console
inside its module and starts no process: with it, vterm runs as it
is, and this mode says so once (see `ptyproxy--vterm-in-process-p')."
  :global t
  :group 'ptyproxy
  (if ptyproxy-vterm-mode
      (advice-add 'vterm-mode :around #'ptyproxy--vterm-setup)
    (advice-remove 'vterm-mode #'ptyproxy--vterm-setup)))

;;;###autoload
(defun ptyproxy-vterm (&optional name)
  "Start a new vterm buffer, its shell running through ptyproxy.
NAME is the buffer's name (default: `vterm-buffer-name', made unique).
This is \\[vterm] through ptyproxy, whether or not
`ptyproxy-vterm-mode' is on.  Return the buffer.
On Windows, with a vterm that has its pseudo console inside its
module (kiennq's fork since v0.1.34), signal a `user-error' saying so."
  (interactive)
  (unless (require 'vterm nil t)
    (user-error "Ptyproxy: `ptyproxy-vterm' needs the vterm package, which \
is not on `load-path'.  Install it with M-x package-install RET vterm \
\(from MELPA), or on Debian and Ubuntu with \"apt install elpa-vterm\"; \
M-x ptyproxy-term needs no vterm"))
  (when (ptyproxy--vterm-in-process-p)
    (user-error "%s" ptyproxy--vterm-in-process-message))
  (ptyproxy--check-program)
  (let ((buffer (generate-new-buffer (or name vterm-buffer-name))))
    (condition-case err
        (with-current-buffer buffer
          (if (advice-member-p #'ptyproxy--vterm-setup 'vterm-mode)
              (vterm-mode)
            (ptyproxy--vterm-setup #'vterm-mode)))
      (error (kill-buffer buffer)
             (signal (car err) (cdr err))))
    (pop-to-buffer-same-window buffer)
    buffer))

;;;###autoload
(defun ptyproxy-vterm-attach (id &optional force)
  "Show the kept session ID in a new vterm buffer, *vterm ID*; return it.
Its process is \"ptyproxy attach ID COLS ROWS\".  FORCE non-nil takes
the session from the host it has.  `ptyproxy-attach' asks for ID."
  (let ((ptyproxy--vterm-attach (cons id force)))
    (ptyproxy-vterm (format "*vterm %s*" id))))

(defun ptyproxy-vterm-unload-function ()
  "Remove the advice of ptyproxy's vterm adapter before it is unloaded."
  (ptyproxy-vterm-mode -1)
  (advice-remove 'vterm--set-pty-name #'ptyproxy--vterm-set-pty-name)
  nil)

(provide 'ptyproxy-vterm)
;;; ptyproxy-vterm.el ends here
