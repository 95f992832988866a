#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tests what a user installs: `make install`/`uninstall` (exact file list,
# stripped), the man page (man -l, man ptyproxy, mandoc -Tlint, clean quoting
# as man and mandoc render it, the same options as --help), one version
# everywhere and whichever way it was built, bash/zsh/fish completion in the
# real shells against a live session, `make dist` twice (byte-identical
# archives, the second from a clean release build), the Linux archive's
# binary, the Windows zip (its README.txt names only files in it), `make deb`
# + lintian, installing and removing the .deb (as root only), and that the
# links of README.md and docs/*.md resolve. About 3 minutes on 2 cores.
#
# The Windows zip needs ptyproxy.exe: `make -C windows` builds it, or set
# WINDOWS_EXE to one built elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

failures=()
pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; failures+=("$1"); }
# check NAME COMMAND...: runs COMMAND, records the outcome under NAME.
check() {
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
# fails COMMAND...: COMMAND fails (for self-tests: a check must be able to fail).
fails() { ! "$@" >/dev/null; }
# same NAME EXPECTED ACTUAL: exact comparison, with a diff when they differ.
same() {
    if [[ $2 == "$3" ]]; then pass "$1"; return 0; fi
    fail "$1"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /'
    return 1
}

work=$(mktemp -d /tmp/ptyproxy-install-test.XXXXXX)
session_pid=
cleanup() {
    if [[ -n $session_pid ]]; then kill -TERM "$session_pid" 2>/dev/null; wait "$session_pid" 2>/dev/null; fi
    if [[ -n ${deb_installed:-} ]]; then dpkg -r ptyproxy >/dev/null 2>&1; fi
    rm -rf "$work"
}
trap cleanup EXIT

for tool in make mandoc man lintian zsh fish zip unzip dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null || { echo "test-install: $tool is missing (bash .ci/run installs it)"; exit 1; }
done
[[ -f /usr/share/bash-completion/bash_completion ]] || { echo "test-install: bash-completion is missing"; exit 1; }

# --- build once; everything below reuses it ---------------------------------
if ! make build >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"; echo "FAIL - make build"; exit 1
fi
binary=$root/.build/release/ptyproxy
version=$(sed -n 's/^#define PTYPROXY_VERSION "\([^"]*\)"$/\1/p' Sources/CPTYShim/include/ptyproxy_version.h)
[[ -n $version ]] || { echo "FAIL - no PTYPROXY_VERSION in ptyproxy_version.h"; exit 1; }
echo "# version $version"

# --- the documents' links ----------------------------------------------------
# links_resolve FILE...: every relative link of these Markdown files names a
# file of the tree, and every #anchor a heading of its file (GitHub's slugs).
links_resolve() {
    python3 - "$@" <<'EOF'
import os, re, sys
def slugs(path):
    found = set()
    in_code = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"#{1,6} +(.*?) *#*$", line)
        if m:
            text = re.sub(r"[`*_]|\[([^]]*)\]\([^)]*\)", r"\1", m.group(1)).lower()
            found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found
bad = []
for doc in sys.argv[1:]:
    text = re.sub(r"(?ms)^```.*?^```", "", open(doc, encoding="utf-8").read())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(full):
            bad.append("%s: %s: no such file" % (doc, target))
        elif anchor and full.endswith(".md") and anchor not in slugs(full):
            bad.append("%s: %s: no such heading" % (doc, target))
for line in bad:
    print("    " + line)
sys.exit(1 if bad else 0)
EOF
}
documents=(README.md docs/*.md)
check "the links of README.md and docs/*.md resolve" links_resolve "${documents[@]}"
printf '[a](docs/NO-SUCH.md) [b](README.md#no-such-heading)\n' >"$work/broken-links.md"
check "(self-test) a missing file and a missing heading are caught" fails links_resolve "$work/broken-links.md"
# The README gives the set-up commands CI runs: .ci/run runs bash scripts/test.
check "the README's test command is the one .ci/run runs" \
    bash -c 'grep -qx "    bash scripts/test" README.md && grep -qx "bash scripts/test" .ci/run'

# --- one version everywhere --------------------------------------------------
same "make version is the header's" "$version" "$(make -s version)"
# --version is the same whichever way the binary was built: `make` (above)
# and a plain `swift build` (the debug build scripts/test makes first).
same "--version of the make build" "ptyproxy $version" "$("$binary" --version)"
if swift build >"$work/debug-build.log" 2>&1; then
    same "--version of a plain swift build" "ptyproxy $version" "$(.build/debug/ptyproxy --version)"
else
    tail -30 "$work/debug-build.log"; fail "swift build"
fi
same "the Emacs package header has the version" "$version" "$(sed -n 's/^;; Version: //p' emacs/ptyproxy.el)"
same "the man page has the version" "This manual describes ptyproxy $version." \
    "$(mandoc -Tascii docs/ptyproxy.1 | col -b | grep -o 'This manual describes ptyproxy [^ ]*')"
same "the Debian changelog's last entry has the version" "ptyproxy ($version)" \
    "$(head -1 packaging/debian/changelog | grep -o '^ptyproxy ([^)]*)')"

# --- the man page ------------------------------------------------------------
# mandoc also reports "outdated mandoc.db lacks NAME(N) entry" for every
# cross-reference when the machine has no mandoc.db (Debian uses man-db's
# index instead); that is about the machine, not the page, so it is left out.
lint_status=0
mandoc -Tlint docs/ptyproxy.1 >"$work/lint" 2>&1 || lint_status=$?
lint=$(grep -v 'mandoc.db' "$work/lint")
same "mandoc -Tlint is clean" "status 0:" "status $lint_status:$lint"

long_options() { grep -o -- '--[a-z][a-z-]*' | sort -u; }
help_options=$("$binary" --help | long_options)
man_text() { mandoc -Tascii "$1" | col -b; }
options_agree() { # MAN_PAGE: the page names exactly the long options --help names, and -h
    local man_options
    man_options=$(man_text "$1" | long_options)
    [[ $man_options == "$help_options" ]] || { diff <(echo "$help_options") <(echo "$man_options") | sed 's/^/    help vs man: /'; return 1; }
    [[ $(man_text "$1") == *'-h, --help'* && $("$binary" --help) == *'-h, --help'* ]]
}
check "the man page names exactly the options --help names" options_agree docs/ptyproxy.1
# The check can fail: a page that names --xcwd instead of --cwd must not pass.
sed 's/\\-cwd/\\-xcwd/g' docs/ptyproxy.1 >"$work/drifted.1"
check "(self-test) a page with a wrong option is caught" fails options_agree "$work/drifted.1"
# What a reader sees: the page rendered by man-db (groff) and by mandoc. mdoc
# takes a lone . , ( ) as punctuation and a quoting macro such as Ql as
# enclosing the rest of its line, so a page that lints clean can still
# render `‘A-Z a-z 0-9. _ -’` or `(‘INT, ‘SIGTERM, ‘hup’’’)`.
rendered_by() { # RENDERER PAGE: the page as text, one line, hyphenation undone
    case $1 in
        man) MANWIDTH=80 MANPAGER=cat man -l "$2" 2>&1 ;;
        mandoc) mandoc -T utf8 -O width=80 "$2" ;;
    esac | col -bx | sed -z 's/‐\n *//g' | tr -s ' \n' '  '
}
quoting_is_clean() { # PAGE: every rendering has flat, balanced ‘quotes’, no punctuation
    local renderer text problems=0     # pulled into a quoted span, no escape left raw
    for renderer in man mandoc; do
        text=$(rendered_by "$renderer" "$1")
        python3 - "$renderer" "$text" <<'EOF' || problems=1
import re, sys
renderer, text = sys.argv[1], sys.argv[2]
found = []
depth = 0
for i, ch in enumerate(text):
    if ch == "\u2018":
        depth += 1
        if depth > 1:
            found.append("a quote inside a quote: " + text[max(0, i - 30):i + 30])
    elif ch == "\u2019":
        depth -= 1
        if depth < 0:
            found.append("a closing quote with none open: " + text[max(0, i - 30):i + 30])
            depth = 0
if depth:
    found.append("%d quote(s) left open" % depth)
for span in re.findall("\u2018([^\u2018\u2019]*)\u2019", text):
    if re.search(r"\S[.,;:] ", span):
        found.append("punctuation pulled into a quoted span: \u2018%s\u2019" % span)
for escape in re.findall(r".{0,20}\\[fs(*\[&e].{0,20}", text):
    found.append("a raw escape: " + escape)
for problem in found:
    print("    %s: %s" % (renderer, problem))
sys.exit(1 if found else 0)
EOF
    done
    return $problems
}
check "the rendered man page quotes cleanly (man -l, mandoc -T utf8)" quoting_is_clean docs/ptyproxy.1
for renderer in man mandoc; do
    for phrase in '‘A-Z a-z 0-9 . _ -’' '(‘INT’, ‘SIGTERM’, ‘hup’)'; do
        check "$renderer renders $phrase" bash -c '[[ $1 == *"$2"* ]]' - "$(rendered_by $renderer docs/ptyproxy.1)" "$phrase"
    done
