;;; ptyproxy.el --- Terminals on a real pty through ptyproxy  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ptyproxy developers
;; SPDX-License-Identifier: MIT

;; Author: The ptyproxy developers
;; Maintainer: The ptyproxy developers
;; URL: https://github.com/ptyproxy/ptyproxy
;; Version: 0.2.0
;; Package-Requires: ((emacs "27.1"))
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

;; ptyproxy is a small program that runs a command on a pseudo
;; terminal of its own and relays the terminal's data over plain
;; pipes (its stdin and stdout).  Window size changes and signals
;; reach the session through a control channel: a Unix socket on
;; GNU/Linux, the ptyproxy command line on Windows (where Emacs cannot
;; open a named pipe).  It is call-compatible with conpty_proxy.exe,
;; the helper vterm users run on Windows.
;;
;; This package provides:
;;
;; - `ptyproxy-make-process': like `make-process', but the command runs
;;   on a pty through "ptyproxy new".
;; - `ptyproxy-vterm-mode': a global minor mode under which vterm starts
;;   its shell through ptyproxy; `ptyproxy-vterm' for one buffer.
;; - `ptyproxy-term': like M-x term, but through ptyproxy, in a new
;;   buffer each time.
;; - `ptyproxy-list': the live sessions, with keys to signal, resize and
;;   kill them; `ptyproxy-status', `ptyproxy-signal', `ptyproxy-resize'.
;; - `ptyproxy-keep-sessions': sessions that outlive their buffer and
;;   Emacs ("ptyproxy new --keep"); `ptyproxy-attach' (or RET in
;;   `ptyproxy-list') brings a detached one back into a buffer.
;; - `ptyproxy-locate-program' and `ptyproxy-build-program': find or
;;   build the ptyproxy binary.
;;
;; The vterm and term adapters are the files ptyproxy-vterm.el and
;; ptyproxy-term.el, loaded on first use of their commands.
;;
;; No function of Emacs is advised.  A ptyproxy process follows its
;; window's size through its `adjust-window-size-function' property;
;; in ptyproxy term buffers, \\`C-c C-c' and its siblings are bound to
;; commands that signal the terminal's foreground job.  Only while a
;; vterm buffer is being set up is vterm's own `vterm--set-pty-name'
;; advised (see `ptyproxy--vterm-setup').
;;
;; Usage:
;;
;;   (require 'ptyproxy)
;;   (setq ptyproxy-program "/path/to/ptyproxy")
;;   (ptyproxy-vterm-mode 1)     ; M-x vterm now goes through ptyproxy
;;   ;; M-x ptyproxy-term is M-x term through ptyproxy.
;;   (setq ptyproxy-keep-sessions t) ; shells outlive Emacs: M-x ptyproxy-attach

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'tabulated-list)

(defgroup ptyproxy nil
  "Run terminal programs on a pty through the ptyproxy program."
  :group 'processes
  :prefix "ptyproxy-")

(defcustom ptyproxy-program
  (if (eq system-type 'windows-nt) "ptyproxy.exe" "ptyproxy")
  "The ptyproxy executable.
Either a file name, or a program name looked up in variable `exec-path'.
\\[ptyproxy-locate-program] finds it; \\[ptyproxy-build-program] builds it."
  :type 'string)

(defcustom ptyproxy-new-arguments nil
  "Extra options given to \"ptyproxy new\", such as (\"--hangup-grace\" \"1\").
See \"ptyproxy --help\" for the options."
  :type '(repeat string))

(defcustom ptyproxy-keep-sessions nil
  "Non-nil means sessions started by this package outlive their buffer.
They are started with \"ptyproxy new --keep\": when the buffer is
killed, or Emacs exits or crashes, the program goes on running
detached, and its output is kept (up to \"--keep-buffer\" bytes,
1 MiB by default; put (\"--keep-buffer\" \"N\") in
`ptyproxy-new-arguments' to change it).  \\[ptyproxy-attach] or
\\[ptyproxy-list] brings a detached session back into a buffer.
Killing the buffer of a kept session asks whether to detach or to
end the session (see `ptyproxy-kill-buffer-action')."
  :type 'boolean)

(defcustom ptyproxy-kill-buffer-action 'ask
  "What killing the buffer of a kept session does to the session.
`ask' asks whether to detach (the program goes on running) or to
end the session; `detach' and `end' do that without asking.  Where
nobody can answer (in batch mode, or while Emacs exits) the session
is detached."
  :type '(choice (const :tag "Ask" ask) (const :tag "Detach" detach)
                 (const :tag "End the session" end)))

(defcustom ptyproxy-attach-terminal 'auto
  "The terminal emulator \\[ptyproxy-attach] opens a session in.
`auto' is vterm while `ptyproxy-vterm-mode' is on (the package starts
vterm's shells then), else term.el, as `ptyproxy-term' does."
  :type '(choice (const :tag "vterm with ptyproxy-vterm-mode, else term" auto)
                 (const :tag "vterm" vterm) (const :tag "term" term)))

(defcustom ptyproxy-term-name nil
  "The TERM of programs started through ptyproxy, or nil.
When nil, the program inherits TERM from Emacs's `process-environment',
which vterm and term.el set to what they emulate.  Given to ptyproxy
as \"--term NAME\"."
  :type '(choice (const :tag "Inherited" nil) string))

(defcustom ptyproxy-working-directory nil
  "The working directory of programs started through ptyproxy, or nil.
When nil, the program starts in the buffer's `default-directory'.
Given to ptyproxy as \"--cwd DIR\"."
  :type '(choice (const :tag "The buffer's directory" nil) directory))

(defcustom ptyproxy-environment nil
  "Environment variables (\"NAME=VALUE\") set for programs run through ptyproxy.
Each is given to ptyproxy as \"--env NAME=VALUE\"."
  :type '(repeat string))

(defcustom ptyproxy-resize-delay 0.05
  "Seconds to wait before sending a window size to a session.
Size changes within this time are coalesced: only the last one is sent."
  :type 'number)

(defcustom ptyproxy-windows-resize-delay 0.15
  "Seconds without a size change before a window size is sent, on Windows.
There each size is sent by running \"ptyproxy.exe resize\", which
starts a console of its own, so while a window edge is dragged the
size is sent once the dragging pauses (the timer restarts with each
change), and never while the previous one is still on its way."
  :type 'number)

(defcustom ptyproxy-windows-pipe-buffer-size 65536
  "Bytes of the pipes between Emacs and ptyproxy.exe, on Windows.
Emacs's `w32-pipe-buffer-size' is bound to it while the process is
made; 0 leaves the system's default."
  :type 'integer)

(defcustom ptyproxy-control-timeout 5
  "Seconds to wait for a reply of a session's control channel."
  :type 'number)

(defcustom ptyproxy-default-size '(80 . 24)
  "Terminal size (COLUMNS . ROWS) used when the buffer is not in a window."
  :type '(cons (integer :tag "Columns") (integer :tag "Rows")))

(defcustom ptyproxy-windows-shell "cmd.exe"
  "The program `ptyproxy-term' offers on Windows."
  :type '(choice (const "cmd.exe") (const "powershell.exe") string))

(defvar ptyproxy--counter 0
  "Number of session identifiers made by this Emacs so far.")

(defconst ptyproxy--id-max-length 64
  "The longest session identifier ptyproxy accepts, in characters.")

(defconst ptyproxy--id-regexp
  (format "\\`[A-Za-z0-9._-]\\{1,%d\\}\\'" ptyproxy--id-max-length)
  "The characters and length of the session identifiers ptyproxy accepts.")

(defconst ptyproxy--windows-device-regexp
  (concat "\\`\\(?:[Cc][Oo][Nn]\\|[Pp][Rr][Nn]\\|[Aa][Uu][Xx]\\|[Nn][Uu][Ll]"
          "\\|[Cc][Oo][Mm][0-9]\\|[Ll][Pp][Tt][0-9]\\)\\(?:\\.\\|\\'\\)")
  "A Windows device name (any case) alone or before a `.', as in \"nul.txt\".")

(defun ptyproxy--valid-id-p (id)
  "Return non-nil if ID is a session identifier ptyproxy accepts.
The rule is docs/INTERFACE.md's, the same for both programs: 1 to 64
of A-Z a-z 0-9 . _ -, not starting with `-' (it would be read as an
option), not ending with `.' (Windows drops it from file names), and
not a Windows device name (CON, PRN, AUX, NUL, COM0-COM9, LPT0-LPT9,
in any case, alone or before a `.'), which Windows cannot keep apart
from the device."
  (and (stringp id)
       (string-match-p ptyproxy--id-regexp id)
       (not (string-prefix-p "-" id))
       (not (string-suffix-p "." id))
       (not (string-match-p ptyproxy--windows-device-regexp id))))

(defconst ptyproxy--max-dimension 65535
  "The most columns or rows ptyproxy accepts.")

(defconst ptyproxy--windows-max-dimension 32767
  "The most columns or rows a Windows pseudo console has (a COORD field).")

(defun ptyproxy--windows-p ()
  "Return non-nil on Windows, where the control channel is the CLI."
  (eq system-type 'windows-nt))

;; Emacs's variables of Windows builds (src/w32proc.c).
(defvar w32-pipe-buffer-size)
(defvar w32-pipe-read-delay)
(defvar w32-quote-process-args)

(defvar ptyproxy--read-delay-warned nil
  "Non-nil once the warning about `w32-pipe-read-delay' was shown.")

(defun ptyproxy--check-read-delay ()
  "Warn once if `w32-pipe-read-delay' delays every read from ptyproxy.exe."
  (when (and (ptyproxy--windows-p)
             (not ptyproxy--read-delay-warned)
             (boundp 'w32-pipe-read-delay)
             (numberp w32-pipe-read-delay)
             (> w32-pipe-read-delay 0))
    (setq ptyproxy--read-delay-warned t)
    (display-warning
     'ptyproxy
     (format "`w32-pipe-read-delay' is %s: Emacs waits that many \
milliseconds before each read from ptyproxy.exe, so every echo of a key \
is that late.  Set it to 0" w32-pipe-read-delay))))

(defun ptyproxy--make-process (args)
  "Call `make-process' with ARGS, tuned for ptyproxy.exe on Windows.
There `w32-pipe-buffer-size' (read when the pipes are made) is
`ptyproxy-windows-pipe-buffer-size', and `w32-quote-process-args' is
t, so an argument with a double quote reaches ptyproxy.exe whole."
  (if (ptyproxy--windows-p)
      (let ((w32-pipe-buffer-size ptyproxy-windows-pipe-buffer-size)
            (w32-quote-process-args t))
        (ptyproxy--check-read-delay)
        (apply #'make-process args))
    (apply #'make-process args)))

;;;; Identifiers and file names

(defun ptyproxy-new-id ()
  "Return a fresh session identifier, unique to this Emacs and this call."
  (format "emacs-%d-%d-%06x" (emacs-pid) (cl-incf ptyproxy--counter)
          (random #x1000000)))

(defun ptyproxy--nonempty-env (name)
  "Return the value of environment variable NAME, or nil if unset or empty."
  (let ((value (getenv name)))
    (and value (not (equal value "")) value)))

(defun ptyproxy--absolute-env (name)
  "Return environment variable NAME if it is an absolute file name, else nil."
  (let ((value (ptyproxy--nonempty-env name)))
    (and value (string-prefix-p "/" value) value)))

(defun ptyproxy--directory-mode-p (directory modes)
  "Return non-nil if DIRECTORY is a real directory of this user matching MODES.
MODES is a regexp for the mode string of `file-attributes', which does
not follow symbolic links: a symbolic link is never accepted."
  (let ((attributes (file-attributes directory 'integer)))
    (and attributes
         (eq (file-attribute-type attributes) t)
         (eql (file-attribute-user-id attributes) (user-uid))
         (string-match-p modes (file-attribute-modes attributes)))))

(defun ptyproxy-socket-directories ()
  "Return the directories that may hold ptyproxy's control sockets, in order.
They are computed from `process-environment' by ptyproxy's own rule
\(docs/INTERFACE.md): $XDG_RUNTIME_DIR/ptyproxy alone, when
XDG_RUNTIME_DIR is an absolute directory of this user closed to
others; otherwise $TMPDIR/ptyproxy-UID (/tmp when TMPDIR is unset or
relative), then $HOME/.cache/ptyproxy, where ptyproxy goes when another
user has taken the name under TMPDIR.  Not used on Windows."
  (let ((runtime (ptyproxy--absolute-env "XDG_RUNTIME_DIR"))
        (home (ptyproxy--absolute-env "HOME")))
    (if (and runtime (ptyproxy--directory-mode-p runtime "\\`d...------\\'"))
        (list (concat (file-name-as-directory runtime) "ptyproxy"))
      (delq nil
            (list (concat (file-name-as-directory
                           (or (ptyproxy--absolute-env "TMPDIR") "/tmp"))
                          (format "ptyproxy-%d" (user-real-uid)))
                  (and home (concat (file-name-as-directory home)
                                    ".cache/ptyproxy")))))))

(defun ptyproxy--socket-name (id)
  "Return the file name of the control socket of the session named ID."
  (concat id ".sock"))

(defun ptyproxy-socket-file (id)
  "Return the control socket of the session named ID, or nil (not on Windows).
The socket is looked for in `ptyproxy-socket-directories', in order,
and only in a directory that ptyproxy itself would trust: a real
directory (not a symbolic link) owned by this user with mode 0700.
Nobody else can put a socket there, so Emacs, which cannot check the
server's user as ptyproxy's own client does, never talks to another
user's server.  Without such a socket the caller falls back to the
\"ptyproxy\" command, which makes every check itself."
  (cl-some (lambda (directory)
             (let ((socket (concat (file-name-as-directory directory)
                                   (ptyproxy--socket-name id))))
               (and (ptyproxy--directory-mode-p directory "\\`drwx------\\'")
                    (file-exists-p socket)
                    socket)))
           (ptyproxy-socket-directories)))

(defun ptyproxy--saved-environment ()
  "Return the entries of `process-environment' that locate control sockets."
  (mapcar (lambda (name)
            (let ((value (getenv name)))
              (if value (concat name "=" value) name)))
          '("XDG_RUNTIME_DIR" "TMPDIR" "HOME")))

(defun ptyproxy--program ()
  "Return `ptyproxy-program', with a leading \"~\" expanded."
  (if (string-prefix-p "~" ptyproxy-program)
      (expand-file-name ptyproxy-program)
    ptyproxy-program))

(defun ptyproxy--executable ()
  "Return the absolute file name of `ptyproxy-program', or nil.
Nil when it is not an executable regular file."
  (let ((program (ptyproxy--program)))
    (if (file-name-directory program)
        (let ((file (expand-file-name program)))
          (and (file-regular-p file) (file-executable-p file) file))
      (let ((file (executable-find program)))
        (and file (file-regular-p file) file)))))

(defun ptyproxy--check-program ()
  "Return the absolute file name of `ptyproxy-program'.
Signal a `user-error' that says how to get it when it is missing."
  (or (ptyproxy--executable)
      (user-error "Ptyproxy: `ptyproxy-program' (%s) is not an executable \
program.  Build it with M-x ptyproxy-build-program (or run \"swift build \
-c release -Xswiftc -static-executable\" in the ptyproxy source tree%s), \
then set `ptyproxy-program' to the binary or put it on `exec-path'"
                  ptyproxy-program
                  (if (ptyproxy--windows-p) "; on Windows \"make -C windows\"" ""))))

(defun ptyproxy-process-p (object)
  "Return non-nil if OBJECT is a process started through ptyproxy."
  (and (processp object) (process-get object 'ptyproxy-id) t))

(defun ptyproxy--clamp (n)
  "Return the integer N limited to the sizes ptyproxy accepts."
  (unless (integerp n)
    (signal 'wrong-type-argument (list 'integerp n)))
  (max 1 (min (if (ptyproxy--windows-p)
                   ptyproxy--windows-max-dimension
                 ptyproxy--max-dimension)
              n)))

(defun ptyproxy--window-size (buffer)
  "Return (COLUMNS . ROWS) of a window showing BUFFER.
Return `ptyproxy-default-size' when BUFFER is not in any window."
  (let* ((buffer (and buffer (get-buffer buffer)))
         (window (and buffer (get-buffer-window buffer t))))
    (if window
        (cons (window-max-chars-per-line window) (window-body-height window))
      ptyproxy-default-size)))

;;;; Command lines

(defun ptyproxy--plist-without (plist keys)
  "Return a copy of the property list PLIST without the properties KEYS."
  (let (result)
    (while plist
      (unless (memq (car plist) keys)
        (setq result (cl-list* (cadr plist) (car plist) result)))
      (setq plist (cddr plist)))
    (nreverse result)))

(defun ptyproxy-msvc-quote (argument)
  "Return ARGUMENT quoted for a Windows command line.
The rules are those of the Microsoft C runtime (CommandLineToArgvW):
backslashes are literal except before a double quote."
  (if (and (not (equal argument ""))
           (not (string-match-p "[ \t\n\v\"]" argument)))
      argument
    (let ((out (list "\"")) (backslashes 0))
      (dolist (char (string-to-list argument))
        (cond ((eq char ?\\) (cl-incf backslashes))
              ((eq char ?\")
               (push (make-string (1+ (* 2 backslashes)) ?\\) out)
               (push "\"" out)
               (setq backslashes 0))
              (t (push (make-string backslashes ?\\) out)
                 (push (string char) out)
                 (setq backslashes 0))))
      (push (make-string (* 2 backslashes) ?\\) out)
      (push "\"" out)
      (apply #'concat (nreverse out)))))

(defun ptyproxy-windows-command-line (command)
  "Return the Windows command line of COMMAND, a list of strings.
A single string is a command line already and is returned as is;
otherwise the words are quoted with `ptyproxy-msvc-quote' and joined."
  (if (null (cdr command))
      (car command)
    (mapconcat #'ptyproxy-msvc-quote command " ")))

(defun ptyproxy-percent-encode (string)
  "Return STRING's UTF-8 bytes with `%' and each byte not printable ASCII as %XX.
That is the form of \"ptyproxy new --arg-encoding percent\": ASCII
reaches ptyproxy.exe intact whatever the system's code page, and
ptyproxy.exe decodes it back into Unicode."
  (mapconcat (lambda (byte)
               (if (and (<= ?\s byte ?~) (/= byte ?%))
                   (string byte)
                 (format "%%%02X" byte)))
             (encode-coding-string string 'utf-8-unix t)
             ""))

(defun ptyproxy--windows-arguments (arguments)
  "Return ARGUMENTS of \"ptyproxy.exe new\" in a form that Windows passes intact.
Emacs starts programs on Windows with CreateProcessA: the arguments,
encoded as UTF-8, are read in the ANSI code page, which garbles any
character outside ASCII.  When one argument is not printable ASCII,
all are sent percent-encoded after \"--arg-encoding percent\";
otherwise they are left as they are (conpty_proxy.exe's form)."
  (if (cl-notany (lambda (argument) (string-match-p "[^ -~]" argument)) arguments)
      arguments
    (append '("--arg-encoding" "percent")
            (mapcar #'ptyproxy-percent-encode arguments))))

(defun ptyproxy--new-options (&optional keep)
  "Return the options of \"ptyproxy new\" from the user options.
KEEP non-nil adds \"--keep\"."
  (append (when keep (list "--keep"))
          ptyproxy-new-arguments
          (when ptyproxy-term-name
            (list "--term" ptyproxy-term-name))
          (when ptyproxy-working-directory
            (list "--cwd" (expand-file-name ptyproxy-working-directory)))
          (cl-mapcan (lambda (entry)
                       (unless (and (stringp entry) (string-match-p "\\`[^=]+=" entry))
                         (user-error "Ptyproxy: `ptyproxy-environment' entry %S is not NAME=VALUE"
                                     entry))
                       (list "--env" entry))
                     ptyproxy-environment)))

(defun ptyproxy--command (program id size command &optional keep)
  "Return the command line running PROGRAM \"new\" for session ID.
SIZE is (COLUMNS . ROWS); COMMAND is the program and its arguments.
KEEP non-nil starts a session that outlives its host (\"--keep\").
On Windows the command is one argument, a command line, as
conpty_proxy.exe takes it: \"new ID W H CMDLINE\"."
  (unless (and (consp command) (cl-every #'stringp command))
    (signal 'wrong-type-argument (list 'ptyproxy-command command)))
  (let ((options (ptyproxy--new-options keep))
        (cols (number-to-string (car size)))
        (rows (number-to-string (cdr size))))
    (if (ptyproxy--windows-p)
        ;; conpty_proxy.exe knows no options and no "--": give them
        ;; only when there are options.
        `(,program "new"
                   ,@(ptyproxy--windows-arguments
                      `(,@(and options (append options '("--")))
                        ,id ,cols ,rows ,(ptyproxy-windows-command-line command))))
      ;; ptyproxy runs a single argument containing whitespace through
      ;; "/bin/sh -c" (conpty_proxy.exe does that).  `make-process' takes
      ;; an argument vector, so such a program name is passed through a
      ;; shell that executes it as is.
      (when (and (null (cdr command)) (string-match-p "[ \t\n]" (car command)))
        (setq command (list "/bin/sh" "-c" "exec \"$0\"" (car command))))
      `(,program "new" ,@options "--" ,id ,cols ,rows ,@command))))

(defun ptyproxy--attach-command (program id size force)
  "Return the command line running PROGRAM \"attach\" for the session ID.
SIZE is (COLUMNS . ROWS), the size the session takes.  FORCE non-nil
detaches the host the session has (\"--force\")."
  `(,program "attach" ,id ,(number-to-string (car size))
             ,(number-to-string (cdr size)) ,@(and force '("--force"))))

;;;; Creating processes

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

:keep KEEP -- non-nil starts a session that outlives its host
\(\"ptyproxy new --keep\"); the default is `ptyproxy-keep-sessions'.

:attach ATTACH -- non-nil attaches to the kept session :id instead
of starting one: the process is \"ptyproxy attach ID COLS ROWS\",
and :command is not used.  :force FORCE non-nil takes the session
from the host it has (\"--force\").

Killing the buffer of a kept or attached session asks what to do
\(see `ptyproxy-kill-buffer-action'), and leaving Emacs detaches it.

:coding defaults to `no-conversion' both ways.  :connection-type
and :file-handler are ignored: the connection is a pipe, and the
process runs on this machine.

The process's status is the command's: ptyproxy exits with the
command's exit status.  The process has the properties `ptyproxy-id'
\(the session identifier), `ptyproxy-socket' (its control socket, once
found in a directory ptyproxy trusts; nil on Windows) and
`ptyproxy-size' (the last size the session acknowledged).  Its
window size follows the windows showing its buffer (through the
property `adjust-window-size-function').  Signal
it with `ptyproxy-signal', resize it with `ptyproxy-resize', and send
it an end of file with `ptyproxy-send-eof': `interrupt-process',
`set-process-window-size' and `process-send-eof' act on the pipe to
ptyproxy, not on the terminal.  `interrupt-process' ends the whole
session: on GNU/Linux ptyproxy takes SIGINT as a hang-up, and on
Windows Emacs sends ptyproxy.exe a Ctrl-Break, which it takes as a
hang-up too.  To interrupt the program, as \`C-c' on a terminal
does, use `ptyproxy-interrupt-subjob' or `ptyproxy-signal', which send
it SIGINT (on Windows a ^C typed into its console).

On Windows, arguments that are not ASCII are sent percent-encoded
\(see `ptyproxy-percent-encode'), because Emacs passes arguments
through the ANSI code page there.

Signal a `user-error' if `ptyproxy-program' is not an executable."
  (let* ((program (ptyproxy--check-program))
         (buffer (plist-get args :buffer))
         (size (or (plist-get args :size) (ptyproxy--window-size buffer)))
         (size (cons (ptyproxy--clamp (car size)) (ptyproxy--clamp (cdr size))))
         (attach (plist-get args :attach))
         (keep (ptyproxy--keep-p attach (if (plist-member args :keep)
                                            (plist-get args :keep)
                                          ptyproxy-keep-sessions)))
         (id (or (plist-get args :id)
                 (if attach
                     (signal 'wrong-type-argument (list 'ptyproxy-id nil))
                   (ptyproxy-new-id))))
         (coding (if (plist-member args :coding)
                     (plist-get args :coding)
                   'no-conversion))
         (command (progn
                    (unless (ptyproxy--valid-id-p id)
                      (signal 'wrong-type-argument (list 'ptyproxy-id id)))
                    (if attach
                        (ptyproxy--attach-command program id size
                                                  (plist-get args :force))
                      (ptyproxy--command program id size (plist-get args :command)
                                         keep))))
         (rest (ptyproxy--plist-without
                args '(:command :connection-type :file-handler :coding
                                :size :id :keep :attach :force)))
         (process-connection-type nil)
         ;; Read ptyproxy's output as soon as it is there: adaptive read
         ;; buffering delays reads of a process that sent little, which
         ;; is a keystroke's echo.  (vterm binds it so for its pty too.)
         (process-adaptive-read-buffering nil)
         (process (ptyproxy--make-process
                   `(:command ,command :connection-type pipe :coding ,coding
                              ,@rest))))
    (process-put process 'ptyproxy-id id)
    (process-put process 'ptyproxy-environment (ptyproxy--saved-environment))
    (process-put process 'ptyproxy-program program)
    (process-put process 'ptyproxy-size size)
    (process-put process 'ptyproxy-requested-size size)
    (process-put process 'ptyproxy-resize-count 0)
    (process-put process 'adjust-window-size-function
                 #'ptyproxy--adjust-window-size)
    (ptyproxy--watch-exit process)
    (when keep
      (ptyproxy--keep process))
    process))

(defun ptyproxy--vterm-fork-size (&rest args)
  "Return (WIDTH . HEIGHT), the last two of ARGS, and do nothing else.
This stands in for the resize of kiennq's vterm fork of its proxy
era, (vterm--conpty-proxy-resize [PROCESS] WIDTH HEIGHT) and
\(vterm--conpty-proxy-debounce-resize WIDTH HEIGHT), while its size
function runs for a ptyproxy process: that resize addresses the
fork's own proxy, which does not exist (or a session ID that is not
ptyproxy's); ptyproxy's own resize sends the size."
  (let ((n (length args)))
    (cons (nth (- n 2) args) (nth (1- n) args))))

(defun ptyproxy--call-size-function (function process windows)
  "Return the size that FUNCTION computes for PROCESS and WINDOWS.
The resize functions of kiennq's vterm fork are suppressed meanwhile:
see `ptyproxy--vterm-fork-size'."
  (if (not (or (fboundp 'vterm--conpty-proxy-resize)
               (fboundp 'vterm--conpty-proxy-debounce-resize)))
      (funcall function process windows)
    (cl-letf (((symbol-function 'vterm--conpty-proxy-resize) #'ptyproxy--vterm-fork-size)
              ((symbol-function 'vterm--conpty-proxy-debounce-resize)
               #'ptyproxy--vterm-fork-size))
      (funcall function process windows))))

(defun ptyproxy--adjust-window-size (process windows)
  "Send PROCESS's new size, for its WINDOWS, to its session; return nil.
This is the `adjust-window-size-function' of ptyproxy processes.  It
calls the function that would have computed the size (the process's
`ptyproxy-adjust-window-size-function' property, else
`window-adjust-process-window-size-function'), which also lets vterm
and term.el resize their screens, and sends that size to the session.
It returns nil: Emacs's `set-process-window-size' on the pipe to
ptyproxy would do nothing."
  (let ((size (ptyproxy--call-size-function
               (or (process-get process 'ptyproxy-adjust-window-size-function)
                   window-adjust-process-window-size-function)
               process windows)))
    (when (and (consp size) (integerp (car size)) (integerp (cdr size))
               (process-live-p process))
      (ptyproxy-resize process (car size) (cdr size)))
    nil))

(defun ptyproxy--watch-exit (process)
  "Arrange for `ptyproxy--cleanup' to run after PROCESS's sentinel.
Call this again after replacing the sentinel with `set-process-sentinel'."
  (add-function :after (process-sentinel process) #'ptyproxy--cleanup))

(defun ptyproxy--cleanup (process &rest _)
  "Cancel the timer of the dead ptyproxy PROCESS; note a stale socket.
If ptyproxy could not remove its control socket (it was killed), the
property `ptyproxy-stale-socket' says so.  The file is left alone:
only the holder of the session's lock may remove it, and the next
\"ptyproxy list\" or \"ptyproxy new\" with that ID proves it stale and
removes it."
  (when (and (ptyproxy-process-p process)
             (memq (process-status process) '(exit signal)))
    (let ((timer (process-get process 'ptyproxy-resize-timer)))
      (when (timerp timer)
        (cancel-timer timer)))
    (process-put process 'ptyproxy-resize-timer nil)
    (let ((socket (process-get process 'ptyproxy-socket)))
      ;; A kept session goes on without this process, on its socket.
      (when (and socket (file-exists-p socket)
                 (not (process-get process 'ptyproxy-kept)))
        (process-put process 'ptyproxy-stale-socket t)))))

;;;; Kept sessions

(defun ptyproxy--keep-p (attach keep)
  "Return non-nil if a session made with ATTACH and KEEP is kept.
ATTACH non-nil attaches to a kept session.  Both programs keep
sessions: ptyproxy.exe runs a kept session in a server process of
its own, as the Linux program does."
  (or attach keep))

(defvar ptyproxy--exiting nil
  "Non-nil once Emacs is exiting: kept sessions are detached, not asked about.")

(defun ptyproxy--note-exit ()
  "Note that Emacs is exiting (on `kill-emacs-hook').
Emacs then hangs up its processes, which detaches the kept sessions;
a buffer killed meanwhile detaches its session without asking."
  (setq ptyproxy--exiting t))

(defun ptyproxy--keep (process)
  "Make PROCESS, the host of a kept session, detach rather than end.
Leaving Emacs only detaches it, so Emacs does not ask about it then;
killing its buffer asks what to do (`ptyproxy-kill-buffer-action')."
  (process-put process 'ptyproxy-kept t)
  (set-process-query-on-exit-flag process nil)
  ;; First on the hook, so that a buffer killed by a later function
  ;; of it is detached without a question.
  (add-hook 'kill-emacs-hook #'ptyproxy--note-exit -90)
  (let ((buffer (process-buffer process)))
    (when (buffer-live-p buffer)
      (with-current-buffer buffer
        (add-hook 'kill-buffer-query-functions #'ptyproxy--kill-buffer-query nil t)
        (add-hook 'kill-buffer-hook #'ptyproxy--kill-buffer-act nil t)))))

(defun ptyproxy--kept-process ()
  "Return the live host process of a kept session in this buffer, or nil."
  (let ((process (get-buffer-process (current-buffer))))
    (and (ptyproxy-process-p process)
         (process-live-p process)
         (process-get process 'ptyproxy-kept)
         (not (process-get process 'ptyproxy-detached))
         process)))

(defun ptyproxy--kill-choice (process)
  "Return what killing the buffer of PROCESS does: `detach', `end' or `cancel'.
While Emacs exits, `detach'; else `ptyproxy-kill-buffer-action',
asked for when it is `ask' and someone can answer."
  (cond
   (ptyproxy--exiting 'detach)
   ((memq ptyproxy-kill-buffer-action '(detach end)) ptyproxy-kill-buffer-action)
   (noninteractive 'detach)
   (t (pcase (car (read-multiple-choice
                   (format "Kept session %s: "
                           (ptyproxy--printable (process-get process 'ptyproxy-id)))
                   '((?d "detach" "Leave the program running; M-x ptyproxy-attach brings it back")
                     (?e "end" "Hang up the program: ptyproxy signal ID HUP")
                     (?c "cancel" "Do not kill the buffer"))))
        (?d 'detach)
        (?e 'end)
        (_ 'cancel)))))

(defun ptyproxy--kill-buffer-query ()
  "Ask what killing this buffer should do to its kept session.
Return nil to keep the buffer.
This is on `kill-buffer-query-functions' of buffers of kept sessions;
the answer is carried out by `ptyproxy--kill-buffer-act'."
  (let ((process (ptyproxy--kept-process)))
    (or (not process)
        (let ((choice (ptyproxy--kill-choice process)))
          (process-put process 'ptyproxy-kill-choice choice)
          (not (eq choice 'cancel))))))

(defun ptyproxy--kill-buffer-act ()
  "Detach or end the kept session of the buffer being killed.
This is on `kill-buffer-hook' of buffers of kept sessions.  Without
an answer of `ptyproxy--kill-buffer-query' (the buffer was killed
with `kill-buffer-query-functions' bound to nil, or while Emacs
exits) the session is detached."
  (let ((process (ptyproxy--kept-process)))
    (when process
      (if (eq (process-get process 'ptyproxy-kill-choice) 'end)
          (ptyproxy-end-session process)
        (ptyproxy-detach process)))))

(defun ptyproxy-detach (process)
  "Detach from the kept session of PROCESS, leaving its program running.
PROCESS, \"ptyproxy new --keep\" or \"ptyproxy attach\", gets SIGHUP,
which a kept session takes as its host going away.  Its output is no
longer shown (its buffer is usually being killed).
\[ptyproxy-attach] brings the session back."
  (unless (and (ptyproxy-process-p process) (process-get process 'ptyproxy-kept))
    (signal 'wrong-type-argument (list 'ptyproxy-kept-process process)))
  (process-put process 'ptyproxy-detached t)
  (set-process-filter process #'ignore)
  ;; The adapters' sentinels write into the buffer, which is going.
  (set-process-sentinel process #'ignore)
  (ptyproxy--watch-exit process)
  (when (process-live-p process)
    (signal-process process 'SIGHUP))
  process)

(defconst ptyproxy--hangup-interval 0.5
  "Seconds between two hang-ups sent by `ptyproxy-end-session'.")

(defun ptyproxy--hang-up (process)
  "Send SIGHUP to the foreground job of PROCESS's session; return t on success.
That is \"ptyproxy signal ID HUP\", waited for."
  (let ((result (ptyproxy--call (ptyproxy--cli-arguments
                                 ;; ptyproxy.exe has no HUP: TERM ends the session's job.
                                 "signal" (process-get process 'ptyproxy-id)
                                 (if (ptyproxy--windows-p) "TERM" "HUP"))
                                (process-get process 'ptyproxy-environment)
                                (process-get process 'ptyproxy-program))))
    (or (eq (car result) 0)
        (progn
          (when (process-live-p process)
            (message "ptyproxy: signal HUP failed: %s"
                     (if result (ptyproxy--printable (string-trim (cdr result)))
                       "no answer")))
          nil))))

(defun ptyproxy-end-session (process)
  "End the kept session of PROCESS: hang up its program.
This runs \"ptyproxy signal ID HUP\", which reaches the terminal's
foreground job, and then waits for PROCESS to end with the program.
A job that ends leaves the next one (the shell under a vim) in the
foreground, so the hang-up is sent again every
`ptyproxy--hangup-interval' seconds, for at most
`ptyproxy-control-timeout' seconds.  Return non-nil if it ended."
  (let ((deadline (+ (float-time) ptyproxy-control-timeout)))
    (while (and (process-live-p process)
                (< (float-time) deadline)
                (ptyproxy--hang-up process))
      (let ((next (min deadline (+ (float-time) ptyproxy--hangup-interval))))
        (while (and (process-live-p process) (< (float-time) next))
          (accept-process-output nil 0.05))))
    ;; The session is gone (the hang-up failed): PROCESS follows it.
    (while (and (process-live-p process) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (when (process-live-p process)
      (message "ptyproxy: session %s did not end; it goes on detached"
               (ptyproxy--printable (process-get process 'ptyproxy-id))))
    (not (process-live-p process))))

(defun ptyproxy-session-kept-p (status)
  "Return non-nil if the session STATUS (from \"ptyproxy list\") is kept."
  (eq (cdr (assq 'kept status)) t))

(defun ptyproxy-session-detached-p (status)
  "Return non-nil if the session STATUS is kept and has no host."
  (and (ptyproxy-session-kept-p status)
       (not (eq (cdr (assq 'attached status)) t))))

(defun ptyproxy--sessions ()
  "Return the live sessions of this user as (ID . STATUS), from \"ptyproxy list\".
Signal a `user-error' if the list cannot be read."
  ;; A missing binary is reported by its own `user-error', not as the
  ;; output of a failed \"ptyproxy list\".
  (ptyproxy--check-program)
  (let ((result (ptyproxy--call '("list"))))
    (unless (and result (eq (car result) 0))
      (user-error "Ptyproxy: list failed: %s"
                  (if result
                      (string-remove-prefix
                       "ptyproxy: "
                       (ptyproxy--printable (string-trim (cdr result))))
                    "no answer")))
    (ptyproxy-parse-list (cdr result))))

(defun ptyproxy--attach-candidates (sessions force)
  "Return the IDs of SESSIONS one can attach to, with their descriptions.
The result is an alist (ID . DESCRIPTION).  They are the detached
sessions, or with FORCE all kept sessions."
  (cl-loop for (id . status) in sessions
           when (if force
                    (ptyproxy-session-kept-p status)
                  (ptyproxy-session-detached-p status))
           collect (cons id (format "%s  %s" (ptyproxy--state-text id status)
                                    (ptyproxy--command-text status)))))

(defun ptyproxy--read-attach-arguments (force)
  "Ask for a session to attach to; return (ID FORCE).
The choices are the detached sessions, or with FORCE the kept ones."
  (let* ((candidates (ptyproxy--attach-candidates (ptyproxy--sessions) force))
         (completion-extra-properties
          (list :annotation-function
                (lambda (id) (concat "  " (cdr (assoc id candidates)))))))
    (unless candidates
      (user-error (if force "No kept ptyproxy session runs"
                    "No detached ptyproxy session (C-u M-x ptyproxy-attach offers the attached ones too)")))
    (list (completing-read (if force "Take over session: " "Attach to session: ")
                           candidates nil t)
          force)))

(defun ptyproxy--attach-terminal ()
  "Return the terminal emulator for `ptyproxy-attach': `vterm' or `term'."
  (pcase ptyproxy-attach-terminal
    ('vterm 'vterm)
    ('term 'term)
    (_ (if (bound-and-true-p ptyproxy-vterm-mode) 'vterm 'term))))

(declare-function ptyproxy-vterm-attach "ptyproxy-vterm" (id &optional force))
(declare-function ptyproxy-term-attach "ptyproxy-term" (id &optional force))

;;;###autoload
(defun ptyproxy-attach (id &optional force)
  "Show the kept session ID in a new terminal buffer; return the buffer.
Interactively, ID is one of the detached sessions of \"ptyproxy list\".
The buffer's process is \"ptyproxy attach ID COLS ROWS\": the kept
output is replayed, then the program runs there as if started there,
and the window size follows the window.  The buffer is vterm or term
\(see `ptyproxy-attach-terminal').  A session attached in this Emacs
is shown in its buffer.  With FORCE (interactively, a prefix
argument) a session attached elsewhere is taken from its host."
  (interactive (ptyproxy--read-attach-arguments current-prefix-arg))
  (unless (ptyproxy--valid-id-p id)
    (user-error "Ptyproxy: %S is not a session ID" id))
  (let ((own (ptyproxy--process-of-id id)))
    (if (and own (not (process-get own 'ptyproxy-detached))
             (buffer-live-p (process-buffer own)))
        (progn (pop-to-buffer (process-buffer own))
               (process-buffer own))
      (let ((status (cdr (assoc id (ptyproxy--sessions)))))
        (cond ((not status)
               (user-error "Ptyproxy: no session %s runs" id))
              ((not (ptyproxy-session-kept-p status))
               (user-error "Ptyproxy: session %s was not started with --keep" id))
              ((and (not force) (not (ptyproxy-session-detached-p status)))
               (user-error "Ptyproxy: session %s is attached elsewhere; C-u M-x ptyproxy-attach takes it over" id))))
      (if (eq (ptyproxy--attach-terminal) 'vterm)
          (ptyproxy-vterm-attach id force)
        (ptyproxy-term-attach id force)))))

;;;; The control channel

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

(defun ptyproxy--socket (process)
  "Return the control socket of the ptyproxy PROCESS, or nil if none is found.
The socket appears once ptyproxy has started, so it is looked up on
first use, in the environment PROCESS was started with, and then kept."
  (or (process-get process 'ptyproxy-socket)
      (unless (ptyproxy--windows-p)
        (let* ((process-environment
                (append (process-get process 'ptyproxy-environment)
                        process-environment))
               (socket (ptyproxy-socket-file (process-get process 'ptyproxy-id))))
          (when socket
            (process-put process 'ptyproxy-socket socket))
          socket))))

(defun ptyproxy--request (process request callback)
  "Send the line REQUEST to the control socket of the ptyproxy PROCESS.
Call CALLBACK with the reply line (without its newline), or with nil
if the socket could not be reached or did not answer.  On Windows,
and for a process without a socket, call CALLBACK with nil at once."
  (let* ((socket (ptyproxy--socket process))
         (connection
          (and socket
               (not (ptyproxy--windows-p))
               (condition-case nil
                   (make-network-process
                    :name (format " *ptyproxy-control %s*" (process-get process 'ptyproxy-id))
                    :family 'local
                    :service socket
                    :buffer nil
                    :coding 'binary
                    :noquery t
                    :filter #'ptyproxy--control-filter
                    :sentinel #'ptyproxy--control-sentinel)
                 (error nil)))))
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

(defun ptyproxy--run-cli (arguments callback &optional environment program)
  "Run ptyproxy with ARGUMENTS; call CALLBACK with its exit status and output.
ENVIRONMENT entries are put in front of `process-environment'.
PROGRAM is the ptyproxy binary (default: `ptyproxy-program').
Return the process, or nil if it could not be started (then CALLBACK
has been called with 127)."
  (let ((process-environment (append environment process-environment))
        (process-connection-type nil)
        (output ""))
    (condition-case err
        (ptyproxy--make-process
         (list
          :name (format " *ptyproxy %s*" (car arguments))
          :buffer nil
          :command (cons (or program (ptyproxy--check-program)) arguments)
          :connection-type 'pipe
          :coding 'binary
          :noquery t
          :filter (lambda (_proc string) (setq output (concat output string)))
          :sentinel (lambda (proc _event)
                      (unless (process-live-p proc)
                        (funcall callback (process-exit-status proc) output)))))
      (error (funcall callback 127 (error-message-string err))
             nil))))

(defun ptyproxy--call (arguments &optional environment program)
  "Run ptyproxy with ARGUMENTS and wait for it; return (STATUS . OUTPUT).
ENVIRONMENT and PROGRAM are as for `ptyproxy--run-cli'.  Wait at most
`ptyproxy-control-timeout' seconds; then kill it and return nil."
  (let* ((result nil)
         (process (ptyproxy--run-cli arguments
                                     (lambda (status output)
                                       (setq result (cons status output)))
                                     environment program))
         (deadline (+ (float-time) ptyproxy-control-timeout)))
    ;; Wait on every process, not on PROCESS alone: Emacs runs the
    ;; sentinel that gives the result only once no other process has
    ;; output waiting, and a busy terminal always has some.  The end
    ;; of PROCESS does not cut a wait short, so the waits are short
    ;; (a call takes a few milliseconds).
    (while (and (not result) process (< (float-time) deadline))
      (accept-process-output nil 0.01))
    (when (and (not result) (process-live-p process))
      (delete-process process))
    result))

(defun ptyproxy--cli-for (process arguments callback)
  "Run ptyproxy ARGUMENTS for the session of PROCESS; see `ptyproxy--run-cli'.
CALLBACK receives the exit status and the output."
  (ptyproxy--run-cli arguments callback
                     (process-get process 'ptyproxy-environment)
                     (process-get process 'ptyproxy-program)))

(defun ptyproxy--request-line (verb &rest arguments)
  "Return the control request line VERB ARGUMENTS..., without its newline.
VERB is \"resize\", \"signal\", \"status\" or \"ping\"; ARGUMENTS are
strings.  This is the one place that spells a request."
  (mapconcat #'identity (cons verb arguments) " "))

(defun ptyproxy--cli-arguments (verb id &rest arguments)
  "Return the arguments of the ptyproxy command that asks session ID for VERB.
That is \"ptyproxy VERB ID ARGUMENTS...\", the command line form of
the request `ptyproxy--request-line' spells."
  (cons verb (cons id arguments)))

(defun ptyproxy--request-or-cli (process verb arguments callback)
  "Ask PROCESS's session for VERB with ARGUMENTS, on its socket or by the CLI.
The socket is tried first; if it cannot be reached (or on Windows),
\"ptyproxy VERB ID ARGUMENTS...\" is run instead.  CALLBACK receives
t on success, or a string describing the failure."
  (ptyproxy--request
   process (apply #'ptyproxy--request-line verb arguments)
   (lambda (reply)
     (cond
      ((null reply)
       (ptyproxy--cli-for
        process (apply #'ptyproxy--cli-arguments
                       verb (process-get process 'ptyproxy-id) arguments)
        (lambda (status output)
          (funcall callback
                   (if (eq status 0)
                       t
                     (format "ptyproxy %s exited with %s: %s"
                             verb status
                             (ptyproxy--printable (string-trim output))))))))
      ((string-prefix-p "ok" reply) (funcall callback t))
      (t (funcall callback (ptyproxy--printable reply)))))))

;;;; Window size

(defun ptyproxy-resize (process cols rows)
  "Set the terminal size of the ptyproxy PROCESS to COLS columns, ROWS rows.
The size is sent shortly after (see `ptyproxy-resize-delay'); when
several sizes are asked for in that time, only the last one is sent.
On Windows it is sent once no size has been asked for during
`ptyproxy-windows-resize-delay', and one at a time.
It is sent on the control socket, or by \"ptyproxy resize\" when the
socket cannot be reached and on Windows.  Return the size as (COLS . ROWS)."
  (interactive
   (let* ((process (ptyproxy--read-process))
          (size (ptyproxy--window-size (process-buffer process))))
     (list process
           (read-number "Columns: " (car size))
           (read-number "Rows: " (cdr size)))))
  (unless (ptyproxy-process-p process)
    (signal 'wrong-type-argument (list 'ptyproxy-process-p process)))
  (let ((size (cons (ptyproxy--clamp cols) (ptyproxy--clamp rows)))
        (timer (process-get process 'ptyproxy-resize-timer)))
    (process-put process 'ptyproxy-pending-size size)
    (cond
     ;; The size on its way calls `ptyproxy--send-size' when it is done.
     ((process-get process 'ptyproxy-resize-busy))
     ;; Windows: each size costs a process and a console, so wait for
     ;; a pause (debounce).
     ((ptyproxy--windows-p)
      (when (timerp timer)
        (cancel-timer timer))
      (process-put process 'ptyproxy-resize-timer
                   (run-at-time ptyproxy-windows-resize-delay nil
                                #'ptyproxy--send-size process)))
     ((not (timerp timer))
      (process-put process 'ptyproxy-resize-timer
                   (run-at-time ptyproxy-resize-delay nil
                                #'ptyproxy--send-size process))))
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
         process "resize" (list cols rows)
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

;;;; Signals, end of file and status

(defconst ptyproxy--signal-names
  '("INT" "TERM" "HUP" "QUIT" "KILL" "TSTP" "CONT" "STOP" "USR1" "USR2" "WINCH")
  "Signal names offered by the commands that send a signal.")

(defun ptyproxy--live-processes ()
  "Return the live processes started through ptyproxy."
  (cl-remove-if-not (lambda (p) (and (ptyproxy-process-p p) (process-live-p p)))
                    (process-list)))

(defun ptyproxy--read-process ()
  "Return the ptyproxy process of the current buffer, or ask for one."
  (let ((own (get-buffer-process (current-buffer))))
    (if (and (ptyproxy-process-p own) (process-live-p own))
        own
      (let ((choices (mapcar (lambda (p)
                               (cons (format "%s (%s)" (process-name p)
                                             (process-get p 'ptyproxy-id))
                                     p))
                             (ptyproxy--live-processes))))
        (unless choices
          (user-error "No ptyproxy process is running"))
        (cdr (assoc (completing-read "ptyproxy process: " choices nil t)
                    choices))))))

(defun ptyproxy--read-signal ()
  "Ask for a signal name."
  (completing-read "Signal (default INT): " ptyproxy--signal-names
                   nil nil nil nil "INT"))

(defun ptyproxy-signal (process signal)
  "Send SIGNAL to the foreground process group of PROCESS's terminal.
PROCESS was started through ptyproxy.  SIGNAL is a name such as
\"INT\" or `INT', or a number.  This is asynchronous.
Interactively, PROCESS is the current buffer's, or one asked for."
  (interactive (list (ptyproxy--read-process) (ptyproxy--read-signal)))
  (unless (ptyproxy-process-p process)
    (signal 'wrong-type-argument (list 'ptyproxy-process-p process)))
  (let ((name (if (numberp signal) (number-to-string signal) (format "%s" signal))))
    (ptyproxy--request-or-cli
     process "signal" (list name)
     (lambda (result)
       (unless (eq result t)
         (message "ptyproxy: signal %s failed: %s" name result))))
    process))

(defun ptyproxy--buffer-process ()
  "Return the current buffer's ptyproxy process, or signal a `user-error'."
  (let ((process (get-buffer-process (current-buffer))))
    (unless (and (ptyproxy-process-p process) (process-live-p process))
      (user-error "No live ptyproxy process in this buffer"))
    process))

(defun ptyproxy-interrupt-subjob ()
  "Interrupt the terminal's foreground job (SIGINT), as \\`C-c' on a pty would.
On Windows the program gets a ^C typed into its console.  Unlike
`interrupt-process' on the ptyproxy process, which ends the whole
session (ptyproxy takes it as a hang-up), this leaves the session
running."
  (interactive)
  (ptyproxy-signal (ptyproxy--buffer-process) "INT"))

(defun ptyproxy-quit-subjob ()
  "Send SIGQUIT to the terminal's foreground job."
  (interactive)
  (ptyproxy-signal (ptyproxy--buffer-process) "QUIT"))

(defun ptyproxy-stop-subjob ()
  "Stop the terminal's foreground job (SIGTSTP)."
  (interactive)
  (ptyproxy-signal (ptyproxy--buffer-process) "TSTP"))

(defun ptyproxy-continue-subjob ()
  "Continue the terminal's foreground job (SIGCONT)."
  (interactive)
  (ptyproxy-signal (ptyproxy--buffer-process) "CONT"))

(defun ptyproxy-kill-subjob ()
  "Kill the terminal's foreground job (SIGKILL)."
  (interactive)
  (ptyproxy-signal (ptyproxy--buffer-process) "KILL"))

(defun ptyproxy-send-eof (&optional process)
  "Send the terminal's end of file character to the ptyproxy PROCESS.
That is \\`C-d' (on Windows \\`C-z' and Return), as typed on a pty;
the pipe to ptyproxy stays open.  PROCESS defaults to the current
buffer's."
  (interactive)
  (let ((process (or process (ptyproxy--buffer-process))))
    (process-send-string process (if (ptyproxy--windows-p) "\C-z\r" "\C-d"))
    process))

(defun ptyproxy--parse-json (string)
  "Parse STRING, one JSON object, into an alist; nil if it is not one."
  (condition-case nil
      (let ((value (if (fboundp 'json-parse-string)
                       (json-parse-string string :object-type 'alist
                                          :array-type 'list
                                          :null-object nil :false-object nil)
                     (require 'json)
                     (with-no-warnings
                       (let ((json-object-type 'alist) (json-array-type 'list))
                         (json-read-from-string string))))))
        (and (consp value) (cl-every #'consp value) value))
    (error nil)))

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

(defun ptyproxy-status (process &optional show)
  "Return the status of PROCESS's ptyproxy session as an alist.
The keys are those of the status reply (`id', `pid', `child_pid',
`cols', `rows', `bytes_in', `bytes_out', `uptime', `command').  Return
nil if the session does not answer.  It is asked on the control
socket, or on Windows by \"ptyproxy status ID\".
With SHOW non-nil (interactively), show it in the echo area."
  (interactive (list (ptyproxy--read-process) t))
  (let ((status
         (when (ptyproxy-process-p process)
           (if (ptyproxy--windows-p)
               (let ((result (ptyproxy--call
                              (ptyproxy--cli-arguments
                               "status" (process-get process 'ptyproxy-id))
                              (process-get process 'ptyproxy-environment)
                              (process-get process 'ptyproxy-program))))
                 (and result (eq (car result) 0)
                      (ptyproxy--parse-json (string-trim (cdr result)))))
             (let ((reply (ptyproxy--wait-reply
                           process (ptyproxy--request-line "status"))))
               (and reply (string-prefix-p "ok " reply)
                    (ptyproxy--parse-json (substring reply 3))))))))
    (when show
      (message "%s" (if status
                        (ptyproxy--describe-status status)
                      "ptyproxy: the session did not answer")))
    status))

;;;; Listing sessions

(defun ptyproxy--printable (string)
  "Return STRING with control and bidi control characters escaped.
Text that came from outside goes through this before display."
  (replace-regexp-in-string
   "[[:cntrl:]\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
   (lambda (match) (format "\\\\x%02x" (string-to-char match)))
   (if (stringp string) string (format "%s" string))
   t))

(defun ptyproxy--field (status key)
  "Return the value of KEY in STATUS if it is a non-negative number, else nil."
  (let ((value (cdr (assq key status))))
    (and (numberp value) (>= value 0) value)))

(defun ptyproxy--format-duration (seconds)
  "Return SECONDS as H:MM:SS, or \"?\"."
  (if (not seconds)
      "?"
    (let ((s (floor seconds)))
      (format "%d:%02d:%02d" (/ s 3600) (/ (% s 3600) 60) (% s 60)))))

(defun ptyproxy--format-bytes (bytes)
  "Return BYTES in a short human readable form, or \"?\"."
  (if bytes (file-size-human-readable bytes) "?"))

(defun ptyproxy--command-text (status)
  "Return the command of STATUS as printable text."
  (let ((command (cdr (assq 'command status))))
    (ptyproxy--printable
     (cond ((stringp command) command)
           ((and (listp command) (cl-every #'stringp command))
            (mapconcat #'identity command " "))
           (t "?")))))

(defun ptyproxy--describe-status (status)
  "Return a one-line description of the session STATUS."
  (format "ptyproxy %s: pid %s, %s, %sx%s, in %s, out %s, up %s"
          (ptyproxy--printable (or (cdr (assq 'id status)) "?"))
          (or (ptyproxy--field status 'pid) "?")
          (ptyproxy--command-text status)
          (or (ptyproxy--field status 'cols) "?")
          (or (ptyproxy--field status 'rows) "?")
          (ptyproxy--format-bytes (ptyproxy--field status 'bytes_in))
          (ptyproxy--format-bytes (ptyproxy--field status 'bytes_out))
          (ptyproxy--format-duration (ptyproxy--field status 'uptime))))

(defun ptyproxy-parse-list (output)
  "Parse OUTPUT of \"ptyproxy list\" into a list of (ID . STATUS).
Each line is ID, a tab and the session's status as JSON.  Lines whose
ID is not a valid session identifier or whose status is not a JSON
object are skipped."
  (let (sessions)
    (dolist (line (split-string output "\n" t))
      (when (string-match "\\`\\([^\t]*\\)\t\\(.*\\)\\'" line)
        (let ((id (match-string 1 line))
              (status (ptyproxy--parse-json (match-string 2 line))))
          (when (and status (ptyproxy--valid-id-p id))
            (push (cons id status) sessions)))))
    (nreverse sessions)))

(defun ptyproxy--list-entry (session)
  "Return the `tabulated-list-entries' entry of SESSION, (ID . STATUS)."
  (let ((status (cdr session)))
    (list (car session)
          (vector (car session)
                  (format "%s" (or (ptyproxy--field status 'pid) "?"))
                  (ptyproxy--command-text status)
                  (format "%sx%s" (or (ptyproxy--field status 'cols) "?")
                          (or (ptyproxy--field status 'rows) "?"))
                  (ptyproxy--format-bytes (ptyproxy--field status 'bytes_in))
                  (ptyproxy--format-bytes (ptyproxy--field status 'bytes_out))
                  (ptyproxy--format-duration (ptyproxy--field status 'uptime))
                  (ptyproxy--state-text (car session) status)))))

(defun ptyproxy--state-text (id status)
  "Return the state of the session ID with STATUS: kept, attached or detached.
Empty for a session that is not kept; \"attached here\" when its
host is a process of this Emacs; for a detached one, since when and
how much output it keeps."
  (cond
   ((not (ptyproxy-session-kept-p status)) "")
   ((not (ptyproxy-session-detached-p status))
    (let ((own (ptyproxy--process-of-id id)))
      (if (and own (not (process-get own 'ptyproxy-detached)))
          "attached here"
        "attached")))
   (t (format "detached %s, %s kept"
              (ptyproxy--format-duration (ptyproxy--field status 'detached_since))
              (ptyproxy--format-bytes (ptyproxy--field status 'buffered))))))

(defvar-local ptyproxy-list--sessions nil
  "The sessions shown in this `ptyproxy-list-mode' buffer, (ID . STATUS).")

(defun ptyproxy-list--refresh ()
  "Read the live sessions with \"ptyproxy list\" and show them."
  (setq ptyproxy-list--sessions (ptyproxy--sessions))
  (setq tabulated-list-entries
        (mapcar #'ptyproxy--list-entry ptyproxy-list--sessions)))

(defun ptyproxy-list--id ()
  "Return the session ID on the current line, or signal a `user-error'."
  (or (tabulated-list-get-id) (user-error "No session on this line")))

(defun ptyproxy--process-of-id (id)
  "Return the live Emacs process of the session ID, or nil."
  (cl-find id (ptyproxy--live-processes)
           :key (lambda (p) (process-get p 'ptyproxy-id)) :test #'equal))

(defun ptyproxy-list--cli (arguments)
  "Run ptyproxy ARGUMENTS; report failure; refresh the list when done."
  (let ((buffer (current-buffer)))
    (ptyproxy--run-cli
     arguments
     (lambda (status output)
       (unless (eq status 0)
         (message "ptyproxy %s failed (%s): %s" (car arguments) status
                  (ptyproxy--printable (string-trim output))))
       (when (buffer-live-p buffer)
         (with-current-buffer buffer
           (ignore-errors (revert-buffer))))))))

(defun ptyproxy-list-signal (signal)
  "Send SIGNAL to the foreground job of the session on this line."
  (interactive (list (ptyproxy--read-signal)))
  (ptyproxy-list--cli
   (ptyproxy--cli-arguments "signal" (ptyproxy-list--id) signal)))

(defun ptyproxy-list-resize ()
  "Resize the session on this line to its window.
That is a window showing the buffer of the Emacs process of the
session, or else the selected window."
  (interactive)
  (let* ((id (ptyproxy-list--id))
         (process (ptyproxy--process-of-id id))
         (window (or (and process (process-buffer process)
                          (get-buffer-window (process-buffer process) t))
                     (selected-window)))
         (size (cons (window-max-chars-per-line window) (window-body-height window))))
    (if process
        (progn (ptyproxy-resize process (car size) (cdr size))
               (message "ptyproxy: resizing %s to %dx%d" id (car size) (cdr size)))
      (ptyproxy-list--cli (ptyproxy--cli-arguments
                           "resize" id (number-to-string (car size))
                           (number-to-string (cdr size)))))))

(defun ptyproxy-list-kill ()
  "Hang up the session on this line.
A session of this Emacs gets SIGHUP, which makes ptyproxy hang up its
program and exit; a kept session of this Emacs is ended as by
`ptyproxy-end-session' (SIGHUP would only detach it); another
session's foreground job gets SIGHUP.  On Windows, where a console
has no SIGHUP, the session's programs get TERM (ptyproxy.exe
terminates them)."
  (interactive)
  (let* ((id (ptyproxy-list--id))
         (process (ptyproxy--process-of-id id))
         (list-buffer (current-buffer)))
    (when (yes-or-no-p (format "Hang up ptyproxy session %s? " id))
      (cond
       ((or (not process) (ptyproxy--windows-p))
        (ptyproxy-list--cli (ptyproxy--cli-arguments
                             "signal" id (if (ptyproxy--windows-p) "TERM" "HUP"))))
       ((process-get process 'ptyproxy-kept)
        (ptyproxy-end-session process)
        (ignore-errors (revert-buffer)))
       (t
        (signal-process process 'SIGHUP)
        (run-at-time 0.2 nil (lambda (buffer)
                               (when (buffer-live-p buffer)
                                 (with-current-buffer buffer
                                   (ignore-errors (revert-buffer)))))
                     list-buffer))))))

(defun ptyproxy-list-attach (&optional force)
  "Show the session on this line in a terminal buffer (`ptyproxy-attach').
A detached session is attached; a session attached in this Emacs is
shown in its buffer.  With FORCE (a prefix argument) a session
attached elsewhere is taken from its host."
  (interactive "P")
  (let ((buffer (current-buffer)))
    (prog1 (ptyproxy-attach (ptyproxy-list--id) force)
      (when (buffer-live-p buffer)
        (with-current-buffer buffer
          (ignore-errors (revert-buffer)))))))

(defvar ptyproxy-list-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'ptyproxy-list-attach)
    (define-key map "s" #'ptyproxy-list-signal)
    (define-key map "r" #'ptyproxy-list-resize)
    (define-key map "k" #'ptyproxy-list-kill)
    (define-key map "d" #'ptyproxy-list-kill)
    map)
  "Keymap of `ptyproxy-list-mode'.")

(define-derived-mode ptyproxy-list-mode tabulated-list-mode "ptyproxy-list"
  "Major mode of the list of live ptyproxy sessions.
\\<ptyproxy-list-mode-map>\\[revert-buffer] refreshes, \\[ptyproxy-list-signal] \
sends a signal, \\[ptyproxy-list-resize] resizes to the window, \
\\[ptyproxy-list-kill] hangs up.
\\[ptyproxy-list-attach] attaches to a detached session (a kept one, with
its State \"detached\"), or shows a session of this Emacs in its buffer.
Every field comes from the sessions and is shown with control
characters escaped."
  (setq tabulated-list-format
        [("ID" 28 t) ("PID" 8 nil :right-align t) ("Command" 30 t)
         ("Size" 9 nil) ("In" 8 nil :right-align t)
         ("Out" 8 nil :right-align t) ("Uptime" 9 nil :right-align t)
         ("State" 24 nil)])
  (setq tabulated-list-padding 1)
  (setq tabulated-list-sort-key (cons "ID" nil))
  (add-hook 'tabulated-list-revert-hook #'ptyproxy-list--refresh nil t)
  (tabulated-list-init-header))

;;;###autoload
(defun ptyproxy-list ()
  "Show the live ptyproxy sessions of this user, from \"ptyproxy list\"."
  (interactive)
  (ptyproxy--check-program)
  (let* ((old (get-buffer "*ptyproxy-list*"))
         (buffer (or old (get-buffer-create "*ptyproxy-list*"))))
    (condition-case err
        (with-current-buffer buffer
          (ptyproxy-list-mode)
          (ptyproxy-list--refresh)
          (tabulated-list-print))
      ;; A list that could not be read leaves no half-made buffer.
      (error (unless old (kill-buffer buffer))
             (signal (car err) (cdr err))))
    (pop-to-buffer buffer)
    buffer))

;;;; Finding and building the program

(defun ptyproxy--source-directory ()
  "Return the ptyproxy source tree this file is in, or nil.
That is the parent of this file's directory, if it has Package.swift."
  (let* ((file (or load-file-name (locate-library "ptyproxy.el" t)
                   (locate-library "ptyproxy")))
         (dir (and file (file-name-directory
                         (directory-file-name (file-name-directory file))))))
    (and dir (file-exists-p (expand-file-name "Package.swift" dir)) dir)))

(defconst ptyproxy--source-directory (ptyproxy--source-directory)
  "The ptyproxy source tree this package was loaded from, or nil.")

;;;###autoload
(defun ptyproxy-locate-program ()
  "Find the ptyproxy binary, set `ptyproxy-program' to it and return it.
Look on the variable `exec-path', then in the source tree of this package
\(.build/release, then .build/debug).  Signal a `user-error' if none
is found."
  (interactive)
  (let* ((name (if (ptyproxy--windows-p) "ptyproxy.exe" "ptyproxy"))
         (found (or (executable-find name)
                    (and ptyproxy--source-directory
                         (cl-find-if #'file-executable-p
                                     (mapcar (lambda (sub)
                                               (expand-file-name
                                                sub ptyproxy--source-directory))
                                             (if (ptyproxy--windows-p)
                                                 '("windows/build/ptyproxy.exe")
                                               '(".build/release/ptyproxy"
                                                 ".build/debug/ptyproxy"))))))))
    (unless found
      (user-error "Ptyproxy: no %s on `exec-path' or in the source tree; \
build it with M-x ptyproxy-build-program" name))
    (setq ptyproxy-program found)
    (when (called-interactively-p 'interactive)
      (message "ptyproxy-program is now %s" found))
    found))

(defun ptyproxy-build-command ()
  "Return the shell command that builds ptyproxy in its source tree."
  (if (ptyproxy--windows-p)
      ;; MinGW-w64's compiler is gcc there (windows/Makefile).
      "make -C windows CC=gcc"
    "swift build -c release -Xswiftc -static-executable"))

;;;###autoload
(defun ptyproxy-build-program (&optional directory)
  "Build ptyproxy in its source tree DIRECTORY, then use the new binary.
DIRECTORY defaults to the tree this package was loaded from.  This
runs `ptyproxy-build-command' in a compilation buffer; when it
succeeds, `ptyproxy-program' is set to the binary.  Return the
compilation buffer."
  (interactive
   (list (or ptyproxy--source-directory
             (read-directory-name "ptyproxy source tree: "))))
  (let ((default-directory (file-name-as-directory
                            (expand-file-name (or directory ptyproxy--source-directory
                                                  (user-error "Ptyproxy: no source tree"))))))
    (unless (file-exists-p "Package.swift")
      (user-error "Ptyproxy: %s is not the ptyproxy source tree" default-directory))
    (let ((buffer (compilation-start (ptyproxy-build-command) nil
                                     (lambda (_) "*ptyproxy-build*")))
          (binary (expand-file-name (if (ptyproxy--windows-p)
                                        "windows/build/ptyproxy.exe"
                                      ".build/release/ptyproxy"))))
      (with-current-buffer buffer
        (add-hook 'compilation-finish-functions
                  (lambda (_buffer how)
                    (when (and (string-prefix-p "finished" how)
                               (file-executable-p binary))
                      (setq ptyproxy-program binary)
                      (message "ptyproxy built: ptyproxy-program is %s" binary)))
                  nil t))
      buffer)))

(declare-function compilation-start "compile"
                  (command &optional mode name-function highlight-regexp continue))

;;;; The adapters

;; The vterm and term adapters hook into those packages' internals, so
;; they are files of their own, loaded on first use of one of their
;; commands: `(require 'ptyproxy)' gives every command and loads
;; neither adapter, nor vterm, nor term.  The autoloads name the files
;; beside this one, so the commands work however this file was loaded
;; (`require' through `load-path', or `load' of its file name).

(defconst ptyproxy--lisp-directory
  (file-name-directory (or load-file-name buffer-file-name default-directory))
  "The directory of this file, where the adapters' files are.")

(dolist (command '((ptyproxy-vterm-mode . "ptyproxy-vterm")
                   (ptyproxy-vterm . "ptyproxy-vterm")
                   (ptyproxy-vterm-attach . "ptyproxy-vterm")
                   (ptyproxy-term . "ptyproxy-term")
                   (ptyproxy-make-term . "ptyproxy-term")
                   (ptyproxy-term-attach . "ptyproxy-term")))
  (unless (fboundp (car command))
    (autoload (car command)
      (expand-file-name (cdr command) ptyproxy--lisp-directory)
      nil (not (memq (car command) '(ptyproxy-make-term ptyproxy-vterm-attach
                                                         ptyproxy-term-attach))))))

;; Customize, and `custom-set-variables' in a custom file, load the vterm
;; adapter before they set its mode, so that turning it on runs the mode.
(unless (boundp 'ptyproxy-vterm-mode)
  (custom-autoload 'ptyproxy-vterm-mode
                   (expand-file-name "ptyproxy-vterm" ptyproxy--lisp-directory)
                   nil))

;;;; Unloading

(defun ptyproxy-unload-function ()
  "Unload the adapters, which need this feature, before `ptyproxy'."
  (remove-hook 'kill-emacs-hook #'ptyproxy--note-exit)
  (dolist (feature '(ptyproxy-vterm ptyproxy-term))
    (when (featurep feature)
      (unload-feature feature t)))
  nil)

(provide 'ptyproxy)
;;; ptyproxy.el ends here
