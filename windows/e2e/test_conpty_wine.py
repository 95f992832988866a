#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of issue 19 under Wine: which ConPTY ptyproxy.exe runs
on, resizes in order, and ^C not ignored by the child.

    python3 windows/e2e/test_conpty_wine.py [-k SUBSTRING] [--list]

A stand-in conpty.dll (conpty_stub.c, built by `make -C windows/e2e` as
build/stub/conpty.dll, and build/stub-broken/conpty.dll without
ResizePseudoConsole) forwards to kernel32 and appends what it was asked to
conpty_stub.log beside itself. Each test copies ptyproxy.exe and the stub
into directories of its own, so the log says exactly which DLL served which
session. The real conpty.dll and OpenConsole.exe are not run here.

PTYPROXY_EXE names the program (default windows/build/ptyproxy.exe, rebuilt
with `make -C windows` first). Ends with "N passed, N failed"; exit 1 on
any failure. Every wait is bounded.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winehost import Failure, WinProcess, run, run_suite, winpath  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXE = os.path.abspath(os.environ.get("PTYPROXY_EXE", os.path.join(REPO, "windows", "build", "ptyproxy.exe")))
HELPERS = os.path.join(HERE, "build")
STUB = os.path.join(HELPERS, "stub", "conpty.dll")
BROKEN_STUB = os.path.join(HELPERS, "stub-broken", "conpty.dll")
PROMPT = re.compile(rb">\s*$")
WINE_DIAGNOSTIC = re.compile(r"(?m)^wine client error:[^\n]*(?:\n|$)")

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(condition, message):
    if not condition:
        raise Failure(message)


def helper(name):
    return winpath(os.path.join(HELPERS, name + ".exe"))


def stderr_lines(text):
    """stderr's lines, Wine's own diagnostics left out (see test_wine.py)."""
    return [line for line in WINE_DIAGNOSTIC.sub("", text).replace("\r\n", "\n").split("\n") if line]


class Suite:
    def __init__(self, prefix):
        self.prefix = prefix
        self.live = []
        self.serial = 0
        self.dirs = []

    def new_id(self, stem):
        self.serial += 1
        return "%s-%d-%d" % (stem, os.getpid(), self.serial)

    def directory(self, exe=False, dll=None):
        """A new directory under the prefix's root, with a copy of
        ptyproxy.exe and/or of a conpty.dll in it."""
        path = tempfile.mkdtemp(prefix="conpty-", dir=self.prefix.root)
        self.dirs.append(path)
        if exe:
            shutil.copy(EXE, os.path.join(path, "ptyproxy.exe"))
        if dll:
            shutil.copy(dll, os.path.join(path, "conpty.dll"))
        return path

    def start(self, exe_dir, args, cwd=None, reading=True):
        p = WinProcess(self.prefix, [os.path.join(exe_dir, "ptyproxy.exe")] + args, reading=reading, cwd=cwd)
        self.live.append(p)
        return p

    def shell(self, exe_dir, sid, options=(), cwd=None):
        """cmd.exe at its prompt in a session of the ptyproxy.exe in exe_dir."""
        p = self.start(exe_dir, ["new"] + list(options) + [sid, "80", "24", "%s cmd.exe /k rem %s" % (helper("conhelper"), sid)],
                       cwd=cwd)
        p.wait_text(PROMPT, 30)
        return p

    def cli(self, exe_dir, args, timeout=20):
        return run(self.prefix, [os.path.join(exe_dir, "ptyproxy.exe")] + args, timeout)

    def status(self, exe_dir, sid):
        code, out, err, _ = self.cli(exe_dir, ["status", sid])
        check(code == 0, "status %s: exit %d, stderr %r" % (sid, code, err))
        try:
            return json.loads(out.decode("utf-8").strip())
        except ValueError:
            raise Failure("status: not JSON: %r" % out)

    def control(self, sid, request):
        """One request through ctlcli.exe: (exit code, reply line)."""
        code, out, err, _ = run(self.prefix, [os.path.join(HELPERS, "ctlcli.exe"), sid, request, "reply"], 20)
        return code, out.decode("utf-8", "replace").strip()

    def cleanup(self):
        for p in self.live:
            p.kill()
        self.live = []