done
# The check can fail: a nested quote, a swallowed full stop and a raw font
# escape must each be caught.
for broken in '.Pq Ql a , Ql b' '.Ql x . y' 'a \\\\fBbold'; do
    sed "/^\.Sh DESCRIPTION/a $broken" docs/ptyproxy.1 >"$work/broken.1"
    check "(self-test) a page with \"$(sed -n '/^\.Sh DESCRIPTION/{n;p}' "$work/broken.1")\" is caught" \
        fails quoting_is_clean "$work/broken.1"
done
help_commands=$("$binary" --help | sed -n 's/^ *\(usage: \)\{0,1\}ptyproxy \([a-z]*\) .*/\2/p; s/^ *ptyproxy \([a-z]*\)$/\1/p' | sort -u)
man_commands=$(man_text docs/ptyproxy.1 | sed -n '/^SYNOPSIS/,/^DESCRIPTION/s/^ *ptyproxy \([a-z]*\).*/\1/p' | grep -v '^$' | sort -u)
same "the man page's synopsis has the commands --help has" "$help_commands" "$man_commands"

# --- make install ------------------------------------------------------------
destdir=$work/destdir
if make install DESTDIR="$destdir" >"$work/install.log" 2>&1; then pass "make install DESTDIR"; else fail "make install DESTDIR"; cat "$work/install.log"; fi
prefix=$destdir/usr/local
emacs_files=$(cd emacs && ls *.el | sed 's|^|./share/emacs/site-lisp/ptyproxy/|')
expected_files=$(printf '%s\n' ./bin/ptyproxy ./share/man/man1/ptyproxy.1 \
    ./share/bash-completion/completions/ptyproxy ./share/zsh/site-functions/_ptyproxy \
    ./share/fish/vendor_completions.d/ptyproxy.fish ./share/doc/ptyproxy/README.md \
    ./share/doc/ptyproxy/LICENSE $emacs_files | sort)
