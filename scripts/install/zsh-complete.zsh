# SPDX-License-Identifier: MIT
#
# Prints, one per line, the candidates zsh's completion system offers for a
# command line, as a user pressing TAB after it would get them:
#   zsh -f scripts/install/zsh-complete.zsh FPATH_DIR 'ptyproxy res'
# Runs an interactive zsh on a pseudo-terminal (zpty) with compinit and the
# completion functions in FPATH_DIR, with compadd wrapped so that every match
# the completion functions add is printed between markers; the caller bounds
# the run with timeout(1).
zmodload zsh/zpty || exit 2
local dir=$1 buffer=$2 rcdir=$(mktemp -d) line
trap 'rm -rf $rcdir' EXIT
cat >$rcdir/.zshrc <<RC
PS1='ready> '; PROMPT2=''; RPS1=''; unsetopt prompt_sp
unsetopt beep
fpath=(${(q)dir} \$fpath)
autoload -Uz compinit && compinit -u -d $rcdir/.zcompdump
compadd() {
  # Calls that only ask for matches (-O, -A, -D) pass through untouched.
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "\$@"; return; fi
  local -a found
  builtin compadd -A found "\$@"
  local ret=\$?
  local match
  for match in \$found; do print -r -- "<candidate>\$match</candidate>"; done
  return ret
}
RC
export ZDOTDIR=$rcdir
zpty complete zsh -i
# Input typed before the line editor starts would be lost: wait for the prompt.
zpty -r complete line '*ready> ' || exit 2
zpty -w -n complete "$buffer"$'\t'
# Then a command whose output marks the end: typed as two words so that its
# echo cannot be mistaken for it.
zpty -w complete $'\C-u''print -r done-''completing'
while zpty -r complete line; do
  line=${${line%$'\n'}%$'\r'}
  [[ $line == done-completing ]] && break
  while [[ $line == *'<candidate>'*'</candidate>'* ]]; do
    local rest=${line#*<candidate>}
    print -r -- ${rest%%</candidate>*}
    line=${rest#*</candidate>}
  done
done
# Let the shell exit by itself: zpty -d alone waits for it to die of SIGHUP.
zpty -w complete 'exit'
zpty -r complete line '*' 2>/dev/null
zpty -d complete
