# SPDX-License-Identifier: MIT
#
# fish completion for ptyproxy. Installed as
# share/fish/vendor_completions.d/ptyproxy.fish.
#
# Completes the subcommands; the options of `new` and the command after
# `new ... ID COLS ROWS` (then that command's own arguments); live session
# IDs, from `ptyproxy list`, after resize, signal, status and attach;
# `--force` after `attach ID`; signal names after `signal ID`.
#
# The one program completion runs is the ptyproxy found on PATH, by an
# absolute path: never the word being completed (`./ptyproxy status <TAB>`
# in a directory someone else filled must not run their ./ptyproxy). What
# it prints is data: each line kept only when it is a valid ID, never
# evaluated.

# Walks the words of `ptyproxy new ...` (argv: the words, the command name
# first) as ptyproxy parses them: options may come anywhere before CMD, `--`
# ends them, and every word after CMD is CMD's own. Prints what the next word
# is: "value" (an option's), "id", "cols", "rows", "cmd" or "args"; then
# "options" while options may still come; then "cmd-at N" once CMD is word N.
# The one walker behind both the position and CMD's own completion.
function __ptyproxy_new_scan
    test "$argv[2]" = new; or return 1
    set -l positional 0
    set -l ended 0
    set -l skip 0
    set -l command_at 0
    for i in (seq 3 (count $argv))
        set -l word $argv[$i]
        if test $skip = 1
            set skip 0
        else if test $ended = 0 -a "$word" = --
            set ended 1
        else if test $ended = 0; and string match -q -- '--*=*' $word
        else if test $ended = 0 -a "$word" = --keep
        else if test $ended = 0; and string match -q -- '--*' $word
            set skip 1
        else
            set positional (math $positional + 1)
            if test $positional = 4
                set command_at $i
                set ended 1
            end
        end
    end
    if test $skip = 1
        echo value
    else
        switch $positional
            case 0
                echo id
            case 1
                echo cols
            case 2
                echo rows
            case 3
                echo cmd
            case '*'
                echo args
        end
    end
    test $ended = 0; and echo options
    test $command_at -gt 0; and echo "cmd-at $command_at"
    return 0
end

function __ptyproxy_new_at
    contains -- $argv[1] (__ptyproxy_new_scan (commandline -opc))
end

function __ptyproxy_at_session
    set -l words (commandline -opc)
    contains -- "$words[2]" resize signal status attach; and test (count $words) -eq 2
end

function __ptyproxy_after_attach_id
    set -l words (commandline -opc)
    test "$words[2]" = attach -a (count $words) -ge 3
end

function __ptyproxy_at_signal
    set -l words (commandline -opc)
    test "$words[2]" = signal -a (count $words) -eq 3
end

function __ptyproxy_sessions
    set -l program (command -s ptyproxy); or return
    string match -q -- '/*' $program; or return
    # `list` answers within its own timeouts; this one bounds it.
    timeout 3 $program list 2>/dev/null | string split -f1 \t | string match -r -- '^[A-Za-z0-9._-]{1,64}$'
end

# Signal names as `kill -l` prints them; with SIG when the word starts so.
function __ptyproxy_signals
    set -l signals HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM \
        CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO SYS
    if string match -qi -- 'sig*' (commandline -ct)
        printf 'SIG%s\n' $signals
    else
        printf '%s\n' $signals
    end
end

# `new ... CMD ARG...`: complete as CMD's own command line.
function __ptyproxy_command_line
    set -l words (commandline -opc) (commandline -ct)
    set -l at (__ptyproxy_new_scan $words | string replace -rf '^cmd-at ' '')
    test -n "$at"; or return
    complete -C (string join ' ' -- (string escape -- $words[$at..-2]) "$words[-1]")
end

complete -c ptyproxy -f
complete -c ptyproxy -n __fish_use_subcommand -a new -d 'Run a command on a new pseudo-terminal'
complete -c ptyproxy -n __fish_use_subcommand -a resize -d 'Set the window size of a session'
complete -c ptyproxy -n __fish_use_subcommand -a signal -d 'Send a signal to the foreground job'
complete -c ptyproxy -n __fish_use_subcommand -a status -d 'Print the status of a session as JSON'
complete -c ptyproxy -n __fish_use_subcommand -a list -d 'List your live sessions'
complete -c ptyproxy -n __fish_use_subcommand -a attach -d 'Become the host of a kept session'
complete -c ptyproxy -n __fish_use_subcommand -l help -s h -d 'Show the usage'
complete -c ptyproxy -n __fish_use_subcommand -l version -d 'Show the version'

complete -c ptyproxy -n __ptyproxy_at_session -a '(__ptyproxy_sessions)' -d 'live session'
complete -c ptyproxy -n __ptyproxy_at_signal -a '(__ptyproxy_signals)' -d signal

complete -c ptyproxy -n '__ptyproxy_new_at options' -l term -r -d 'TERM for CMD'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l cwd -r -a '(__fish_complete_directories)' -d 'Working directory of CMD'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l env -r -d 'Set NAME=VALUE for CMD'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l hangup-grace -r -d 'SIGHUP to SIGKILL grace (seconds)'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l output-buffers -x -a '1 2' -d 'Single or double buffered output'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l output-buffer-size -r -d 'Output buffer size in bytes'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l stdout-pipe-size -r -d 'Grow a smaller stdout pipe to N bytes'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l keep -d 'The session outlives its host'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l keep-buffer -r -d 'Output kept while detached, in bytes'
complete -c ptyproxy -n __ptyproxy_after_attach_id -l force -d 'Take the session from another host'
complete -c ptyproxy -n '__ptyproxy_new_at options' -l arg-encoding -x -a percent -d 'Every later argument is %XX-escaped'
complete -c ptyproxy -n '__ptyproxy_new_at cmd' -a '(__fish_complete_command)'
complete -c ptyproxy -n '__ptyproxy_new_at args' -a '(__ptyproxy_command_line)'