same "make install installs exactly these files" "$expected_files" "$(cd "$destdir" && find . -not -type d | sort | sed 's|^\./usr/local/|./|')"
same "installed modes" "755 ./bin/ptyproxy" "$(cd "$prefix" && find . -type f -perm -u+x -printf '%m %p\n')"
check "the installed binary is stripped" bash -c "! readelf -S '$prefix/bin/ptyproxy' | grep -q '\.symtab'"
check "the build is not (so install did strip)" bash -c "readelf -S '$binary' | grep -q '\.symtab'"
same "the installed binary runs" "$("$binary" --version)" "$("$prefix/bin/ptyproxy" --version)"
check "man -l shows the installed page" bash -c "MANPAGER=cat MANWIDTH=80 man -l '$prefix/share/man/man1/ptyproxy.1' 2>&1 | col -b | grep -q '^SYNOPSIS'"
check "man ptyproxy finds it under PREFIX" bash -c "MANPATH='$prefix/share/man' MANPAGER=cat MANWIDTH=80 man ptyproxy 2>&1 | col -b | grep -q 'ptyproxy resize ID COLS ROWS'"

other_prefix=$work/prefix-test
make install DESTDIR="$other_prefix" PREFIX=/opt/pp STRIP= >/dev/null 2>&1
check "make install STRIP= installs the build as it is" cmp -s "$binary" "$other_prefix/opt/pp/bin/ptyproxy"
same "make install honours PREFIX" "$(echo "$expected_files" | sed 's|^\./|./opt/pp/|')" "$(cd "$other_prefix" && find . -not -type d | sort)"

