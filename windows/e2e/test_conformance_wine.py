#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The conformance cases of docs/conformance/ against ptyproxy.exe under Wine.

    python3 windows/e2e/test_conformance_wine.py [-k SUBSTRING]

Runs every case of cli.tsv for Windows (platform `all` or `windows`): the
real program with that argv, its exit status and the shape of its stdout
and stderr. Checks the fields of a live session's status JSON (from
`status ID`, and from its line of `list`) against status.tsv. Sends every
control.tsv case for Windows to a live session with ctlline.exe and
compares the reply; Wine's refusal to resize a pseudo console (E_NOTIMPL,
which INTERFACE.md names) counts as a resize reply, and is counted. The
same cases run against the Swift program (Tests/PTYProxyTests/
ConformanceTests.swift) and against the Windows parsers natively
(windows/tests/conformance_tests.c).

PTYPROXY_EXE names the program (default: windows/build/ptyproxy.exe, rebuilt
first). Ends with "N passed, N failed" and exits 1 on any failure.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winehost import (WINE64, Failure, Report, WinePrefix, WinProcess, build, exit_on_sigterm,  # noqa: E402
                      runner_arguments, settle, winpath)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(REPO, "docs", "conformance")
EXE = os.path.abspath(os.environ.get("PTYPROXY_EXE", os.path.join(REPO, "windows", "build", "ptyproxy.exe")))
CONHELPER = winpath(os.path.join(HERE, "build", "conhelper.exe")).strip('"')
CTLLINE = os.path.join(HERE, "build", "ctlline.exe")
MAX_SIZE = b"32767"
WINE_RESIZE_REFUSAL = re.compile(r"error resize failed: .*\(HRESULT 0x80004001\)")

# Wine's own diagnostics on a process's stderr are not the program's output
# (see test_wine.py, WINE_DIAGNOSTIC).
WINE_DIAGNOSTIC = re.compile(rb"(?m)^wine client error:[^\n]*(?:\n|$)")
ESCAPE = re.compile(rb"\\(?:x([0-9A-Fa-f]{2})(?:\*([0-9]+))?|(.))")


def unescape(field):
    """A field of a case file as bytes (docs/conformance/README.md)."""
    def one(m):
        if m.group(1):
            return bytes([int(m.group(1), 16)]) * (int(m.group(2)) if m.group(2) else 1)
        escaped = {b"\\": b"\\", b"t": b"\t", b"n": b"\n", b"r": b"\r"}.get(m.group(3))
        if escaped is None:
            raise ValueError("bad escape \\%s" % m.group(3).decode("latin-1"))
        return escaped
    return ESCAPE.sub(one, field)


def rows(name):
    """The lines of a case file that are cases, as lists of unescaped fields."""
    with open(os.path.join(CASES, name), "rb") as f:
        for number, line in enumerate(f.read().split(b"\n"), 1):
            line = line.rstrip(b"\r")
            if line and not line.startswith(b"#"):
                yield number, [unescape(field) for field in line.split(b"\t")]


def expand(argument, root, live_id=""):
    """An argument with its placeholder replaced by what Wine runs."""
    if argument == b"{live}":
        return [live_id.encode()]
    found = re.fullmatch(rb"\{exit ([0-9]+)\}", argument)
    if found:
        return [CONHELPER.encode(), b"cmd.exe", b"/c", b"exit " + found.group(1)]
    found = re.fullmatch(rb"\{shell (.*)\}", argument, re.S)
    if found:
        return [CONHELPER.encode(), b"cmd.exe", b"/c", found.group(1)]
    if argument == b"{batch}":
        path = os.path.join(root, "conformance.bat")
        with open(path, "w") as f:
            f.write("@exit /b 0\r\n")
        return [winpath(path).strip('"').encode()]
    if argument == b"{not-executable}":
        path = os.path.join(root, "not-a-program.exe")
        with open(path, "w") as f:
            f.write("this is a text file, not a program\n")
        return [winpath(path).strip('"').encode()]
    if argument == b"{missing-dir}":
        return [winpath(os.path.join(root, "no-such-dir")).strip('"').encode()]
    return [argument]


def is_json_object(data):
    try:
        return isinstance(json.loads(data.decode("utf-8")), dict)
    except ValueError:
        return False


