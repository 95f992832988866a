#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of `new --keep` and `attach` in ptyproxy.exe (issue 20),
under Wine, with the real program and real Windows programs.

    python3 windows/e2e/test_keep_wine.py [-k SUBSTRING] [--list]

A kept session runs in a server process of its own; the host is whichever
process attached last (`new --keep` is the first). Wine starts that server
with the front's Linux stderr (for Wine's own diagnostics), so a test never
waits for the end of the front's stderr; stdout and the exit code are the
program's. Every wait is bounded.
"""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winehost import Failure, WinProcess, run_suite, strip_vt, winpath  # noqa: E402
import test_wine  # noqa: E402
from test_wine import EXE, HELPERS, HERE, REPO, Suite, check, helper, status_json  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class KeepSuite(Suite):
    """A kept session outlives the processes the test started: each is ended
    with `signal ID KILL` after the test, and its server must go."""

    def __init__(self, prefix):
        super().__init__(prefix)
        self.kept = []

    def cleanup(self):
        super().cleanup()
        for sid in self.kept:
            self.cli(["signal", sid, "KILL"])
            self.gone("ptyproxy.exe", "--keep-server", 30, "the server of %s to end" % sid)
        self.kept = []


def kept_shell(s, sid, marker, options=()):
    """`new --keep` running cmd.exe at its prompt; waits for the prompt."""
    s.kept.append(sid)
    p = s.session(sid, "%s cmd.exe /k rem %s" % (helper("conhelper"), marker), options=("--keep",) + tuple(options))
    p.wait_text(re.compile(rb">\s*$"), 60)
    return p


def wait_status(s, sid, condition, timeout, what):
    """Polls `status` until `condition(json)`; returns that status."""
    deadline = time.monotonic() + timeout
    while True:
        status, _ = status_json(s, sid)
        if condition(status):
            return status
        if time.monotonic() >= deadline:
            raise Failure("timed out after %.0f s waiting for %s; status %r" % (timeout, what, status))
        time.sleep(0.1)


def attach(s, sid, *extra):
    return s.proxy(["attach", sid] + list(extra))


def detached(status):
    return status.get("attached") is False


@test
def keep_detach_by_killing_the_front_then_attach(s):
    """The front (`new --keep`'s process, what Emacs kills) dies: the program
    goes on, its output is kept; `attach` gets the kept output, then the live
    output, its typing reaches the program, and it exits with the program's
    status."""
    sid = s.new_id("keep")
    front = kept_shell(s, sid, "kept-" + sid)
    status, _ = status_json(s, sid)
    check(status.get("kept") is True and status.get("attached") is True and "detached_since" not in status,
          "a kept, attached session's status: %r" % status)
    at = len(front.out)
    front.send(b"set /a 6*7+1000\r")
    front.wait_text(b"1042", 30, start=at)
    # Output that comes while nobody is attached: printed 3 s after the front dies.
    front.send(("%s 3 & echo later-%%PTYPROXY_ID%%\r" % helper("sleeper")).encode())
    time.sleep(0.5)
    front.kill()
    status = wait_status(s, sid, detached, 20, "the session to be detached")
    check(status.get("kept") is True and isinstance(status.get("detached_since"), int), "detached status: %r" % status)
    code, out, err, _ = s.cli(["list"], 20)
    listed = [line for line in out.decode("utf-8", "replace").splitlines() if line.startswith(sid + "\t")]
    check(code == 0 and len(listed) == 1 and '"kept":true,"attached":false' in listed[0], "list: %r" % out)
    wait_status(s, sid, lambda st: st.get("buffered", 0) > 0, 20,
                "output kept while detached")
    host = attach(s, sid, "100", "30")
    host.wait_text(("later-" + sid).encode(), 30)
    status, _ = status_json(s, sid)
    check(status.get("attached") is True and status.get("buffered") == 0, "attached again: %r" % status)
    at = len(host.out)
    host.send(b"set /a 5*5+2000\r")
    host.wait_text(b"2025", 30, start=at)
    host.send(b"exit 7\r")
    code = host.wait(30)
    check(code == 7, "attach: exit %d, expected the program's 7; stderr %r" % (code, host.stderr_text()))


@test
def keep_refusals_and_force(s):
    """A second `attach` is refused (1); `attach --force` takes over and the
    old host exits 3 with one line; a session without --keep refuses (1); an
    unknown ID is 4."""
    sid = s.new_id("force")
    front = kept_shell(s, sid, "force-" + sid)
    code, out, err, _ = s.cli(["attach", sid], 20)
    check(code == 1 and b"is attached to another host (attach --force takes it over)" in err,
          "second attach: exit %d, stderr %r" % (code, err))
    host = attach(s, sid, "--force")
    code = front.wait(30)
    check(code == 3, "the host taken over: exit %d, expected 3; stderr %r" % (code, front.stderr_text()))
    check(("session '%s' detached from this host: another host attached" % sid) in front.stderr_text(),
          "its line: %r" % front.stderr_text())
    at = len(host.out)
    host.send(b"set /a 6*7+3000\r")
    host.wait_text(b"3042", 30, start=at)
    host.send(b"exit 5\r")
    check(host.wait(30) == 5, "the new host: exit %r" % host.proc.returncode)
    plain = s.new_id("plain")
    test_wine.interactive(s, plain)
    code, out, err, _ = s.cli(["attach", plain], 20)
    check(code == 1 and b"was not started with --keep" in err, "attach to a plain session: %d %r" % (code, err))
    status, _ = status_json(s, plain)
    check("kept" not in status and "attached" not in status, "a plain session's status: %r" % status)
    code, out, err, _ = s.cli(["attach", s.new_id("nobody")], 20)
    check(code == 4, "attach to an unknown ID: exit %d, stderr %r" % (code, err))


@test
def keep_setup_errors_reach_the_front(s):
    """Set-up errors of the server come back as `new`'s: the same line and code."""
    sid = s.new_id("missing")
    code, out, err, _ = s.cli(["new", "--keep", sid, "80", "24", "no-such-program-xyz.exe"], 60)
    check(code == 127 and b"ptyproxy: " in err, "a missing program: exit %d, stderr %r" % (code, err))
    code, out, err, _ = s.cli(["status", sid], 20)
    check(code == 4, "no session is left of a failed --keep: status exit %d" % code)
    # The server's private form, given by hand: one line, 125, nothing runs.
    code, out, err, _ = s.cli(["--keep-server", "x", "new", "--keep", sid, "80", "24", "cmd.exe"], 20)
    check(code == 125, "--keep-server by hand: exit %d" % code)
    test_wine.one_error_line(err, "--keep-server by hand")
    sid = s.new_id("dup")
    kept_shell(s, sid, "dup-" + sid)
    code, out, err, _ = s.cli(["new", "--keep", sid, "80", "24", "cmd.exe"], 60)
    check(code == 125 and b"already running" in err, "a live ID: exit %d, stderr %r" % (code, err))


def numbers(data):
    """The tick numbers in a host's raw output, escape sequences removed."""
    return [int(n) for n in re.findall(rb"tick (\d+)", strip_vt(bytes(data)).replace(b"\r", b""))]


def kill_host(s, sid, host):
    """SIGKILLs a host's process (as Emacs's exit does), waits until the
    session is detached and the host's stdout has ended (the session let go
    of it); returns everything the host got."""
    host.proc.kill()
    host.proc.wait(10)
    wait_status(s, sid, detached, 30, "the session to be detached")
    deadline = time.monotonic() + 20
    with host.cond:
        while not host.out_eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("the detached host's stdout did not end: the session still holds it")
            host.cond.wait(min(left, 0.2))
        return bytes(host.out)


#: Detach and attach cycles of keep_cycles_under_output (each starts two
#: Wine processes, about 0.5 s).
CYCLES = 100


@test
def keep_cycles_under_output_no_line_lost_or_doubled(s):
    """A program writes numbered lines every 1 ms; its host is killed and a
    new one attached, CYCLES times. Each host gets live lines, and the hosts'
    outputs put end to end are the program's stream: every number once, in
    order (nothing lost or doubled at a switch)."""
    sid = s.new_id("cycles")
    s.kept.append(sid)
    host = s.session(sid, "%s %s 1" % (helper("conhelper"), helper("ticker")), options=("--keep",))
    host.wait_text(b"tick 20", 60)
    stream = b""
    for cycle in range(CYCLES):
        got = kill_host(s, sid, host)
        check(numbers(got), "cycle %d: the host got no line: %r" % (cycle, got[-200:]))
        stream += got
        host = attach(s, sid)
        last = numbers(stream)[-1]
        deadline = time.monotonic() + 30
        while not any(n > last + 5 for n in numbers(host.out)):   # live lines, past the kept ones
            if time.monotonic() >= deadline:
                raise Failure("cycle %d: no live line after tick %d: %r; attach exit %r, stderr %r; status %r" % (
                    cycle, last, bytes(host.out)[-200:], host.proc.poll(), host.stderr_text(), status_json(s, sid)[0]))
            time.sleep(0.05)
    stream += kill_host(s, sid, host)
    seen = numbers(stream)
    print("    %d hosts got ticks %d..%d (%d bytes)" % (CYCLES + 1, seen[0], seen[-1], len(stream)))
    check(seen == list(range(seen[0], seen[0] + len(seen))),
          "the stream over %d hosts is not every number once in order: first gaps or repeats at %r"
          % (CYCLES + 1, [(a, b) for a, b in zip(seen, seen[1:]) if b != a + 1][:5]))


def server_pid(s, sid):
    pids = s.prefix.find("ptyproxy.exe", "--keep-server")
    pids = [pid for pid in pids if sid in s.prefix.processes().get(pid, "")]
    check(len(pids) == 1, "the server of %s: found %r" % (sid, pids))
    return pids[0]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for %d" % pid)


@test
def keep_memory_bounded_while_detached(s):
    """While nobody is attached, a flood of 16 MiB goes into a ring of
    --keep-buffer bytes: the server's memory does not grow with it, the ring
    stays full (less what the replay boundary rule skips: its cases are in
    the native tests), and the next host gets at most the ring, ending with
    the flood's last line."""
    sid = s.new_id("memory")
    ring = 65536
    front = kept_shell(s, sid, "memory-" + sid, options=("--keep-buffer", str(ring)))
    pid = server_pid(s, sid)
    before = rss_kib(pid)
    front.send(("%s 16384 & echo flood-over-%%PTYPROXY_ID%%\r" % helper("flood")).encode())
    front.wait_text(b"FLOOD-BEGIN", 30)
    kill_host(s, sid, front)
    peak = before
    deadline = time.monotonic() + 300
    while True:
        peak = max(peak, rss_kib(pid))
        status, _ = status_json(s, sid)
        # Full, less what the replay boundary rule skipped (up to 4096 bytes).
        if status["bytes_out"] >= 16 << 20 and ring - 4096 <= status["buffered"] <= ring:
            break
        check(time.monotonic() < deadline, "the flood did not pass within 300 s: %r" % status)
        time.sleep(0.2)
    check(peak - before < 4096, "the server grew by %d KiB while detached (before %d KiB)" % (peak - before, before))
    host = attach(s, sid)
    host.wait_text(("flood-over-" + sid).encode(), 30)
    check(len(host.out) <= ring + 4096, "the replay is %d bytes, more than the ring's %d" % (len(host.out), ring))
    print("    server VmRSS %d KiB before, peak %d KiB while 16 MiB passed detached" % (before, peak))


@test
def keep_force_takes_over_a_host_that_never_reads(s):
    """A host that stops reading holds the output as under `new`, until
    `attach --force` takes the stream over: the new host gets the output."""
    sid = s.new_id("stalled")
    s.kept.append(sid)
    front = s.session(sid, "%s %s 0 60000" % (helper("conhelper"), helper("ticker")), options=("--keep",),
                      reading=False)
    time.sleep(3)                                    # its stdout pipe fills up
    host = attach(s, sid, "--force")
    host.wait_text(b"ticks done", 120)
    front.resume_reading()
    check(front.wait(30) == 3, "the stalled host: exit %r" % front.proc.returncode)
    check(host.wait(30) == 0, "the new host: exit %r" % host.proc.returncode)
    # The write the stalled host held was abandoned and went to the new host
    # whole, with what was queued behind it: each host's ticks are one run,
    # and the new host's begins at or before the tick after the old one's
    # last (the abandoned piece reaches both).
    wait_eof(front, 20, "the stalled host's stdout")
    old, new = numbers(front.out), numbers(host.out)
    check(old and old == list(range(1, len(old) + 1)), "the stalled host's ticks are not 1..N: %r" % old[-5:])
    check(new and new == list(range(new[0], 60001)),
          "the new host's ticks are not one run to 60000: gaps or repeats at %r"
          % [(a, b) for a, b in zip(new, new[1:]) if b != a + 1][:5])
    check(new[0] <= old[-1] + 1, "ticks %d..%d reached neither host" % (old[-1] + 1, new[0] - 1))
    print("    the stalled host got ticks 1..%d, the new one %d..60000" % (old[-1], new[0]))


def wait_eof(p, timeout, what):
    deadline = time.monotonic() + timeout
    with p.cond:
        while not p.out_eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s did not end within %d s" % (what, timeout))
            p.cond.wait(min(left, 0.2))


def settled_bytes_out(s, sid, quiet, timeout):
    """Polls `status` until its bytes_out (what the session has taken from
    the program) is above 0 and has not changed for ``quiet`` seconds; the
    session may still be starting at first."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        code, out, err, _ = s.cli(["status", sid], 10)
        value = json.loads(out.decode("utf-8", "replace")).get("bytes_out", 0) if code == 0 else 0
        now = time.monotonic()
        if value != last:
            last, since = value, now
        elif value > 0 and now - since >= quiet:
            return value
        if now >= deadline:
            raise Failure("bytes_out did not settle within %d s: %r" % (timeout, value))
        time.sleep(0.2)


@test
def keep_reads_on_while_a_write_waits(s):
    """The output thread hands what it reads to the host's writer and reads
    on: while a host that stopped reading holds one write, the session takes
    up to one read size more (the writer's queue), and no more: what it holds
    for a stalled host is bounded. Once the host reads again, the whole
    flood arrives and the program's exit status with it."""
    sid = s.new_id("readon")
    s.kept.append(sid)
    size = 1 << 20                          # --output-buffer-size: the read size and the queue's
    front = s.session(sid, "%s %s %d" % (helper("conhelper"), helper("flood"), 8 * 1024),
                      options=("--keep", "--output-buffer-size", str(size)), reading=False)
    held = settled_bytes_out(s, sid, 3, 90)
    # The host's pipe (64 KiB), the write it holds and the queue behind it.
    check(held >= size // 2, "the session took %d bytes for a stalled host: it did not read on while the "
          "write waited (a queue of %d)" % (held, size))
    check(held <= 2 * size + (256 << 10), "the session took %d bytes for a stalled host: more than its "
          "write and its queue of %d" % (held, size))
    front.resume_reading()
    front.wait_text(b"FLOOD-END", 60)
    check(front.wait(30) == 0, "new --keep: exit %r after the flood" % front.proc.returncode)
    print("    %d bytes taken while the host did not read (read size %d)" % (held, size))


@test
def keep_attack_attach_storm_and_wrong_requests(s):
    """20 `attach` at once on an attached session: each refused with one
    line, exit 1, and the host and session go on. Raw requests with no
    handles, with handles that are not the client's, or in Linux's form,
    are refused with `error ...` and change nothing."""
    sid = s.new_id("storm")
    front = kept_shell(s, sid, "storm-" + sid)
    storm = [s.proxy(["attach", sid]) for _ in range(20)]
    for p in storm:
        code = p.wait(60)
        check(code == 1, "an attach of the storm: exit %d, stderr %r" % (code, p.stderr_text()))
        test_wine.one_error_line(p.stderr_text(), "an attach of the storm")
    for request, expected in (("attach", "error attach needs the host's stdin and stdout handles"),
                              ("attach force", "error attach needs the host's stdin and stdout handles"),
                              ("attach stdio 4294967292 4294967288", "error cannot take the host's stdin"),
                              ("attach 0 0 stdio 1 2", "error size must be two integers"),
                              ("attach stdio x y", "error stdio needs two handle values")):
        code, reply, _ = test_wine.control_request(s, sid, request)
        check(reply.startswith(expected), "%r: reply %r, expected %r" % (request, reply, expected))
    status, _ = status_json(s, sid)
    check(status.get("attached") is True, "after the storm: %r" % status)
    at = len(front.out)
    front.send(b"set /a 6*7+4000\r")
    front.wait_text(b"4042", 30, start=at)
    code, out, err, _ = s.tool("rawattach", [sid, "swapped"])
    check(code == 0 and re.search(rb"error the host's (stdin|stdout) is not open for", out),
          "stdin and stdout the wrong way round: exit %d, reply %r" % (code, out))
    # Even forced, a request whose handles cannot be taken detaches nobody.
    code, reply, _ = test_wine.control_request(s, sid, "attach force stdio 4294967292 4294967288")
    check(reply.startswith("error cannot take the host's stdin"), "forced with bad handles: %r" % reply)
    status, _ = status_json(s, sid)
    check(status.get("attached") is True and front.proc.poll() is None, "after a forced bad attach: %r" % status)


@test
def keep_stdin_end_is_not_a_detach_and_term_ends_it(s):
    """A host whose stdin ends (the user's ^D) stays attached and gets the
    output; `signal ID TERM` ends a detached session and its server."""
    sid = s.new_id("eof")
    s.kept.append(sid)
    host = s.session(sid, "%s %s 100" % (helper("conhelper"), helper("ticker")), options=("--keep",))
    host.wait_text(b"tick 3", 60)
    host.close_stdin()
    time.sleep(1)
    status, _ = status_json(s, sid)
    check(status.get("attached") is True, "after the host's stdin ended: %r" % status)
    at = len(host.out)
    host.wait_text(re.compile(rb"tick \d+"), 10, start=at)
    kill_host(s, sid, host)
    code, out, err, _ = s.cli(["signal", sid, "TERM"], 20)
    check(code == 0, "signal TERM to a detached session: exit %d, %r" % (code, err))
    s.gone("ptyproxy.exe", sid, 30, "the server of the ended session")
    code, out, err, _ = s.cli(["status", sid], 20)
    check(code == 4, "status of the ended session: exit %d" % code)


@test
def keep_in_a_job_without_breakaway_says_so(s):
    """In a job that forbids breaking away (a CI runner's), the server is
    started in the job: `new --keep` says so in one warning line and runs
    the session; closing the job ends it."""
    sid = s.new_id("job")
    s.kept.append(sid)
    jobrun = WinProcess(s.prefix, [os.path.join(HELPERS, "jobrun.exe"), winpath(EXE).strip('"'), "new", "--keep", sid,
                                   "80", "24", "%s cmd.exe /k rem job-%s" % (helper("conhelper"), sid)])
    s.live.append(jobrun)
    jobrun.wait_text(re.compile(rb">\s*$"), 60)
    warning = "ptyproxy: warning: this process's job does not allow breakaway; the kept session ends when that job is closed"
    check(warning in jobrun.stderr_text(), "no warning about the job: stderr %r" % jobrun.stderr_text())
    status, _ = status_json(s, sid)
    check(status.get("kept") is True and status.get("attached") is True, "in the job: %r" % status)
    jobrun.proc.kill()                               # the job's last handle goes: everything in it is killed
    s.gone("ptyproxy.exe", sid, 30, "the server of a session in a closed job")
    code, out, err, _ = s.cli(["status", sid], 20)
    check(code == 4, "status after the job was closed: exit %d" % code)


@test
def keep_first_host_gets_everything_and_the_exit_code(s):
    """A program that writes far more than --keep-buffer and exits at once:
    the first host (`new --keep` itself) gets every line and the program's
    exit code, five times."""
    for run_number in range(5):
        sid = s.new_id("first")
        s.kept.append(sid)
        p = s.session(sid, "%s %s 3000 9" % (helper("conhelper"), helper("lines")),
                      options=("--keep", "--keep-buffer", "4096"))
        code = p.wait(60)
        got = [int(n) for n in re.findall(rb"line (\d+)", strip_vt(bytes(p.out)).replace(b"\r", b""))]
        check(code == 9, "run %d: exit %d, expected the program's 9; stderr %r" % (run_number, code, p.stderr_text()))
        check(got == list(range(1, 3001)), "run %d: the first host got %d lines, from %r to %r"
              % (run_number, len(got), got[:1], got[-1:]))


#: Rounds of keep_attach_racing_the_exit_gets_its_status; the program runs
#: 20 to 120 ms (1 to 6 ticks of 20 ms) in turn, so that the attaches land
#: before, at and after its exit.
EXIT_RACE_ROUNDS = 12


@test
def keep_attach_racing_the_exit_gets_its_status(s):
    """`attach --force` in a loop while the program exits with 5, one after
    the other until the session is gone: each exits 5 (attached, or
    answered `exit 5` after the exit) or 4 with "no session" (gone), never
    1, never a hang. The front exits 5, or 3 when an attach took it over."""
    codes = []
    for round_number in range(EXIT_RACE_ROUNDS):
        sid = s.new_id("exitrace")
        s.kept.append(sid)
        front = s.session(sid, "%s cmd.exe /c %s 20 %d & exit 5"
                          % (helper("conhelper"), helper("ticker"), 1 + round_number % 6), options=("--keep",))
        front.wait_text(b"tick 1", 60)
        late = []
        while len(late) < 8:
            p = attach(s, sid, "--force")
            late.append(p)
            code = p.wait(30)
            codes.append(code)
            check(code in (5, 4), "round %d, attach %d: exit %d, expected 5 or 4; stderr %r"
                  % (round_number, len(late), code, p.stderr_text()))
            if code == 4:
                test_wine.one_error_line(p.stderr_text(), "an attach after the session's end")
                check("no session '%s' is running" % sid in p.stderr_text(), "exit 4: %r" % p.stderr_text())
                break
        code = front.wait(30)
        check(code in (5, 3), "round %d: the front exited %d, expected 5 or 3; stderr %r"
              % (round_number, code, front.stderr_text()))
    print("  attach exit codes: %r" % codes)


@test
def keep_attach_after_the_exit_gets_its_status(s):
    """The program (8000 lines, then exit 5) exits while its host, not
    reading, still holds its output: the session drains it (at most 2 s)
    and answers meanwhile. Attaches one after the other: refused while the
    program runs (another host is attached), then answered with the
    program's 5, or 4 once the session is gone; never "is ending", never a
    hang. The host gets 5."""
    answered = []
    for round_number in range(3):
        sid = s.new_id("exitlate")
        s.kept.append(sid)
        front = s.session(sid, "%s %s 8000 5" % (helper("conhelper"), helper("lines")),
                          options=("--keep",), reading=False)
        s.prefix.wait_for(lambda: s.cli(["status", sid])[0] == 0, 60, "the session to answer")
        deadline = time.monotonic() + 60
        while True:
            p = attach(s, sid)
            code = p.wait(30)
            err = p.stderr_text()
            if code == 1 and "is attached to another host" in err and time.monotonic() < deadline:
                continue                             # the program still runs
            check(code in (5, 4), "round %d: an attach exited %d, expected 5 or 4; stderr %r"
                  % (round_number, code, err))
            if code == 4:
                test_wine.one_error_line(err, "an attach after the session's end")
            answered.append(code)
            break
        front.resume_reading()
        code = front.wait(30)
        check(code == 5, "round %d: the host exited %d, expected 5; stderr %r" % (round_number, code, front.stderr_text()))
    print("  the first attach after the exit: %r" % answered)
    check(5 in answered, "no attach was answered with the status: %r" % answered)


@test
def keep_attach_refuses_handles_that_loop_or_wedge(s):
    """Raw attaches that name an event as the host's stdout, or the
    client's own connection to the session's control pipe as its stdout or
    stdin (the session would read its program's output as requests):
    each refused with its reason, the detached session stays detached and
    its next host types and reads as before."""
    sid = s.new_id("loop")
    front = kept_shell(s, sid, "loop-" + sid)
    kill_host(s, sid, front)
    for mode, expected in (("own-pipe-out", "error the host's stdout is this session's own pseudo console or control pipe"),
                           ("own-pipe-in", "error the host's stdin is this session's own pseudo console or control pipe"),
                           ("event", "error the host's stdout is no pipe, file or console")):
        code, out, err, _ = s.tool("rawattach", [sid, mode])
        reply = out.decode("utf-8", "replace").strip()
        check(code == 0 and reply == expected, "%s: exit %d, reply %r, expected %r" % (mode, code, reply, expected))
        status, _ = status_json(s, sid)
        check(detached(status), "after the %s attach: %r" % (mode, status))
    host = attach(s, sid)
    host.send(b"set /a 6*7+5000\r")
    host.wait_text(b"5042", 30)
    host.send(b"exit 6\r")
    check(host.wait(30) == 6, "the host after the refusals: exit %r; stderr %r" % (host.proc.returncode, host.stderr_text()))


#: Rounds of keep_a_front_that_died_before_attaching_is_not_waited_for
#: that must be conclusive (the front killed with at least
#: DEAD_FRONT_MARGIN s of the 5 s first-host bound left), and the most it
#: may take.
DEAD_FRONT_ROUNDS = 3
DEAD_FRONT_MAX_ROUNDS = 8
DEAD_FRONT_MARGIN = 2.5
#: The server's end after its front's death: its teardown under Wine (the
#: console's close and the program's end), far under the 5 s bound.
DEAD_FRONT_END = 1.5


def dead_front_round(s, sid):
    """One round: the front is stopped (SIGSTOP) once its server runs, so
    that it cannot attach, and killed once the session answers `status`,
    not attached. Returns (seconds from the kill to the server's end,
    seconds of the 5 s bound left at the kill), or None when the front had
    attached first or the session could not be seen unattached."""
    s.kept.append(sid)
    front = s.session(sid, "cmd.exe /c exit 7", options=("--keep",))

    def server():
        return [pid for pid, line in s.prefix.processes().items() if "--keep-server" in line and sid in line]

    def fronts():
        # The front's Windows process: Wine's launcher (front.pid) may run it as a child of its own.
        return [pid for pid, line in s.prefix.processes().items()
                if "--keep-server" not in line and "new --keep " + sid in line]
    s.prefix.wait_for(server, 60, "the server of %s to start" % sid)
    seen = time.monotonic()
    stopped = fronts()
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    deadline = seen + 30
    while True:                                      # 4 until the control pipe is up
        code, out, err, _ = s.cli(["status", sid], 20)
        if code == 0:
            break
        check(code == 4 and time.monotonic() < deadline, "status while the server sets up: exit %d, stderr %r"
              % (code, err))
        if not server():
            return None                              # set up and gone before it answered: too late to tell
    if json.loads(out.decode("utf-8", "replace")).get("attached") is not False:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        return None
    killed = time.monotonic()
    for pid in stopped:
        os.kill(pid, signal.SIGKILL)
    front.kill()
    s.prefix.wait_for(lambda: not fronts(), 10, "the front of %s to end" % sid)
    s.prefix.wait_for(lambda: not server(), 30, "the server of %s to end" % sid)
    took = time.monotonic() - killed
    code, out, err, _ = s.cli(["status", sid], 20)
    check(code == 4, "status once the server has gone: exit %d, stdout %r, stderr %r" % (code, out, err))
    return took, seen + 5 - killed


@test
def keep_a_front_that_died_before_attaching_is_not_waited_for(s):
    """The server of `new --keep` waits at most 5 s for its first host (the
    front) to attach, but not for a front that died before it attached: a
    program that exits at once (7) whose front was killed before its
    attach leaves no session behind within DEAD_FRONT_END s of the kill."""
    measured, conclusive = [], 0
    for round_number in range(DEAD_FRONT_MAX_ROUNDS):
        got = dead_front_round(s, s.new_id("deadfront"))
        if got is None:
            measured.append("not seen unattached")
            continue
        took, left = got
        measured.append("%.2f s (%.2f s of the bound left)" % (took, left))
        if left < DEAD_FRONT_MARGIN:
            continue                                 # too late to tell: the bound was near anyway
        check(took < DEAD_FRONT_END, "round %d: the server ended %.2f s after its front's death, with %.2f s "
              "of the 5 s bound left: it waited for a dead front" % (round_number, took, left))
        conclusive += 1
        if conclusive == DEAD_FRONT_ROUNDS:
            break
    print("  the server's end after the front's death: %s" % "; ".join(measured))
    check(conclusive == DEAD_FRONT_ROUNDS, "only %d rounds killed the front with %.1f s of the bound left"
          % (conclusive, DEAD_FRONT_MARGIN))


def main():
    helper_dirs = (HERE, os.path.join(REPO, "Benchmarks", "windows"))
    return run_suite(__doc__, TESTS, EXE, helper_dirs, KeepSuite)


if __name__ == "__main__":
    sys.exit(main())