# --- completion in the real shells -------------------------------------------
# A live session, in a runtime directory of the test's own, whose ID each
# shell must offer; and a command on PATH with a name nothing else has.
export XDG_RUNTIME_DIR=$work/runtime
mkdir -m 700 "$XDG_RUNTIME_DIR" "$work/bin"
printf '#!/bin/sh\n' >"$work/bin/ptyproxy-compl-cmd" && chmod 755 "$work/bin/ptyproxy-compl-cmd"
export PATH=$prefix/bin:$work/bin:$PATH
export XDG_DATA_DIRS=$prefix/share:/usr/share
session=compl-test-$$
mkfifo "$work/session-input"
ptyproxy new "$session" 80 24 sleep 600 <"$work/session-input" >/dev/null 2>"$work/session.err" &
session_pid=$!
exec {session_input}>"$work/session-input"   # kept open: the session's stdin never ends
live() { ptyproxy list | cut -f1 | grep -qx "$1"; }
for _ in $(seq 100); do live "$session" && break; sleep 0.1; done
check "the test session is live" live "$session"

mkdir -p "$work/home"
complete_in() { # SHELL LINE: the candidates, sorted, one per line
    case $1 in
        bash) timeout 20 bash --norc --noprofile "$root/scripts/install/bash-complete.sh" "$2" ;;
        zsh) timeout 20 zsh -f "$root/scripts/install/zsh-complete.zsh" "$prefix/share/zsh/site-functions" "$2" ;;
        fish) HOME=$work/home timeout 20 fish -c 'complete -C $argv[1]' "$2" | cut -f1 ;;
    esac | sort -u
}
new_options=$(echo "$help_options" | grep -vx -e --help -e --version -e --force)  # --force is attach's
for shell in bash zsh fish; do
    same "$shell: subcommands" "$(printf '%s\n' attach list new resize signal status)" "$(complete_in $shell 'ptyproxy ')"
    same "$shell: ptyproxy res<TAB>" "resize" "$(complete_in $shell 'ptyproxy res')"
    expected_options=$new_options
    [[ $shell == fish ]] || expected_options=$(printf '%s\n' $new_options -- | sort -u)
    same "$shell: options of new (those of --help)" "$expected_options" "$(complete_in $shell 'ptyproxy new --term xterm -')"
    same "$shell: command after new ID COLS ROWS" "ptyproxy-compl-cmd" "$(complete_in $shell 'ptyproxy new x 80 24 ptyproxy-compl-c')"
    # CMD's own arguments are completed as CMD's command line, even after a
    # word of CMD's that looks like one of new's options.
    same "$shell: CMD's own arguments" "status" "$(complete_in $shell 'ptyproxy new x 80 24 ptyproxy sta')"
    same "$shell: CMD's own option values" "$(printf '%s\n' 1 2)" "$(complete_in $shell 'ptyproxy new x 80 24 ptyproxy new --output-buffers ')"
    same "$shell: --force after attach ID" "--force" "$(complete_in $shell "ptyproxy attach $session --f")"
    same "$shell: --keep takes no value" "ptyproxy-compl-cmd" "$(complete_in $shell 'ptyproxy new --keep x 80 24 ptyproxy-compl-c')"
    for verb in resize signal status attach; do
        same "$shell: live session ID after $verb" "$session" "$(complete_in $shell "ptyproxy $verb ")"
    done
    same "$shell: signal names after signal ID" "$(printf '%s\n' SIGILL SIGINT SIGIO)" "$(complete_in $shell "ptyproxy signal $session SIGI")"
    same "$shell: signal names without SIG" "$(printf '%s\n' TERM TRAP TSTP TTIN TTOU)" "$(complete_in $shell "ptyproxy signal $session T")"
