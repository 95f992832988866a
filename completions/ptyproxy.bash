# SPDX-License-Identifier: MIT
#
# bash completion for ptyproxy (needs bash-completion 2). Installed as
# share/bash-completion/completions/ptyproxy, where bash-completion loads it
# the first time ptyproxy is completed.
#
# Completes the subcommands; the options of `new` and the command after
# `new ... ID COLS ROWS` (then that command's own arguments); live session
# IDs, from `ptyproxy list`, after resize, signal and status; signal names
# after `signal ID`.

_ptyproxy_sessions()
{
    # The ptyproxy being completed, so that ./ptyproxy lists its own
    # sessions; `list` answers within its own timeouts, and this one bounds it.
    local program=$1
    [[ $program == */* && -x $program ]] || program=ptyproxy
    timeout 3 "$program" list 2>/dev/null | cut -f1
}

_ptyproxy()
{
    local cur prev words cword
    _init_completion -n = || return

    local -a options=(--term --cwd --env --hangup-grace --output-buffers --output-buffer-size --stdout-pipe-size)
    local signals="HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO SYS"

    if ((cword == 1)); then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "new resize signal status list" -- "$cur"))
        fi
        return
    fi

    case ${words[1]} in
        resize | status)
            ((cword == 2)) && COMPREPLY=($(compgen -W "$(_ptyproxy_sessions "${words[0]}")" -- "$cur"))
            ;;
        signal)
            if ((cword == 2)); then
                COMPREPLY=($(compgen -W "$(_ptyproxy_sessions "${words[0]}")" -- "$cur"))
            elif ((cword == 3)); then
                if [[ ${cur^^} == SIG* ]]; then
                    COMPREPLY=($(compgen -W "$(printf 'SIG%s ' $signals)" -- "${cur^^}"))
                else
                    COMPREPLY=($(compgen -W "$signals" -- "${cur^^}"))
                fi
            fi
            ;;
        new)
            # Walk the words before the cursor as ptyproxy parses them:
            # options (some take the next word) until `--` or CMD; then ID,
            # COLS, ROWS, CMD.
            local i positional=0 ended=
            for ((i = 2; i < cword; i++)); do
                local word=${words[i]}
                if [[ -z $ended && $word == -- ]]; then
                    ended=1
                elif [[ -z $ended && $word == --*=* ]]; then
                    :
                elif [[ -z $ended && $word == --* ]]; then
                    ((i++))
                else
                    ((positional++))
                    if ((positional == 4)); then
                        # CMD: complete the rest as that command's words.
                        _command_offset "$i"
                        return
                    fi
                fi
            done
            if [[ -z $ended ]]; then
                case $prev in
                    --cwd)
                        _filedir -d
                        return
                        ;;
                    --output-buffers)
                        COMPREPLY=($(compgen -W "1 2" -- "$cur"))
                        return
                        ;;
                    --term | --env | --hangup-grace | --output-buffer-size | --stdout-pipe-size)
                        return
                        ;;
                esac
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "${options[*]} --" -- "$cur"))
                    return
                fi
            fi
            if ((positional == 3)); then
                COMPREPLY=($(compgen -c -- "$cur" | sort -u))
            fi
            ;;
    esac
}
complete -F _ptyproxy ptyproxy