def check_cli_case(prefix, fields):
    """Runs one case of cli.tsv; raises Failure saying what differs."""
    name, _, _, exit_code, out_shape, err_shape = (f.decode("utf-8") for f in fields[:6])
    live_id = "conformance-live-%d" % os.getpid()
    live = interactive_session(prefix, live_id) if b"{live}" in fields[6:] else None
    # Bytes as str (os.fsdecode), which Popen turns back into the same bytes.
    argv = [EXE] + [os.fsdecode(a) for argument in fields[6:] for a in expand(argument, prefix.root, live_id)]
    # stdin stays open until the program ends: closing a pseudo console's
    # input ends conhost under Wine, which would end a session early.
    p = WinProcess(prefix, argv)
    try:
        code = p.wait(60)
    finally:
        p.kill()
        if live:
            live.kill()
    out = bytes(p.out).replace(b"\r\n", b"\n")
    err = WINE_DIAGNOSTIC.sub(b"", bytes(p.err).replace(b"\r\n", b"\n"))
    problems = []
    if code != int(exit_code):
        problems.append("exit %d, expected %s" % (code, exit_code))
    if out_shape == "empty" and out:
        problems.append("stdout not empty: %r" % out[:200])
    elif out_shape == "usage" and not out.startswith(b"usage: ptyproxy "):
        problems.append("stdout is not the usage: %r" % out[:200])
    elif out_shape == "version" and not (out.startswith(b"ptyproxy ") and out.count(b"\n") == 1 and out.endswith(b"\n")):
        problems.append("stdout is not one version line: %r" % out[:200])
    elif out_shape == "json" and not (out.count(b"\n") == 1 and out.endswith(b"\n") and is_json_object(out)):
        problems.append("stdout is not one line of a JSON object: %r" % out[:200])
    elif out_shape not in ("empty", "usage", "version", "json", "any"):
        problems.append("unknown stdout shape %r" % out_shape)
    if err_shape == "empty":
        if err:
            problems.append("stderr not empty: %r" % err[:300])
    elif err_shape == "error" or err_shape.startswith("error~"):
        lines = err.split(b"\n")
        if not (len(lines) == 2 and lines[1] == b"" and lines[0].startswith(b"ptyproxy: ")):
            problems.append("stderr is not one line 'ptyproxy: ...': %r" % err[:300])
        wanted = err_shape[6:].encode("utf-8").replace(b"{max-size}", MAX_SIZE)
        if err_shape.startswith("error~") and wanted not in err:
            problems.append("stderr %r lacks %r" % (err[:300], wanted))
    else:
        problems.append("unknown stderr shape %r" % err_shape)
    if problems:
        raise Failure("; ".join(problems))


def check_status_json(text, sid, command, what):
    """One status JSON object (text) against status.tsv."""
    try:
        fields = json.loads(text, object_pairs_hook=list)
    except ValueError:
        raise Failure("%s: not JSON: %r" % (what, text))
    table = [[f.decode("utf-8") for f in row] for _, row in rows("status.tsv") if row[3] != b"posix"]
    if [key for key, _ in fields] != [row[0] for row in table]:
        raise Failure("%s: fields %r, expected %r" % (what, [key for key, _ in fields], [row[0] for row in table]))
    expected = {"=id": sid, "=cols": 132, "=rows": 43, "=command": command, "=conpty": "system"}
    for (key, value), (_, kind, rule, _) in zip(fields, table):
        raw = re.search(r'"%s":([^,}\]]*)' % key, text).group(1)
        typed = {"string": isinstance(value, str),
                 "strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
                 "integer": re.fullmatch(r"[0-9]+", raw) is not None,
                 "seconds": re.fullmatch(r"[0-9]+\.[0-9]{3}", raw) is not None}.get(kind)
        if not typed:
            raise Failure("%s %s: %r is not of type %s" % (what, key, raw if kind in ("integer", "seconds") else value, kind))
        if rule in expected and value != expected[rule]:
            raise Failure("%s %s: %r, expected %r" % (what, key, value, expected[rule]))
        if rule == ">0" and not value > 0 or rule == ">=0" and not value >= 0:
            raise Failure("%s %s: %r is not %s" % (what, key, value, rule))


def tool(prefix, args):
    """ptyproxy.exe ARGS to its end: (stdout lines, LF-ended), after checking exit 0 and an empty stderr."""
    done = subprocess.run([WINE64, EXE] + args, capture_output=True, env=prefix.env, cwd=prefix.root, timeout=30)
    err = WINE_DIAGNOSTIC.sub(b"", done.stderr)
    if done.returncode != 0 or err:
        raise Failure("%s: exit %d, stderr %r" % (args[0], done.returncode, err))
    out = done.stdout.replace(b"\r\n", b"\n").decode("utf-8")
    if out and not out.endswith("\n"):
        raise Failure("%s: the output does not end with a line feed: %r" % (args[0], out))
    return out.split("\n")[:-1]


def check_status_fields(prefix):
    """A live session's status JSON, from `status ID` and from its line of
    `list`, against status.tsv."""
    sid = "conformance-status-%d" % os.getpid()
    command = [CONHELPER, "cmd.exe", "/k", "rem", 'a "b" c', "caf\u00e9"]
    p = WinProcess(prefix, [EXE, "new", sid, "132", "43"] + command)
    try:
        p.wait_text(re.compile(rb">\s*$"), 60)
        status = tool(prefix, ["status", sid])
        listed = tool(prefix, ["list"])
    finally:
        p.kill()
    if len(status) != 1:
        raise Failure("status: not one line: %r" % status)
    check_status_json(status[0], sid, command, "status")
    mine = [line for line in listed if line.startswith(sid + "\t")]
    if len(mine) != 1:
        raise Failure("list: no line 'ID<TAB>JSON' for %s: %r" % (sid, listed))
    check_status_json(mine[0][len(sid) + 1:], sid, command, "list")