done
# Completion runs the ptyproxy on PATH only, and reads what it prints as
# data. A hostile ./ptyproxy in the current directory is never run, and a
# `list` whose output a shell would expand or split offers only valid IDs.
mkdir "$work/hostile" "$work/fakebin"
cat >"$work/hostile/ptyproxy" <<EOF
#!/bin/sh
: >"$work/hostile-ran"
printf 'hostile-id\\t{}\\n'
EOF
cat >"$work/fakebin/ptyproxy" <<EOF
#!/bin/sh
printf '%s\\t{}\\n' fake-id '\$(touch $work/expanded)' '\`touch $work/expanded\`' '*' 'a b'
EOF
chmod 755 "$work/hostile/ptyproxy" "$work/fakebin/ptyproxy"
for shell in bash zsh fish; do
    same "$shell: ./ptyproxy status <TAB> offers the sessions of the ptyproxy on PATH" "$session" \
        "$(cd "$work/hostile" && complete_in $shell './ptyproxy status ')"
    check "$shell: ./ptyproxy status <TAB> does not run ./ptyproxy" test ! -e "$work/hostile-ran"
    same "$shell: what list prints is data" "fake-id" "$(PATH=$work/fakebin:$PATH complete_in $shell 'ptyproxy status ')"
    check "$shell: nothing list printed was expanded" test ! -e "$work/expanded"
    rm -f "$work/hostile-ran" "$work/expanded"
done
kill -TERM "$session_pid"
for _ in $(seq 100); do kill -0 "$session_pid" 2>/dev/null || break; sleep 0.1; done
wait "$session_pid" 2>/dev/null
session_pid=
exec {session_input}>&-
check "the test session is gone" bash -c "! ptyproxy list | cut -f1 | grep -qx '$session'"
for shell in bash zsh fish; do
    same "$shell: no session, no ID offered" "" "$(complete_in $shell 'ptyproxy resize ')"
done

# --- make uninstall ----------------------------------------------------------
if make uninstall DESTDIR="$destdir" >"$work/uninstall.log" 2>&1; then pass "make uninstall"; else fail "make uninstall"; cat "$work/uninstall.log"; fi
same "make uninstall leaves no file" "" "$(cd "$destdir" && find . -not -type d)"
# Only the shared directories stay (other packages install into them too).
same "make uninstall leaves only shared directories" "$(printf '%s\n' . ./usr ./usr/local ./usr/local/bin ./usr/local/share \
    ./usr/local/share/bash-completion ./usr/local/share/bash-completion/completions ./usr/local/share/doc \
    ./usr/local/share/emacs ./usr/local/share/emacs/site-lisp ./usr/local/share/fish \
    ./usr/local/share/fish/vendor_completions.d ./usr/local/share/man ./usr/local/share/man/man1 \
    ./usr/local/share/zsh ./usr/local/share/zsh/site-functions)" "$(cd "$destdir" && find . -type d | sort)"