def stub_log(directory):
    try:
        with open(os.path.join(directory, "conpty_stub.log")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def end_session(p):
    at = len(p.out)
    p.send(b"exit 0\r")
    code = p.wait(30)
    check(code == 0, "the session did not exit 0 (exit %s); output ends %r" % (code, p.text()[-200:]))
    return at


# --- which ConPTY ------------------------------------------------------------

@test
def conpty_dll_beside_the_program_is_used(s):
    d = s.directory(exe=True, dll=STUB)
    sid = s.new_id("beside")
    p = s.shell(d, sid)
    status = s.status(d, sid)
    want = winpath(os.path.join(d, "conpty.dll")).strip('"')
    check(status.get("conpty") == want, "status says conpty %r, expected %r" % (status.get("conpty"), want))
    code, out, err, _ = s.cli(d, ["list"])
    line = [l for l in out.decode("utf-8", "replace").splitlines() if l.startswith(sid + "\t")]
    check(code == 0 and line and json.loads(line[0].split("\t", 1)[1]).get("conpty") == want,
          "list does not name the DLL: %r" % out)
    check(stub_log(d)[:1] == ["create 80 24"], "the stub did not create the console: log %r" % stub_log(d))
    at = len(p.out)
    p.send(b"set /a 4000+44\r")                      # the stub's console relays both ways
    p.wait_text(b"4044", 15, start=at)
    end_session(p)
    check(stub_log(d)[-1:] == ["close"], "the stub did not close the console: log %r" % stub_log(d))
    check(stderr_lines(p.stderr_text()) == [], "stderr: %r" % p.stderr_text())


@test
def conpty_dll_in_the_current_directory_is_not_used(s):
    program = s.directory(exe=True)
    planted = s.directory(dll=STUB)
    sid = s.new_id("planted")
    p = s.shell(program, sid, cwd=planted)
    status = s.status(program, sid)
    check(status.get("conpty") == "system", "a conpty.dll in the current directory was used: %r" % status)
    end_session(p)
    check(stub_log(planted) == [], "the planted DLL ran: log %r" % stub_log(planted))
    check(stderr_lines(p.stderr_text()) == [], "stderr: %r" % p.stderr_text())


@test
def unusable_conpty_dll_beside_falls_back_with_one_warning(s):
    for kind, dll, reason in (("broken", BROKEN_STUB, "lacks ResizePseudoConsole"), ("not-a-dll", None, "cannot be loaded")):
        d = s.directory(exe=True, dll=dll)
        if dll is None:
            with open(os.path.join(d, "conpty.dll"), "w") as f:
                f.write("not a DLL\n")
        sid = s.new_id(kind)
        p = s.shell(d, sid)
        status = s.status(d, sid)
        check(status.get("conpty") == "system", "%s: status says %r, expected the system's" % (kind, status.get("conpty")))
        end_session(p)
        lines = stderr_lines(p.stderr_text())
        check(len(lines) == 1 and lines[0].startswith("ptyproxy: warning: ") and reason in lines[0]
              and "system's ConPTY" in lines[0], "%s: expected one warning line (%s), got %r" % (kind, reason, lines))
        check(stub_log(d) == [], "%s: the unusable DLL ran: %r" % (kind, stub_log(d)))


@test
def conpty_option_names_the_dll(s):
    program = s.directory(exe=True)
    elsewhere = s.directory(dll=STUB)
    dll = winpath(os.path.join(elsewhere, "conpty.dll")).strip('"')
    sid = s.new_id("option")
    p = s.shell(program, sid, options=["--conpty", dll])
    check(s.status(program, sid).get("conpty") == dll, "status does not name --conpty's DLL")
    end_session(p)
    log = stub_log(elsewhere)
    check(log[:1] == ["create 80 24"] and log[-1:] == ["close"], "--conpty's DLL did not serve the session: %r" % log)


@test
def bad_conpty_option_is_125_and_leaves_nothing(s):
    program = s.directory(exe=True)
    broken = s.directory(dll=BROKEN_STUB)
    missing = winpath(os.path.join(program, "nothing-here.dll")).strip('"')
    cases = (("conpty.dll", "full path"),                       # relative: never searched for
             (winpath(os.path.join(broken, "conpty.dll")).strip('"'), "lacks ResizePseudoConsole"),
             (missing, "cannot be loaded"),
             (missing[:-4] + "\x1b[2J.dll", "cannot be loaded"))        # shown without its ESC
    for value, reason in cases:
        sid = s.new_id("badopt")
        code, out, err, _ = s.cli(program, ["new", "--conpty", value, sid, "80", "24", "%s cmd.exe /c echo ran" % helper("conhelper")])
        lines = stderr_lines(err.decode("utf-8", "replace"))
        check(code == 125, "--conpty %s: exit %d, expected 125 (stderr %r)" % (value, code, err))
        check(len(lines) == 1 and lines[0].startswith("ptyproxy: ") and reason in lines[0]
              and not re.search(r"[\x00-\x1f\x7f]", lines[0]),
              "--conpty %r: expected one printable line saying %r, got %r" % (value, reason, lines))
        check(b"ran" not in out, "--conpty %s: the command ran: %r" % (value, out))
        code, _, _, _ = s.cli(program, ["status", sid])
        check(code == 4, "--conpty %s: a session is left (status exit %d)" % (value, code))
    check(stub_log(broken) == [], "the broken DLL ran: %r" % stub_log(broken))


# --- resizes -----------------------------------------------------------------

@test
def early_resizes_reach_the_console_in_order(s):
    """Resizes sent while the session is still starting are applied, after
    the console exists, in the order sent, each answered with the result."""
    d = s.directory(exe=True, dll=STUB)
    sid = s.new_id("early")
    p = s.start(d, ["new", sid, "80", "24", "%s cmd.exe /k rem %s" % (helper("conhelper"), sid)])
    deadline = time.monotonic() + 30
    while True:                                      # the first request as soon as the pipe exists
        code, reply = s.control(sid, "resize 100 30")
        if code != 2:
            break
        check(time.monotonic() < deadline, "the control pipe never appeared")
    early = not PROMPT.search(p.text())
    replies = [reply] + [s.control(sid, "resize %d %d" % (100 + n, 30 + n))[1] for n in (1, 2)]
    for n, reply in enumerate(replies):
        check(reply in ("ok %d %d" % (100 + n, 30 + n),) or reply.startswith("error resize failed: "),
              "reply %d: %r" % (n, reply))
    sizes = [line for line in stub_log(d) if line.startswith("resize ")]
    check(sizes == ["resize 100 30", "resize 101 31", "resize 102 32"], "ResizePseudoConsole calls: %r" % sizes)
    print("   (first resize sent %s the prompt; replies %r)" % ("before" if early else "after", replies[0]))
    p.wait_text(PROMPT, 30)
    end_session(p)


@test
def concurrent_resizes_all_answered_last_size_applied(s):
    d = s.directory(exe=True, dll=STUB)
    sid = s.new_id("burst")
    p = s.shell(d, sid)
    replies = {}

    def one(n):
        replies[n] = s.control(sid, "resize %d %d" % (110 + n, 40 + n))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(len(replies) == 6, "only %d of 6 clients were answered" % len(replies))
    for n, (code, reply) in replies.items():
        check(reply == "ok %d %d" % (110 + n, 40 + n) or reply.startswith("error resize failed: "),
              "client %d: reply %r" % (n, reply))
    sizes = [line for line in stub_log(d) if line.startswith("resize ")]
    check(1 <= len(sizes) <= 6 and all(re.fullmatch(r"resize 11\d 4\d", x) for x in sizes),
          "ResizePseudoConsole calls: %r" % sizes)
    print("   (6 concurrent resizes: %d ResizePseudoConsole call(s))" % len(sizes))
    end_session(p)


# --- ^C ---------------------------------------------------------------------

@test
def child_does_not_inherit_ignoring_ctrl_c(s):
    """The host may ignore ^C (a process started in a new process group
    does); the child must not inherit that, or ^C does nothing in it. Wine
    ends conhost on 0x03, so the flag itself is what is checked here."""
    d = s.directory(exe=True)
    sid = s.new_id("ctrlc")
    argv = [os.path.join(HELPERS, "ctrlc.exe"), "ignore", winpath(os.path.join(d, "ptyproxy.exe")), "new", sid, "80", "24",
            "%s show" % helper("ctrlc")]
    p = WinProcess(s.prefix, argv)
    s.live.append(p)
    p.wait_text(re.compile(rb"ignore-ctrl-c=\d"), 30)
    check(b"ignore-ctrl-c=0" in p.text(), "the child ignores ^C: %r" % p.text()[-200:])
    p.send(b"x\r")                                # console input is line by line
    check(p.wait(30) == 0, "the session did not end 0")
    # The check can fail: a child that sets the flag itself hands it on.
    sid = s.new_id("ctrlc-self")
    argv[4] = sid
    argv[-1] = "%s ignore %s show" % (helper("ctrlc"), helper("ctrlc"))
    p = WinProcess(s.prefix, argv)
    s.live.append(p)
    p.wait_text(re.compile(rb"ignore-ctrl-c=\d"), 30)
    check(b"ignore-ctrl-c=1" in p.text(), "the flag is not seen when set: %r" % p.text()[-200:])
    p.send(b"x\r")
    p.wait(30)


def main():
    return run_suite(__doc__, TESTS, EXE, (HERE,), Suite, required=(STUB, BROKEN_STUB))


if __name__ == "__main__":
    sys.exit(main())