def control_reply(prefix, sid, line):
    """The session's reply to one request line (bytes), sent by ctlline.exe;
    a line ending in {unfinished} is sent without its newline."""
    unfinished = line.endswith(b"{unfinished}")
    argv = [WINE64, CTLLINE, sid, line[:-12].hex() if unfinished else line.hex()] + (["open"] if unfinished else [])
    done = subprocess.run(argv, capture_output=True, env=prefix.env, cwd=prefix.root, timeout=30)
    if done.returncode != 0:
        raise Failure("ctlline exit %d, stdout %r, stderr %r" % (done.returncode, done.stdout, done.stderr[-300:]))
    return done.stdout[:-1].decode("utf-8", "replace")


def interactive_session(prefix, sid):
    """A session running cmd.exe at its prompt (stdin kept open)."""
    p = WinProcess(prefix, [EXE, "new", sid, "80", "24", CONHELPER, "cmd.exe", "/k", "rem", sid])
    try:
        p.wait_text(re.compile(rb">\s*$"), 60)
    except Failure:
        p.kill()
        raise
    return p


def check_control_case(prefix, sid, name, line, request, expected):
    """Sends one control.tsv line; raises Failure on a wrong reply. Returns
    True when the reply was Wine's refusal to resize."""
    if request.startswith("signal ") and expected.startswith("ok"):
        own = interactive_session(prefix, "%s-%s" % (sid, name))
        try:
            got = control_reply(prefix, "%s-%s" % (sid, name), line)
        finally:
            own.kill()
    else:
        got = control_reply(prefix, sid, line)
    if got == expected or expected.endswith("*") and got.startswith(expected[:-1]):
        return False
    # INTERFACE.md: under Wine, ResizePseudoConsole fails with E_NOTIMPL.
    if request.startswith("resize ") and WINE_RESIZE_REFUSAL.fullmatch(got):
        return True
    raise Failure("reply %r, expected %r" % (got, expected))


def check_control_cases(prefix, report, only):
    """Every control.tsv case for Windows, sent to a live session; the
    number of resize requests that Wine refused. A request that signals gets
    a session of its own (^C ends conhost under Wine, TERM and KILL end the
    job). A reply that ends the connection races the disconnect after it, so
    such cases are sent 10 times."""
    wine_refusals = [0]
    sid = "conformance-ctl-%d" % os.getpid()
    main_session = interactive_session(prefix, sid)
    try:
        for _, fields in rows("control.tsv"):
            name, platform, line = fields[0].decode(), fields[1], fields[2]
            request, expected = (f.decode("utf-8").replace("{max-size}", MAX_SIZE.decode()) for f in fields[3:5])
            if platform not in (b"all", b"windows") or (only and only not in name):
                continue
            repeats = 10 if expected.startswith("error line too long") else 1

            def one(name=name, line=line, request=request, expected=expected, repeats=repeats):
                for _ in range(repeats):
                    wine_refusals[0] += check_control_case(prefix, sid, name, line, request, expected)
            report.case("control.tsv " + name, one, quiet=True)
    finally:
        main_session.kill()
    return wine_refusals[0]


def main():
    args = runner_arguments(__doc__, cases="cases", listing=False)
    problem = build(EXE, (HERE,))
    if problem:
        print("%s\n0 passed, 1 failed" % problem)
        return 1
    cases = [fields for _, fields in rows("cli.tsv")]
    for fields in cases:
        if fields[1] not in (b"all", b"posix", b"windows"):
            print("FAIL cli.tsv %s: unknown platform %r" % (fields[0].decode(), fields[1]))
            return 1
    ours = [f for f in cases if f[1] in (b"all", b"windows") and (not args.only or args.only.encode() in f[0])]
    posix_only = sum(1 for f in cases if f[1] == b"posix")

    exit_on_sigterm()
    prefix = WinePrefix()
    report = Report(prefix)
    notes = []
    try:
        prefix.start()
        before = set(prefix.processes())
        for fields in ours:
            report.case("cli.tsv " + fields[0].decode(), lambda fields=fields: check_cli_case(prefix, fields), quiet=True)
        if not args.only or "status" in args.only:
            report.case("status fields", lambda: check_status_fields(prefix), quiet=True)
        wine_refusals = check_control_cases(prefix, report, args.only)
        if wine_refusals:
            notes.append("Wine refused %d resize requests (E_NOTIMPL), as INTERFACE.md says it does" % wine_refusals)
        report.case("the cases' processes end", lambda: settle(prefix, before, 15), quiet=True)
    except Failure as error:
        report.fail("setup", error)
    finally:
        prefix.stop()
    print("conformance under Wine: %d cli.tsv cases for Windows, %d for POSIX only (not run here)"
          % (len(ours), posix_only))
    return report.summary(notes)


if __name__ == "__main__":
    sys.exit(main())