# readme_names_only README ENTRIES: every file README names (a word ending in
# .md .txt .el .exe .dll, or a folder: a word ending in / or \) is one of
# ENTRIES (paths relative to the archive's folder; a bare file name may be in
# a folder of it). Absolute paths (C:/..., %VAR%\...) are where the user
# puts things; Windows' shells, the original conpty_proxy.exe and Microsoft's
# newer ConPTY (conpty.dll, OpenConsole.exe) are programs the user has or
# fetches, not files of ours.
readme_names_only() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
entries = {line.strip().rstrip("/") for line in open(sys.argv[2]) if line.strip()}
folders = {e.rsplit("/", 1)[0] for e in entries if "/" in e}
basenames = {e.rsplit("/", 1)[-1] for e in entries}
theirs = {"cmd.exe", "powershell.exe", "conpty_proxy.exe", "conpty.dll", "OpenConsole.exe"}
missing = []
for word in re.findall(r"[\w.%:\\/-]+", text):
    word = word.strip(".,:;")
    if ":" in word or word.startswith(("%", "\\", "/", "-")):
        continue
    path = word.replace("\\", "/")
    names_a_file = re.search(r"\w\.(md|txt|el|exe|dll)$", path)
    names_a_folder = re.search(r"\w/$", path)
    if not (names_a_file or names_a_folder) or path in theirs:
        continue
    path = path.rstrip("/")
    if path not in entries and path not in folders and ("/" in path or path not in basenames):
        missing.append(word)
for word in sorted(set(missing)):
    print("    README.txt names %s, which is not in the zip" % word)
sys.exit(1 if missing else 0)
EOF
}
# readme_opens_with_prose README: no license tag in its first 10 lines.
readme_opens_with_prose() { ! head -10 "$1" | grep -q 'SPDX-License-Identifier'; }

# --- make dist, twice --------------------------------------------------------
# The Windows program: by default `make dist` relinks windows/build/ptyproxy.exe
# itself (so both runs must give the same one); WINDOWS_EXE names one built
# elsewhere, copied first so that both runs use the same file.
if [[ -n ${WINDOWS_EXE:-} ]]; then
    cp "$WINDOWS_EXE" "$work/ptyproxy.exe"
    dist_arguments=(WINDOWS_EXE="$work/ptyproxy.exe")
    windows_exe=$work/ptyproxy.exe
else
    dist_arguments=()
    windows_exe=windows/build/ptyproxy.exe
