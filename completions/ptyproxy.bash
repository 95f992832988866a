# SPDX-License-Identifier: MIT
#
# bash completion for ptyproxy (needs bash-completion 2). Installed as
# share/bash-completion/completions/ptyproxy, where bash-completion loads it
# the first time ptyproxy is completed.
#
# Completes the subcommands; the options of `new` and the command after
# `new ... ID COLS ROWS` (then that command's own arguments); live session
# IDs, from `ptyproxy list`, after resize, signal, status and attach;
# `--force` after `attach ID`; signal names after `signal ID`.
#
# The one program completion runs is the ptyproxy found on PATH, by an
# absolute path: never the word being completed (`./ptyproxy status <TAB>`
# in a directory someone else filled must not run their ./ptyproxy). What
# it prints is data: read line by line, kept only when it is a valid ID,
# never word-expanded (no compgen -W, no unquoted $(...)).

# Adds the live session IDs that start with $1 to COMPREPLY.
_ptyproxy_sessions()
{
    local program line id
    program=$(type -P ptyproxy) && [[ $program == /* ]] || return
    # `list` answers within its own timeouts; this one bounds it.
    while IFS= read -r line; do
        id=${line%%$'\t'*}
        [[ $id =~ ^[A-Za-z0-9._-]{1,64}$ && $id == "$1"* ]] && COMPREPLY+=("$id")
    done < <(timeout 3 "$program" list 2>/dev/null)
}

_ptyproxy()
{
    local cur prev words cword
    _init_completion -n = || return

    local -a options=(--term --cwd --env --hangup-grace --output-buffers --output-buffer-size --stdout-pipe-size --keep --keep-buffer --arg-encoding)
    local signals="HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO SYS"

    if ((cword == 1)); then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "new resize signal status list attach" -- "$cur"))
        fi
        return
    fi

    case ${words[1]} in
        resize | status)
            ((cword == 2)) && _ptyproxy_sessions "$cur"
            ;;
        attach)
            if ((cword == 2)); then
                _ptyproxy_sessions "$cur"
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--force" -- "$cur"))
            fi
            ;;
        signal)
            if ((cword == 2)); then
                _ptyproxy_sessions "$cur"
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
            # options (all but --keep take the next word) until `--` or CMD; then ID,
            # COLS, ROWS, CMD.
            local i positional=0 ended=
            for ((i = 2; i < cword; i++)); do
                local word=${words[i]}
                if [[ -z $ended && $word == -- ]]; then
                    ended=1
                elif [[ -z $ended && ($word == --*=* || $word == --keep) ]]; then
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
                    --arg-encoding)
                        COMPREPLY=($(compgen -W "percent" -- "$cur"))
                        return
                        ;;
                    --term | --env | --hangup-grace | --output-buffer-size | --stdout-pipe-size | --keep-buffer)
                        return
                        ;;
                esac
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "${options[*]} --" -- "$cur"))
                    return
                fi
            fi
            if ((positional == 3)); then
                mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
            fi
            ;;
    esac
}
complete -F _ptyproxy ptyproxy
