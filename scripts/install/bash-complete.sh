# SPDX-License-Identifier: MIT
#
# Prints, one per line, the candidates bash-completion offers for a command
# line, as a user pressing TAB after it would get them:
#   bash --norc --noprofile scripts/install/bash-complete.sh 'ptyproxy res'
# The completion is found the way bash-completion finds it for a user
# (XDG_DATA_DIRS, or beside the command in PATH), not sourced by path.
source /usr/share/bash-completion/bash_completion || exit 2
__load_completion ptyproxy || { echo "bash-complete: no completion for ptyproxy found" >&2; exit 2; }
line=$1
COMP_LINE=$line
COMP_POINT=${#line}
read -ra COMP_WORDS <<<"$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
function=$(complete -p ptyproxy | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[[ -n $function ]] || exit 2
COMPREPLY=()
"$function" ptyproxy "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