fi
dist() { make dist "${dist_arguments[@]}" >"$work/dist.log" 2>&1 || { tail -30 "$work/dist.log"; return 1; }; }
if check "make dist" dist; then
    mkdir -p "$work/dist1" && cp dist/*.tar.gz dist/*.zip dist/SHA256SUMS "$work/dist1/"
    # The second run starts from a clean release build, so that the
    # comparison covers the compiler's output too.
    release_dir=$(readlink -f .build/release)
    [[ $release_dir == "$root/.build/"* ]] && rm -rf "$release_dir"
    check "make dist again, after a clean build" dist
    linux=ptyproxy-$version-linux-x86_64
    windows=ptyproxy-$version-windows-x86_64
    for file in $linux.tar.gz $windows.zip SHA256SUMS; do
        check "dist/$file is byte-identical in both runs" cmp "$work/dist1/$file" "dist/$file"
    done
    check "SHA256SUMS verifies" bash -c "cd dist && sha256sum --quiet -c SHA256SUMS"
    same "the Linux archive's entries" "$(printf '%s\n' '' LICENSE README.md bin/ bin/ptyproxy share/ share/bash-completion/ \
        share/bash-completion/completions/ share/bash-completion/completions/ptyproxy share/emacs/ share/emacs/site-lisp/ \
        share/emacs/site-lisp/ptyproxy/ $(cd emacs && ls *.el | sed 's|^|share/emacs/site-lisp/ptyproxy/|') share/fish/ \
        share/fish/vendor_completions.d/ share/fish/vendor_completions.d/ptyproxy.fish share/man/ share/man/man1/ \
        share/man/man1/ptyproxy.1 share/zsh/ share/zsh/site-functions/ share/zsh/site-functions/_ptyproxy | sed "s|^|$linux/|" | sort)" \
        "$(tar -tzf dist/$linux.tar.gz | sort)"
    same "the Linux archive's owners" "0/0" "$(tar -tvzf dist/$linux.tar.gz --numeric-owner | awk '{print $2}' | sort -u)"
    mkdir "$work/unpacked" && tar -C "$work/unpacked" -xzf dist/$linux.tar.gz
    unpacked=$work/unpacked/$linux/bin/ptyproxy
    same "the unpacked binary's version" "$("$binary" --version)" "$("$unpacked" --version)"
    check "the unpacked binary is static" bash -c "readelf -d '$unpacked' 2>&1 | grep -q 'no dynamic section'"
    check "the unpacked binary is stripped" bash -c "! readelf -S '$unpacked' | grep -q '\.symtab'"
    same "the unpacked binary runs a program on a pty (output, exit status)" $'22 77\nstatus 3' \
        "$(timeout 20 "$unpacked" new unpacked-$$ 77 22 sh -c 'stty size; exit 3' </dev/null | tr -d '\r'; echo "status ${PIPESTATUS[0]}")"
    same "the Windows zip's entries" "$(printf '%s\n' INTERFACE.md LICENSE.txt README.txt $(cd emacs && ls *.el | sed 's|^|emacs/|') ptyproxy.exe | sed "s|^|$windows/|" | sort)" \
        "$(unzip -Z1 dist/$windows.zip | sort)"
    check "the Windows zip tests clean" bash -c "unzip -tq dist/$windows.zip >/dev/null"
    check "the zip's ptyproxy.exe is the Windows program" bash -c "unzip -p dist/$windows.zip $windows/ptyproxy.exe | cmp -s - '$windows_exe'"
    # The program's strings are UTF-16 (wide literals), the version with them.
    check "the zip's ptyproxy.exe has the version" python3 -c \
        'import sys; sys.exit(sys.argv[2].encode("utf-16-le") not in open(sys.argv[1], "rb").read())' \
        "$windows_exe" "ptyproxy $version"
    check "the zip's README.txt has Windows line ends" bash -c "unzip -p dist/$windows.zip $windows/README.txt | head -1 | grep -q $'\r\$'"
    # The zip's README.txt is all a Windows user has: every file it names
    # must be in the zip, and it opens with what the program is, not a tag.
    unzip -Z1 dist/$windows.zip | sed "s|^$windows/||" >"$work/zip-entries"
    unzip -p dist/$windows.zip $windows/README.txt | tr -d '\r' >"$work/zip-readme"
    check "the zip's README.txt names only files in the zip" readme_names_only "$work/zip-readme" "$work/zip-entries"
    check "the zip's README.txt does not open with the license tag" readme_opens_with_prose "$work/zip-readme"
    check "the zip's README.txt names vterm-conpty-proxy-path" grep -q 'vterm-conpty-proxy-path' "$work/zip-readme"
    # The checks can fail: a README that points into the source tree, or
    # that opens with the license tag, must be caught.
    { cat "$work/zip-readme"; echo 'See docs/INTERFACE.md.'; } >"$work/readme-pointing-out"
    check "(self-test) a README naming docs/INTERFACE.md is caught" \
        fails readme_names_only "$work/readme-pointing-out" "$work/zip-entries"
    { echo 'SPDX-License-Identifier: MIT'; cat "$work/zip-readme"; } >"$work/readme-tagged"
    check "(self-test) a README opening with the tag is caught" fails readme_opens_with_prose "$work/readme-tagged"
    # The Windows user's path: unzip and run. Under Wine (where it is
    # installed, as in CI): --version, and a session whose command's exit
    # code comes back. stdin stays open (a closed one ends Wine's conhost).
    wine64=${WINE64:-/usr/lib/wine/wine64}
    if [[ -x $wine64 ]]; then
        mkdir -p "$work/winzip" && (cd "$work/winzip" && unzip -q "$root/dist/$windows.zip")
        unzipped_exe="$work/winzip/$windows/ptyproxy.exe"
        winerun() { WINEDEBUG=-all WINEPREFIX="$work/wineprefix" timeout 300 "$wine64" "$@"; }
        winerun wineboot.exe -i >/dev/null 2>&1
        shown=$(winerun "$unzipped_exe" --version 2>/dev/null | tr -d '\r')
        same "the unzipped ptyproxy.exe runs under Wine (--version)" "ptyproxy $version" "$shown"
        winerun "$unzipped_exe" new zip-check 80 24 "cmd.exe /c exit 5" < <(sleep 60) >/dev/null 2>&1
        same "the unzipped ptyproxy.exe runs a session under Wine (exit code 5)" 5 "$?"
        WINEPREFIX="$work/wineprefix" "${WINESERVER:-/usr/lib/wine/wineserver64}" -k 2>/dev/null
    else
        echo "skip - the unzipped ptyproxy.exe is not run: no Wine at $wine64"
    fi
fi

# --- make deb + lintian + install/remove --------------------------------------
deb=dist/ptyproxy_${version}_amd64.deb
if make deb >"$work/deb.log" 2>&1; then pass "make deb"; else fail "make deb"; tail -30 "$work/deb.log"; fi
same "the package's version" "$version" "$(dpkg-deb -f "$deb" Version)"
same "the package has no Depends (static binary)" "" "$(dpkg-deb -f "$deb" Depends)"
same "the package's files" "$(printf '%s\n' ./usr/bin/ptyproxy ./usr/share/bash-completion/completions/ptyproxy \
    ./usr/share/doc/ptyproxy/README.md ./usr/share/doc/ptyproxy/changelog.gz ./usr/share/doc/ptyproxy/copyright \
    $(cd emacs && ls *.el | sed 's|^|./usr/share/emacs/site-lisp/ptyproxy/|') ./usr/share/fish/vendor_completions.d/ptyproxy.fish \
    ./usr/share/lintian/overrides/ptyproxy ./usr/share/man/man1/ptyproxy.1.gz ./usr/share/zsh/vendor-completions/_ptyproxy | sort)" \
    "$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort)"
lintian_output=$(lintian --display-info --pedantic "$deb" 2>&1 | grep -v 'running with root privileges')
[[ -z $lintian_output ]] || echo "$lintian_output" | sed "s/^/    lintian: /"
# What lintian may still say, each a false positive: spelling "errors" in
# fragments of strings inside the static Swift runtime (info level).
same "lintian: no errors or warnings" "" "$(echo "$lintian_output" | grep -E '^[EW]:')"
same "lintian: nothing but the runtime's spelling fragments" "" \
    "$(echo "$lintian_output" | grep -v -e '^$' -e 'spelling-error-in-binary .* \[usr/bin/ptyproxy\]$')"
if [[ $(id -u) == 0 ]] && ! dpkg -s ptyproxy >/dev/null 2>&1 && [[ ! -e /usr/bin/ptyproxy ]]; then
    deb_installed=1
    check "apt-get install ./$deb" bash -c "DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -qq $root/$deb >'$work/apt.log' 2>&1 || { cat '$work/apt.log'; false; }"
    same "the installed package's ptyproxy" "$("$binary" --version)" "$(/usr/bin/ptyproxy --version)"
    check "man ptyproxy finds the package's page" bash -c "MANPAGER=cat MANWIDTH=80 man ptyproxy 2>&1 | col -b | grep -q '^SYNOPSIS'"
    check "dpkg -r ptyproxy" bash -c "dpkg -r ptyproxy >/dev/null 2>&1"
    deb_installed=
    check "dpkg -r removed every file" bash -c "! ls /usr/bin/ptyproxy /usr/share/man/man1/ptyproxy.1.gz /usr/share/emacs/site-lisp/ptyproxy 2>/dev/null | grep -q ."
else
    echo "# installing the .deb skipped: not root, or a ptyproxy is installed already"
fi

if [[ ${#failures[@]} -ne 0 ]]; then
    echo "test-install: ${#failures[@]} failed: ${failures[*]}"
    exit 1
fi
echo "test-install: all passed"
