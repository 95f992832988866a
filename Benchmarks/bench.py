#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark harness of ptyproxy.

    python3 Benchmarks/bench.py [--rounds N] [--ptyproxy PATH]
        Full run: builds ptyproxy in release mode (unless --ptyproxy is
        given), runs every workload for every contender, alternating the
        contenders, for N rounds, and writes Benchmarks/BENCHMARKS.md and
        Benchmarks/benchmarks.png.

    python3 Benchmarks/bench.py --only {keystroke,ctrlc-flush} [--rounds N] [--ptyproxy PATH]
        One workload alone, for ptyproxy, c-relay, script and a direct pty:
        keystroke prints its figures; ctrlc-flush (bytes reaching the host
        after ^C under a flood) also writes its own section of BENCHMARKS.md.

    python3 Benchmarks/bench.py --smoke [--ptyproxy PATH]
        Each workload once on a small input for every installed contender,
        checks that the results are sane, writes nothing, and ends with the
        line "N passed, N failed, N skipped" (exit status 1 on any failure).

Standard library only (Python >= 3.9).  Tools it needs are checked first and
named with the Debian package to install.  The methods are described in
the "Method" section of the generated BENCHMARKS.md (see METHOD below).
"""

import argparse
import datetime
import errno
import fcntl
import gc
import math
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

import report_sections

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MIB = 1 << 20
GIB = 1 << 30

# Workload sizes: (full, smoke)
THROUGHPUT_BYTES = (256 * MIB, 1 * MIB)
KEYSTROKES = (3000, 50)
KEY_BLOCK = 100               # full run: keystrokes per contender before the next one's turn
RESIZES = (1000, 20)          # full: spread over the rounds
CLI_RESIZES = (100, 3)        # full: spread over the rounds
STARTUPS_PER_ROUND = (20, 2)
CTRLC_PER_ROUND = (3, 1)
ALLOC_SIZES_MIB = (4, 68)     # allocation counting: small and large output
DEFAULT_ROUNDS = 3

# ptyproxy's targets (issue 5).
T_THROUGHPUT_RATIO = 1.00     # >= c-relay
T_CPU_RATIO = 1.10            # <= 1.1x c-relay
T_KEY_P50_DELTA_US = 5.0      # p50 within 5 us of c-relay
T_KEY_P99_US = 100.0
T_STARTUP_RATIO = 1.00        # <= socat
T_CTRLC_MS = 50.0
T_RESIZE_P99_MS = 2.0
T_RSS_MIB = 6.0
T_ALLOCS_PER_MIB = 0.1        # "0": fewer than one allocation per 10 MiB

# Signals Python ignores or handles that a spawned program must see at default.
SIGDEF = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
          signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM)


class Timeout(Exception):
    pass


class Watchdog:
    """Raise Timeout in the main thread after `secs` (SIGALRM), so that a
    blocking read/write/wait on a hung contender cannot hang the harness,
    without adding a syscall to the timed paths."""

    def __init__(self, secs, what):
        self.secs = secs
        self.what = what

    def _fire(self, signum, frame):
        raise Timeout("%s: no progress after %.0f s" % (self.what, self.secs))

    def __enter__(self):
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.secs)
        return self

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)
        return False


# ----------------------------------------------------------------------------
# Processes


class Launched:
    """A contender process started with posix_spawn: stdin and stdout are
    pipes held by the harness (as a host holds them), stderr goes to a file.
    With direct=True there is no relay: the command runs on a pty that the
    harness opens itself (session leader, the pty as controlling terminal)
    and the harness talks to the master."""

    def __init__(self, argv, env, errpath, direct=False):
        self.argv = argv
        self.errpath = errpath
        self.reaped = False
        self.code = None
        self.ru = None
        self.fds = []
        errfd = os.open(errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            if direct:
                master, slave = os.openpty()
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
                path = os.ttyname(slave)
                fa = [(os.POSIX_SPAWN_OPEN, 0, path, os.O_RDWR, 0),
                      (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)]
                self.t0 = time.perf_counter()
                self.pid = os.posix_spawnp(argv[0], argv, env, file_actions=fa, setsid=True,
                                           setsigdef=SIGDEF, setsigmask=())
                os.close(slave)
                self.in_w = self.out_r = master
                self.fds = [master]
            else:
                in_r, self.in_w = os.pipe()
                self.out_r, out_w = os.pipe()
                fa = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                      (os.POSIX_SPAWN_DUP2, errfd, 2)]
                try:
                    self.t0 = time.perf_counter()
                    self.pid = os.posix_spawnp(argv[0], argv, env, file_actions=fa,
                                               setsigdef=SIGDEF, setsigmask=())
                finally:
                    os.close(in_r)
                    os.close(out_w)
                self.fds = [self.in_w, self.out_r]
        finally:
            os.close(errfd)

    def wait(self):
        _, st, ru = os.wait4(self.pid, 0)
        self.t_exit = time.perf_counter()
        self.reaped = True
        self.code = os.waitstatus_to_exitcode(st)
        self.ru = ru
        return self.code

    def kill(self):
        if not self.reaped:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()

    def close_stdin(self):
        if self.in_w != self.out_r and self.in_w in self.fds:
            os.close(self.in_w)
            self.fds.remove(self.in_w)

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""


def read_mem(pid):
    """(VmHWM, RssAnon) of the process in KiB: its own peak RSS and its
    current anonymous RSS; (None, None) once it is gone."""
    hwm = anon = None
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith(b"RssAnon:"):
                    anon = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return hwm, anon


class Drain(threading.Thread):
    """Reads an fd until EOF (or EIO, for a pty master), counting bytes."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.count = 0
        self.t_eof = None
        self.error = None

    def run(self):
        buf = bytearray(MIB)
        try:
            while True:
                n = os.readv(self.fd, [buf])
                if n == 0:
                    break
                self.count += n
        except OSError as e:
            if e.errno != errno.EIO:
                self.error = e
        self.t_eof = time.perf_counter()


def child_pid(pid):
    """The (first) child of pid, or None."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        pass
    # Kernels without CONFIG_PROC_CHILDREN: scan /proc.
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    st = f.read()
                if int(st.rsplit(")", 1)[1].split()[1]) == pid:
                    return int(e)
            except (OSError, ValueError, IndexError):
                continue
    return None


class HwmPoller(threading.Thread):
    """Samples the peak RSS (VmHWM) of the relay: launcher_pid's child."""

    def __init__(self, launcher_pid, interval=0.01):
        super().__init__(daemon=True)
        self.launcher = launcher_pid
        self.pid = None
        self.interval = interval
        self.peak = 0
        self.anon = 0
        self.libs = None
        self.samples = 0
        self.stop = threading.Event()

    def sample(self):
        if self.pid is None:
            self.pid = child_pid(self.launcher)
        if self.pid is not None:
            self.samples += 1
            if self.libs is None and self.samples >= 5:
                try:
                    with open("/proc/%d/maps" % self.pid) as f:
                        self.libs = len({l.split()[-1] for l in f if ".so" in l.rsplit("/", 1)[-1]})
                except (OSError, IndexError):
                    pass
            hwm, anon = read_mem(self.pid)
            if hwm is not None and hwm > self.peak:
                self.peak = hwm
            if anon is not None and anon > self.anon:
                self.anon = anon

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def finish(self):
        self.stop.set()
        self.join()
        self.sample()
        return self.peak


# ----------------------------------------------------------------------------
# Contenders


SOCAT_UNSAFE = re.compile(r"[\s,:!'\"\\;]")


class Contender:
    """name: short name; wrap(cmd, opts) -> argv running cmd (a list) through
    the relay.  kind: 'relay', or 'floor' (no relay at all).
    status_ok(code, expected) says whether the relay's exit status is right."""

    def __init__(self, name, wrap, kind="relay", env=None, direct=False,
                 passes_status=True, invocation=""):
        self.name = name
        self.wrap = wrap
        self.kind = kind
        self.env = env
        self.direct = direct
        self.passes_status = passes_status
        self.invocation = invocation

    def status_ok(self, code, expected):
        if self.passes_status:
            return code == expected
        # socat: 0 when the child exited 0; otherwise 1 if it reaped the
        # child before it saw the pty's EOF, else 0 (with -t0 it often exits
        # first): it does not pass the status on.
        return code == 0 if expected == 0 else code in (0, 1)

    def expected_desc(self, expected):
        if self.passes_status:
            return str(expected)
        return "0" if expected == 0 else "0 or 1 (socat does not pass the status on)"


class Context:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.smoke = args.smoke
        self.counter = 0
        self.env = dict(os.environ)
        # script runs CMD with $SHELL -c; make that the same small shell everywhere.
        self.env["SHELL"] = "/bin/sh"
        for k in ("PTYPROXY_ID", "PTYPROXY_SOCKET"):
            self.env.pop(k, None)
        self.benchtool = None
        self.ptyproxy = None
        self.problems = []     # (workload, contender, message)

    def next_id(self):
        self.counter += 1
        return "bench-%d-%d" % (os.getpid(), self.counter)

    def path(self, name):
        self.counter += 1
        return os.path.join(self.tmp, "%s-%d" % (name, self.counter))


def make_contenders(ctx, have):
    cs = []
    pp = ctx.ptyproxy

    def pp_wrap(opts):
        def wrap(cmd, sid=None):
            return [pp, "new", *opts, "--", sid or ctx.next_id(), "80", "24", *cmd]
        return wrap

    if pp:
        c = Contender("ptyproxy", pp_wrap([]),
                      invocation="ptyproxy new -- ID 80 24 CMD...")
        c.pp_wrap = pp_wrap
        cs.append(c)
    if have.get("c-relay"):
        cs.append(Contender("c-relay", lambda cmd, sid=None: [have["c-relay"], *cmd],
                            invocation="c-relay CMD... (Benchmarks/c-relay.c, cc -O2 -lutil)"))
    if have.get("script"):
        cs.append(Contender("script", lambda cmd, sid=None: [
            have["script"], "-qfec", "exec " + shlex.join(cmd), "/dev/null"],
            invocation="SHELL=/bin/sh script -qfec \"exec CMD...\" /dev/null"))
    if have.get("socat"):
        def socat_wrap(cmd, sid=None):
            for w in cmd:
                if SOCAT_UNSAFE.search(w):
                    raise RuntimeError("socat EXEC cannot carry the argument %r" % w)
            return [have["socat"], "-t0", "-", "EXEC:%s,pty,setsid,ctty" % " ".join(cmd)]
        cs.append(Contender("socat", socat_wrap, passes_status=False,
                            invocation="socat -t0 - EXEC:'CMD...',pty,setsid,ctty"))
    cs.append(Contender("pty.spawn", lambda cmd, sid=None: [
        sys.executable, os.path.join(HERE, "pty_spawn.py"), *cmd],
        invocation="python3 Benchmarks/pty_spawn.py CMD... (pty.spawn)"))
    return cs


def seed_variants(ctx):
    """ptyproxy with one output-path option changed, for the seed's claims."""
    if not ctx.ptyproxy:
        return []
    base = ctx.contenders[0]
    out = []
    for opts in (["--output-buffers", "1"], ["--output-buffers", "2"],
                 ["--output-buffer-size", "8192"], ["--output-buffer-size", "131072"],
                 ["--stdout-pipe-size", "0"], ["--stdout-pipe-size", "131072"], ["--stdout-pipe-size", "1048576"]):
        out.append(Contender("ptyproxy " + " ".join(opts), base.pp_wrap(opts), kind="variant",
                             invocation="ptyproxy new %s -- ID 80 24 CMD..." % " ".join(opts)))
    return out


# ----------------------------------------------------------------------------
# Workloads.  Each returns a dict; "error" is set when the run was not sane.


def launch(ctx, c, cmd, sid=None, rusage_file=None):
    argv = cmd if c.kind == "floor" else c.wrap(cmd, sid)
    if rusage_file:
        argv = [ctx.benchtool, "rusage", rusage_file, *argv]
    return Launched(argv, ctx.env, ctx.path("stderr"), direct=c.direct)


def fail(rec, msg, p=None):
    if p is not None:
        err = p.stderr()
        if err:
            msg += " [stderr: %s]" % err[-300:].replace("\n", " | ")
    rec["error"] = msg
    return rec


def run_throughput(ctx, c, nbytes, timeout):
    """CMD = benchtool gen NBYTES (text lines); the harness reads the relay's
    stdout pipe to EOF.  With the pty's default onlcr every '\\n' arrives as
    '\\r\\n', so the relay delivers nbytes*65/64 bytes."""
    rufile = ctx.path("gen-rusage")
    relayru = ctx.path("relay-rusage")
    expected = nbytes * 65 // 64
    rec = {"bytes_expected": expected}
    p = launch(ctx, c, [ctx.benchtool, "gen", str(nbytes), rufile], rusage_file=relayru)
    poll = HwmPoller(p.pid)
    poll.start()
    buf = bytearray(MIB)
    total = 0
    try:
        with Watchdog(timeout, "throughput/" + c.name):
            fd = p.out_r
            while True:
                n = os.readv(fd, [buf])
                if n == 0:
                    break
                total += n
            t_eof = time.perf_counter()
            hwm = poll.finish()
            code = p.wait()
    except Timeout as e:
        poll.finish()
        p.kill()
        p.close()
        return fail(rec, str(e), p)
    p.close()
    rec["bytes"] = total
    rec["seconds"] = t_eof - p.t0
    rec["mbps"] = total / rec["seconds"] / 1e6
    rec["code"] = code
    if total != expected:
        return fail(rec, "counted %d bytes, expected %d (exit status %s)" % (total, expected, code), p)
    if not c.status_ok(code, 0):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(0)), p)
    try:
        with open(rufile) as f:
            gu, gs, grss = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return fail(rec, "the workload did not report its rusage (exit %s)" % code, p)
    try:
        with open(relayru) as f:
            ru, rs, rrss, ou, os_ = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return fail(rec, "benchtool rusage did not report (exit %s)" % code, p)
    # The relay plus the children it reaped, plus any it left unreaped.
    relay_cpu = (ru + rs + ou + os_) / 1e6
    rec["orphan_cpu"] = (ou + os_) / 1e6
    gen_cpu = (gu + gs) / 1e6
    rec["tree_cpu"] = relay_cpu
    rec["gen_cpu"] = gen_cpu
    rec["cpu"] = relay_cpu - gen_cpu
    rec["cpu_per_gib"] = rec["cpu"] / (total / GIB) if total else float("nan")
    # Peak RSS of the relay itself: VmHWM sampled every 10 ms, and the
    # exact ru_maxrss of wait4 when it exceeds the workload's own (wait4
    # reports the max over the relay, the children it reaped, and the image
    # it replaced at exec: a fork of the small `benchtool rusage`).
    rec["rss_kib"] = max(hwm, rrss if rrss > grss else 0)
    rec["rss_hwm_kib"], rec["rss_ru_kib"], rec["gen_rss_kib"] = hwm, rrss, grss
    rec["anon_kib"] = poll.anon
    rec["libs"] = poll.libs
    if rec["cpu"] < -0.01:
        return fail(rec, "relay tree CPU %.3f s < workload CPU %.3f s" % (relay_cpu, gen_cpu), p)
    return rec


def read_until(fd, marker, acc=b""):
    while marker not in acc:
        b = os.read(fd, 4096)
        if not b:
            raise EOFError("EOF before %r (got %r)" % (marker, acc[-80:]))
        acc += b
    return acc


class KeySession:
    """CMD = benchtool rawecho (raw mode, no echo, then a cat-like copy).  One
    byte is written to the relay's stdin and read back from its stdout, one
    at a time.  A full run keeps one session per contender open and takes
    the keystrokes in blocks, contender after contender, so that load from
    elsewhere on the machine falls on all of them alike."""

    def __init__(self, ctx, c, timeout=60):
        self.c = c
        self.rec = {"samples_ns": []}
        self.bad = 0
        self.timeout = timeout
        self.p = launch(ctx, c, [ctx.benchtool, "rawecho"])
        self._guard(lambda: read_until(self.p.out_r, b"READY"))

    def _guard(self, fn):
        if "error" in self.rec:
            return
        try:
            with Watchdog(self.timeout, "keystroke/" + self.c.name):
                fn()
        except (Timeout, EOFError, OSError) as e:
            self.p.kill()
            self.p.close()
            fail(self.rec, "%s" % e, self.p)

    def block(self, n):
        def run():
            w, r, one = self.p.in_w, self.p.out_r, b"a"
            samples = self.rec["samples_ns"]
            clock = time.perf_counter_ns
            gc.disable()
            try:
                for _ in range(n):
                    t = clock()
                    os.write(w, one)
                    got = os.read(r, 64)
                    samples.append(clock() - t)
                    if got != one:
                        self.bad += 1
                        if not got:
                            raise EOFError("EOF in the middle of the keystrokes")
            finally:
                gc.enable()
        self._guard(run)

    def finish(self):
        out = {}

        def run():
            os.write(self.p.in_w, b"\x04")
            rest = b""
            try:
                while True:
                    b = os.read(self.p.out_r, 4096)
                    if not b:
                        break
                    rest += b
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
            out["rest"] = rest
            out["code"] = self.p.wait()
        self._guard(run)
        rec, p, c = self.rec, self.p, self.c
        if "error" in rec:
            return rec
        p.close()
        rec["code"] = code = out["code"]
        if self.bad:
            return fail(rec, "%d of %d echoes were not the byte sent" % (self.bad, len(rec["samples_ns"])), p)
        if out["rest"].strip(b"\r\n"):
            return fail(rec, "unexpected output after the keystrokes: %r" % out["rest"][:80], p)
        if not c.status_ok(code, 0):
            return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(0)), p)
        return rec


def run_keystroke(ctx, c, n, timeout=60):
    k = KeySession(ctx, c, timeout)
    k.block(n)
    return k.finish()


def run_ctrlc(ctx, c, timeout=30):
    """CMD = yes.  While the harness drains the flood, it writes 0x03 to the
    relay's stdin and times until the relay has exited (wait4 returned)."""
    rec = {}
    p = launch(ctx, c, ["yes"])
    d = Drain(p.out_r)
    d.start()
    try:
        with Watchdog(timeout, "ctrl-c/" + c.name):
            deadline = time.monotonic() + 10
            while d.count < 256 * 1024 and d.t_eof is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if d.count < 256 * 1024:
                raise Timeout("the flood did not start (%d bytes)" % d.count)
            time.sleep(0.05)
            t0 = time.perf_counter()
            os.write(p.in_w, b"\x03")
            code = p.wait()
            t1 = time.perf_counter()
            if c.kind == "floor":
                os.close(p.out_r)  # nothing else holds the master
                p.fds = []
            d.join(10)
    except (Timeout, OSError) as e:
        p.kill()
        d.join(5)
        p.close()
        return fail(rec, str(e), p)
    alive = d.is_alive()
    p.close()
    rec["ms"] = (t1 - t0) * 1e3
    rec["flood_bytes"] = d.count
    rec["code"] = code
    want = 130 if c.kind != "floor" else -signal.SIGINT
    if c.kind == "floor":
        if code != want:
            return fail(rec, "yes exited %s, expected killed by SIGINT" % code, p)
    elif not c.status_ok(code, want):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(want)), p)
    if alive:
        return fail(rec, "stdout still open 10 s after the relay exited (fd leaked to a child?)", p)
    return rec


FLUSH_SCRIPT = "trap 'echo TRAPPED' INT; echo READY; read go; yes; echo AFTER"
FLUSH_STALL_S = 0.3           # the host stops reading while yes floods
FLUSH_REACT_S = 0.05          # after ^C, before the host reads again


def queued_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def run_ctrlc_flush(ctx, c, timeout=30):
    """CMD = bash running yes, with a trap on SIGINT that prints TRAPPED.
    The host stops reading for FLUSH_STALL_S while yes floods, notes what its
    pipe holds (FIONREAD), writes 0x03, waits FLUSH_REACT_S (any relay may
    pass the ^C on meanwhile) and reads everything.  The figure: the bytes
    before TRAPPED beyond what the host's pipe held at ^C, i.e. what the
    relay and the pty let through after ^C.  On a terminal the kernel flushes
    its output queue (ISIG, NOFLSH clear); the floor is a pty the harness
    reads directly, its pipe being the master's own queue."""
    rec = {}
    p = launch(ctx, c, ["bash", "-c", FLUSH_SCRIPT])
    try:
        with Watchdog(timeout, "ctrlc-flush/" + c.name):
            read_until(p.out_r, b"READY")
            os.write(p.in_w, b"go\n")
            time.sleep(FLUSH_STALL_S)
            queued = queued_bytes(p.out_r)
            os.write(p.in_w, b"\x03")
            time.sleep(FLUSH_REACT_S)
            after = read_until(p.out_r, b"AFTER")
            code = p.wait()
    except (Timeout, EOFError, OSError) as e:
        p.kill()
        p.close()
        return fail(rec, str(e), p)
    p.close()
    trapped = after.find(b"TRAPPED")
    if trapped < 0:
        return fail(rec, "no TRAPPED line after ^C", p)
    rec["queued"] = queued
    rec["after"] = trapped
    rec["beyond"] = trapped - queued
    if c.kind != "floor" and not c.status_ok(code, 0):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(0)), p)
    return rec


def ctrlc_flush_section(ctx, runs):
    """The ctrlc-flush section of BENCHMARKS.md: medians and ranges per contender."""
    rows = []
    for name, recs in runs.items():
        ok = [r for r in recs if "error" not in r]
        if not ok:
            rows.append([name, "failed: %s" % recs[0].get("error", "?"), "", ""])
            continue
        beyond = sorted(r["beyond"] for r in ok)
        queued = sorted(r["queued"] for r in ok)
        rows.append([name, "%d" % med(beyond), "%d-%d" % (beyond[0], beyond[-1]),
                     "%d (of %d runs)" % (med(queued), len(ok))])
    text = ["## ^C flushes held output", "",
            "CMD = `bash -c` running `yes` under `trap 'echo TRAPPED' INT`. The host stops reading "
            "for %d ms while `yes` floods, notes what its stdout pipe holds (FIONREAD), writes ^C, "
            "waits %d ms and reads everything. The figure: bytes of `yes` output that reach it after "
            "^C beyond what its pipe already held. On ^C the kernel flushes the pty's own queue "
            "(ISIG set, NOFLSH clear); what a relay holds comes through unless it drops it too. "
            "The floor is a pty the harness reads directly (its \"pipe\" is the master's queue). "
            "Written by `python3 Benchmarks/bench.py --only ctrlc-flush --rounds %d`." %
            (FLUSH_STALL_S * 1000, FLUSH_REACT_S * 1000, ctx.args.rounds),
            "",
            md_table(["relay", "bytes beyond the pipe, median", "range", "in the pipe at ^C, median"], rows)]
    return "\n".join(text)


def run_to_exit(ctx, c, cmd, expected, label, timeout=30):
    """Runs CMD through the relay to its exit: the wall time from posix_spawn
    to wait4 returning, and whether the relay's status is `expected`."""
    rec = {}
    p = launch(ctx, c, cmd)
    try:
        with Watchdog(timeout, label + "/" + c.name):
            code = p.wait()
    except Timeout as e:
        p.kill()
        p.close()
        return fail(rec, str(e), p)
    p.close()
    rec["ms"] = (p.t_exit - p.t0) * 1e3
    rec["code"] = code
    if not c.status_ok(code, expected):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(expected)), p)
    return rec


def run_startup(ctx, c, timeout=30):
    """CMD = true: wall time from posix_spawn to wait4 returning."""
    return run_to_exit(ctx, c, ["true"], 0, "start-up", timeout)


def run_false(ctx, c, timeout=30):
    """CMD = false: the relay must exit 1 (smoke only)."""
    return run_to_exit(ctx, c, ["false"], 1, "exit-status", timeout)


def socket_path_rule(sid):
    """The control socket path the interface promises (docs/INTERFACE.md)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        d = os.path.join(xdg, "ptyproxy")
    else:
        d = os.path.join(os.environ.get("TMPDIR") or "/tmp", "ptyproxy-%d" % os.getuid())
    return os.path.join(d, sid + ".sock")


class LineReader:
    """Lines from the FIFO the child writes; gives up if `pid` has exited."""

    def __init__(self, fd, pid):
        self.fd = fd
        self.pid = pid
        self.acc = b""
        self.poll = select.poll()
        self.poll.register(fd, select.POLLIN)

    def readline(self):
        while b"\n" not in self.acc:
            if not self.poll.poll(250):
                # Still running?  (WNOWAIT: leave the status for wait4.)
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    raise EOFError("the relay exited while the harness waited for the child's line")
                continue
            b = os.read(self.fd, 4096)
            if not b:
                raise EOFError("EOF on the FIFO")
            self.acc += b
        line, self.acc = self.acc.split(b"\n", 1)
        return line.decode()


def run_resize(ctx, c, n, cli_n, timeout=60):
    """CMD = benchtool winch FIFO: prints the size it reads with TIOCGWINSZ
    on every SIGWINCH to a FIFO of the harness.  Timed: connect to the
    control socket, send "resize C R", read the reply, until the child's line
    "C R" has arrived.  Each request changes the size.  Then cli_n times the
    same through `ptyproxy resize ID C R` (a process per request)."""
    rec = {}
    fifo = ctx.path("winch.fifo")
    os.mkfifo(fifo, 0o600)
    ffd = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)  # never EOF, never blocks open
    sid = ctx.next_id()
    p = launch(ctx, c, [ctx.benchtool, "winch", fifo], sid=sid)
    d = Drain(p.out_r)
    d.start()
    lines = LineReader(ffd, p.pid)
    sock_samples, cli_samples = [], []
    try:
        with Watchdog(timeout, "resize/" + c.name):
            first = lines.readline()
            ready = lines.readline()
            sockpath = first.split(" ", 1)[1] if first.startswith("SOCKET ") else ""
            rec["socket"] = sockpath
            if ready != "READY 80 24":
                raise EOFError("child saw %r at start, expected 'READY 80 24'" % ready)
            want_path = socket_path_rule(sid)
            if sockpath != want_path:
                ctx.problems.append(("resize", c.name, "PTYPROXY_SOCKET is %r, INTERFACE.md says %r"
                                     % (sockpath, want_path)))
            clock = time.perf_counter_ns
            bad = []
            gc.disable()
            try:
                for i in range(n + cli_n):
                    cols, rows = 81 + i % 2, 25 + i % 2
                    if i < n:
                        t = clock()
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.connect(sockpath)
                        s.sendall(b"resize %d %d\n" % (cols, rows))
                        reply = b""
                        while not reply.endswith(b"\n"):
                            b = s.recv(256)
                            if not b:
                                break
                            reply += b
                        s.close()
                        seen = lines.readline()
                        sock_samples.append(clock() - t)
                        want_reply = "ok %d %d" % (cols, rows)
                        if reply.decode().strip() != want_reply:
                            bad.append("reply %r, expected %r" % (reply, want_reply))
                    else:
                        t = clock()
                        q = Launched([ctx.ptyproxy, "resize", sid, str(cols), str(rows)],
                                     ctx.env, ctx.path("stderr"))
                        code = q.wait()
                        q.close()
                        seen = lines.readline()
                        cli_samples.append(clock() - t)
                        if code != 0:
                            bad.append("ptyproxy resize exited %s: %s" % (code, q.stderr()))
                    if seen != "%d %d" % (cols, rows):
                        bad.append("child saw %r, expected '%d %d'" % (seen, cols, rows))
            finally:
                gc.enable()
            os.write(p.in_w, b"q\n")
            code = p.wait()
            d.join(10)
    except (Timeout, EOFError, OSError, IndexError) as e:
        p.kill()
        d.join(5)
        p.close()
        os.close(ffd)
        return fail(rec, "%s: %s" % (type(e).__name__, e), p)
    p.close()
    os.close(ffd)
    rec["sock_ns"] = sock_samples
    rec["cli_ns"] = cli_samples
    rec["code"] = code
    if bad:
        return fail(rec, "%d bad resizes, first: %s" % (len(bad), bad[0]), p)
    if code != 0:
        return fail(rec, "exit status %s, expected 0" % code, p)
    if sockpath and os.path.exists(sockpath):
        return fail(rec, "control socket %s still exists after exit" % sockpath, p)
    return rec


def run_allocs(ctx, c, mib, timeout=120):
    """The throughput workload for `mib` MiB with the relay's heap
    allocations counted by alloccount.so (LD_PRELOAD, the relay process
    only): returns its "allocs frees bytes" at exit."""
    rec = {"mib": mib}
    out = ctx.path("allocs")
    pre = ["env", "LD_PRELOAD=" + ctx.alloccount, "ALLOCCOUNT_OUT=" + out]
    counted = Contender(c.name, lambda cmd, sid=None: pre + c.wrap(cmd, sid),
                        passes_status=c.passes_status)
    r = run_throughput(ctx, counted, mib * MIB, timeout)
    if "error" in r:
        return fail(rec, r["error"])
    try:
        with open(out) as f:
            rec["allocs"], rec["frees"], rec["bytes"] = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return fail(rec, "alloccount.so wrote no counts (did the relay exit through exit()/_exit()?)")
    return rec


# ----------------------------------------------------------------------------
# Statistics


def pct(sorted_vals, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[k]


def med(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(vals) if vals else float("nan")


def ok_runs(runs):
    return [r for r in runs if "error" not in r]


def per_round(results, wl, name, key):
    """Per round: the median of `key` over that round's sane runs (None if none)."""
    out = []
    for rnd in results[wl].get(name, []):
        vals = [r[key] for r in rnd if "error" not in r]
        out.append(statistics.median(vals) if vals else None)
    return out


def paired(a, b, op):
    """Median over rounds of op(a_round, b_round), skipping incomplete rounds;
    returns (median, min, max) or NaNs."""
    vals = [op(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if not vals:
        return (float("nan"),) * 3
    return statistics.median(vals), min(vals), max(vals)


def fmt(v, spec="%.1f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return spec % v


# ----------------------------------------------------------------------------
# Tools, build, machine


def find_tools(full, want_build):
    """Returns (tools, missing) where missing lists (tool, why, how to install)."""
    tools, missing = {}, []

    def need(name, why, pkg, required):
        path = shutil.which(name)
        if path:
            tools[name] = path
        elif required:
            missing.append((name, why, pkg))

    need("cc", "compiles c-relay.c and benchtool.c", "apt-get install gcc libc6-dev", True)
    need("script", "contender (util-linux script)", "apt-get install bsdutils", full)
    need("socat", "contender", "apt-get install socat", full)
    need("yes", "^C workload", "apt-get install coreutils", True)
    need("true", "start-up workload", "apt-get install coreutils", True)
    need("false", "exit status check", "apt-get install coreutils", True)
    if full:
        need("gnuplot", "the PNG chart", "apt-get install gnuplot-nox", True)
    if want_build:
        need("swift", "builds ptyproxy", "install the Swift toolchain (see the project README)", True)
    if full and "gnuplot" in tools:
        try:
            terms = subprocess.run([tools["gnuplot"], "-e", "set terminal"], capture_output=True,
                                   text=True, timeout=30)
            text = terms.stdout + terms.stderr
            tools["gnuplot_term"] = ("pngcairo" if re.search(r"^\s*pngcairo\s", text, re.M) else
                                     "png" if re.search(r"^\s*png\s", text, re.M) else None)
            if not tools["gnuplot_term"]:
                missing.append(("gnuplot png terminal", "the PNG chart",
                                "apt-get install gnuplot-nox (a build with pngcairo or png)"))
        except (OSError, subprocess.SubprocessError) as e:
            missing.append(("gnuplot", "the PNG chart (%s)" % e, "apt-get install gnuplot-nox"))
    return tools, missing


def compile_helpers(ctx):
    cc = ctx.tools["cc"]
    out = {}
    for src, exe, flags in (("benchtool.c", "benchtool", []), ("c-relay.c", "c-relay", ["-lutil"]),
                            ("alloccount.c", "alloccount.so", ["-shared", "-fPIC"])):
        dst = os.path.join(ctx.tmp, exe)
        cmd = [cc, "-O2", "-o", dst, os.path.join(HERE, src), *flags]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("bench: %s failed:\n%s\n(install: apt-get install gcc libc6-dev)"
                             % (shlex.join(cmd), r.stderr))
        out[exe] = dst
    return out


def build_ptyproxy(static=True):
    """static: the build the README ships, a fully static executable (no
    dynamic loader, no shared Swift runtime or libc to map and relocate at
    start). Not static: the same code linked dynamically, which is the only
    kind LD_PRELOAD (alloccount.so) can look into."""
    scratch = os.path.join(REPO, ".build-bench" if static else ".build-bench-dynamic")
    cmd = ["swift", "build", "-c", "release", "--scratch-path", scratch]
    if static:
        cmd[4:4] = ["-Xswiftc", "-static-executable"]
    print("bench: building ptyproxy: %s" % shlex.join(cmd), flush=True)
    t = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: the release build failed (exit %d):\n%s" % (
            r.returncode, (r.stdout + r.stderr)[-4000:]))
    print("bench: built in %.0f s" % (time.monotonic() - t), flush=True)
    exe = os.path.join(scratch, "release", "ptyproxy")
    if not os.access(exe, os.X_OK):
        raise SystemExit("bench: build succeeded but %s is missing" % exe)
    return exe


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        return lines[0].strip() if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info(ctx):
    info = {}
    info["nproc"] = len(os.sched_getaffinity(0))
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = model
    u = os.uname()
    info["kernel"] = "%s %s %s" % (u.sysname, u.release, u.machine)
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["mem"] = "%.1f GiB" % (kb / MIB)
    except (OSError, ValueError, IndexError):
        info["mem"] = "?"
    info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    v = {}
    if ctx.ptyproxy:
        v["ptyproxy"] = first_line([ctx.ptyproxy, "--version"])
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        v["ptyproxy"] += " (commit %s)" % (rev.stdout.strip() if rev.returncode == 0 else "none yet")
    if shutil.which("swift"):
        v["swift"] = first_line(["swift", "--version"])
    v["cc"] = first_line([ctx.tools["cc"], "--version"])
    if "script" in ctx.tools:
        v["script"] = first_line([ctx.tools["script"], "--version"])
    if "socat" in ctx.tools:
        r = subprocess.run([ctx.tools["socat"], "-V"], capture_output=True, text=True)
        m = re.search(r"socat version (\S+)", r.stdout)
        v["socat"] = "socat " + (m.group(1) if m else "?")
    v["python"] = "Python %s" % platform.python_version()
    info["versions"] = v
    return info


# ----------------------------------------------------------------------------
# Smoke mode


def smoke(ctx):
    passed = failed = skipped = 0

    def report(name, rec, detail=""):
        nonlocal passed, failed
        if "error" in rec:
            failed += 1
            print("FAIL %s: %s" % (name, rec["error"]), flush=True)
        else:
            passed += 1
            print("PASS %s%s" % (name, (": " + detail) if detail else ""), flush=True)

    def skip(name, why):
        nonlocal skipped
        skipped += 1
        print("SKIP %s: %s" % (name, why), flush=True)

    for name, why in ctx.skipped_contenders:
        skip(name, why)
    nbytes = THROUGHPUT_BYTES[1]
    for c in ctx.contenders:
        r = run_throughput(ctx, c, nbytes, 30)
        report("throughput/" + c.name, r, "%d bytes, %s MB/s, relay CPU %s s/GiB, RSS %s KiB" % (
            r.get("bytes", 0), fmt(r.get("mbps")), fmt(r.get("cpu_per_gib"), "%.2f"),
            r.get("rss_kib", "?")))
    for c in ctx.variants:
        r = run_throughput(ctx, c, nbytes, 30)
        report("throughput/" + c.name, r, "%d bytes, %s MB/s" % (r.get("bytes", 0), fmt(r.get("mbps"))))
    for c in ctx.contenders + [ctx.floor_pty]:
        r = run_keystroke(ctx, c, KEYSTROKES[1], 30)
        s = sorted(r.get("samples_ns", []))
        report("keystroke/" + c.name, r, "%d round trips, p50 %s us" % (len(s), fmt(pct(s, .5) / 1e3)))
    for c in ctx.contenders + [ctx.floor_pty]:
        r = run_ctrlc(ctx, c, 30)
        report("ctrl-c/" + c.name, r, "exit %s after %s ms" % (r.get("code"), fmt(r.get("ms"))))
    for c in [c for c in ctx.contenders if c.name == "ptyproxy"] + [ctx.floor_pty]:
        r = run_ctrlc_flush(ctx, c, 30)
        report("ctrlc-flush/" + c.name, r, "%s bytes beyond the pipe after ^C" % r.get("beyond"))
    for c in ctx.contenders + [ctx.floor_spawn]:
        r = run_startup(ctx, c, 30)
        report("start-up/" + c.name, r, "%s ms" % fmt(r.get("ms")))
    for c in ctx.contenders:
        r = run_false(ctx, c, 30)
        report("exit-status/" + c.name, r, "false -> %s" % r.get("code"))
    if ctx.ptyproxy:
        r = run_resize(ctx, ctx.contenders[0], RESIZES[1], CLI_RESIZES[1], 30)
        s = sorted(r.get("sock_ns", []))
        report("resize/ptyproxy", r, "%d resizes, p50 %s us" % (len(s), fmt(pct(s, .5) / 1e3)))
        r = run_allocs(ctx, ctx.contenders[0], 1, 30)
        if "error" not in r and r["allocs"] <= 0:
            fail(r, "alloccount.so counted no allocation in ptyproxy")
        report("allocs/ptyproxy", r, "%s allocations in a 1 MiB run" % r.get("allocs"))
    else:
        skip("resize/ptyproxy", "no ptyproxy")
    for wl, c, msg in ctx.problems:
        failed += 1
        print("FAIL %s/%s: %s" % (wl, c, msg))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


# ----------------------------------------------------------------------------
# Full run


def full_run(ctx):
    rounds = ctx.args.rounds
    nbytes = ctx.args.bytes
    results = {w: {} for w in ("throughput", "keystroke", "ctrlc", "startup", "resize")}
    cs = ctx.contenders
    tp = cs + ctx.variants
    ks = cs + [ctx.floor_pty] + [v for v in ctx.variants if "output-buffers" in v.name]
    cc = cs + [ctx.floor_pty]
    st = cs + [ctx.floor_spawn]
    n_keys = KEYSTROKES[0]
    n_res = math.ceil(RESIZES[0] / rounds)
    n_cli = math.ceil(CLI_RESIZES[0] / rounds)
    t_start = time.monotonic()

    def add(wl, c, rec):
        results[wl].setdefault(c.name, [[] for _ in range(rounds)])[rnd].append(rec)
        if "error" in rec:
            print("  ! %s/%s: %s" % (wl, c.name, rec["error"]), flush=True)

    def rot(lst):
        k = rnd % len(lst)
        return lst[k:] + lst[:k]

    def progress(what):
        print("bench: round %d/%d %-10s %5.0f s" % (rnd + 1, rounds, what, time.monotonic() - t_start),
              flush=True)

    for rnd in range(rounds):
        progress("throughput")
        for c in rot(tp):
            add("throughput", c, run_throughput(ctx, c, nbytes, max(120, nbytes / 5e6)))
        progress("keystroke")
        sessions = [KeySession(ctx, c) for c in rot(ks)]
        for _ in range(n_keys // KEY_BLOCK):
            for k in sessions:
                k.block(KEY_BLOCK)
        for k in sessions:
            add("keystroke", k.c, k.finish())
        progress("ctrl-c")
        for _ in range(CTRLC_PER_ROUND[0]):
            for c in rot(cc):
                add("ctrlc", c, run_ctrlc(ctx, c))
        progress("start-up")
        for k in range(STARTUPS_PER_ROUND[0]):
            order = rot(st)
            for c in order[k % len(order):] + order[:k % len(order)]:
                add("startup", c, run_startup(ctx, c))
        if ctx.ptyproxy:
            progress("resize")
            add("resize", cs[0], run_resize(ctx, cs[0], n_res, n_cli, 120))
    allocs = {}
    print("bench: heap allocations    %5.0f s" % (time.monotonic() - t_start), flush=True)
    for c in cs:
        if c.name == "ptyproxy" and ctx.ptyproxy_dynamic:
            # LD_PRELOAD cannot reach into the static executable: count the
            # same code in its dynamically linked build.
            dynamic = ctx.ptyproxy_dynamic
            c = Contender(c.name, lambda cmd, sid=None: [dynamic, "new", "--", sid or ctx.next_id(), "80", "24", *cmd])
        allocs[c.name] = [run_allocs(ctx, c, m) for m in ALLOC_SIZES_MIB]
        for r in allocs[c.name]:
            if "error" in r:
                print("  ! allocs/%s: %s" % (c.name, r["error"]), flush=True)
    print("bench: done in %.0f s" % (time.monotonic() - t_start), flush=True)
    return results, allocs


# ----------------------------------------------------------------------------
# Report


METHOD = """\
## Method

Every workload runs for every contender in the same run; within a round the
contenders take turns in an order rotated from round to round, and ratios
are taken between the two contenders *of the same round* and then the median
over the rounds is reported (with the smallest and largest round in
brackets): on a noisy 2-core machine only side-by-side ratios mean much.

The harness is `Benchmarks/bench.py` (Python standard library only). The
workloads that run *inside* the pty are tiny C programs from
`Benchmarks/benchtool.c`; the C relay is `Benchmarks/c-relay.c`; both are
compiled by the harness with `cc -O2`. Every contender is started with
`posix_spawn`, its stdin and stdout pipes held by the harness the way a host
(Emacs) holds them: stdin stays open for the whole run.

Contenders, as invoked (CMD is passed as an argv, never through a shell,
except where the contender itself requires a command string):

{invocations}

Notes on comparability:
- `script` always runs CMD through `$SHELL -c`; the harness sets
  `SHELL=/bin/sh` and prefixes `exec`, so the shell replaces itself with CMD.
  It also writes a typescript, here to `/dev/null`, with `-f` (flush).
- `socat` runs with `-t0`: by default it lingers 0.5 s after the child's
  side reaches EOF while stdin is still open (as a host's stdin is), which
  would dominate the start-up and ^C figures. `-t0` loses no output (the pty
  has already returned EOF). No `raw`/`rawer`/`echo=0`: they would change the
  pty's line discipline, and every contender here keeps the kernel's (or, for
  ptyproxy, a `stty sane`) termios, with `onlcr`: each `\\n` of the text
  arrives as `\\r\\n`. socat does not pass on the child's exit status (0 when
  it exited 0, else 1). socat reads with its default 8 KiB buffer (`-b`).
- `pty.spawn` is CPython's `pty.spawn` (select loop, 1024-byte master reads).
- `c-relay` is the floor: forkpty, one poll loop on stdin and the master,
  one 128 KiB buffer, blocking writes, exit with the child's status after
  the master returned EIO.

Workloads:
- **Throughput**: CMD = `benchtool gen {nbytes}` writes {nmib} MiB of text lines
  (63 characters + `\\n`) into the pty; the harness reads the relay's stdout
  pipe (default pipe size 64 KiB, 1 MiB reads) to EOF and counts the bytes
  ({nout} with `\\r\\n`). MB/s = bytes delivered / (spawn .. EOF), 1 MB = 10^6 B.
- **Relay CPU per GiB**: the relay is started through `benchtool rusage`
  (fork, exec, `wait4`, report; see Peak RSS). `wait4()` on the relay returns the user+sys time of
  the relay *and of every child it reaped*, i.e. of the workload too. The
  workload (`benchtool gen`) writes its own `getrusage(RUSAGE_SELF)` just
  before it exits (that includes the time its process spent before `exec`,
  in the relay's forked child or in script's shell), and the harness subtracts it:
  relay CPU = tree CPU - workload CPU, per GiB delivered. This counts every
  process of the relay (script and socat fork; their parent is the relay, the
  forked child becomes the workload). `benchtool rusage` is a child
  subreaper: a descendant the relay leaves unreaped (socat `-t0` may exit
  before it reaped its child) is reaped there and its CPU added to the tree. Not visible to anyone: the kernel's pty
  flip-buffer work, which runs in a kworker thread.
- **Peak RSS**: the larger of the relay process's own `VmHWM` from
  `/proc/PID/status`, sampled every 10 ms during the throughput run, and
  `ru_maxrss` from `wait4` when that exceeds the workload's own (wait4
  reports the maximum over the relay, its reaped children, and the image
  the relay replaced at exec; so the relay is forked by the small
  `benchtool rusage`: posix_spawn'ed from Python, the harness's ~20 MB would
  land there).
- **Keystroke round trip**: CMD = `benchtool rawecho` (sets the pty raw,
  no echo, like `stty raw -echo`, then copies stdin to stdout like `cat`).
  The harness writes one byte to the relay's stdin and blocks reading it back
  from the relay's stdout, {nkeys} times per round, one at a time
  (`time.perf_counter_ns`, GC off). All contenders' sessions are open at
  once and take turns in blocks of {kblock} keystrokes. The floor "direct pty" is the same with
  no relay: the harness opens the pty (`os.openpty`), runs `benchtool
  rawecho` on it, and writes/reads the master itself.
- **^C under flood**: CMD = `yes`; the harness drains the relay's stdout in
  a thread, and once the flood runs writes 0x03 to the relay's stdin and
  times until `wait4` on the relay returned (expected exit 130).
  {nctrlc} times per round. Floor: the same on a pty the harness owns.
- **Start-up**: CMD = `true`; time from `posix_spawn` of the relay to `wait4`
  returning; {nstart} times per round. Floor: `true` spawned with no relay.
- **Resize** (ptyproxy): CMD = `benchtool winch FIFO`, which on every SIGWINCH
  writes the size it reads with `TIOCGWINSZ` to a FIFO of the harness. Timed
  from connecting to the control socket (a new connection per request, as
  `ptyproxy resize` makes), sending `resize C R`, reading `ok C R`, until
  the child's line `C R` was read from the FIFO. Every request changes the
  size. The same through the `ptyproxy resize ID C R` command (a process per
  request) is shown beside it.
- **Heap allocations per MiB**: the throughput workload for {asmall} MiB and
  {alarge} MiB with `Benchmarks/alloccount.c` preloaded into the relay
  process (not its child): it counts malloc/calloc/realloc/aligned
  allocations and writes the totals at exit; allocations per MiB =
  (allocs(large) - allocs(small)) / {adiff} MiB: the steady state, start-up
  and teardown cancel out. (valgrind 3.19, Debian 12's, cannot read a Swift
  binary's DWARF 5 and does not know pidfd_open.)
- **Seed claims**: the throughput workload with one ptyproxy option changed,
  in the same rounds as the contenders.
"""


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(out)


def analyse(ctx, results, allocs):
    """Computes every figure; returns a dict used by the markdown and the chart."""
    A = {}
    names = [c.name for c in ctx.contenders]
    # Throughput and CPU
    tp = {}
    for name in list(results["throughput"]):
        runs = [r for rnd in results["throughput"][name] for r in rnd]
        good = ok_runs(runs)
        tp[name] = {
            "n": len(good), "failed": len(runs) - len(good),
            "mbps": med([r["mbps"] for r in good]),
            "cpu_per_gib": med([r["cpu_per_gib"] for r in good]),
            "rss_kib": med([r["rss_kib"] for r in good]),
            "rss_max_kib": max([r["rss_kib"] for r in good], default=float("nan")),
            "anon_kib": med([r.get("anon_kib") for r in good]),
            "libs": max([r.get("libs") or 0 for r in good], default=0),
            "r_mbps": per_round(results, "throughput", name, "mbps"),
            "r_cpu": per_round(results, "throughput", name, "cpu_per_gib"),
        }
    A["tp"] = tp
    base = tp.get("c-relay")
    for name, t in tp.items():
        if base:
            t["ratio_mbps"] = paired(t["r_mbps"], base["r_mbps"], lambda a, b: a / b)
            t["ratio_cpu"] = paired(t["r_cpu"], base["r_cpu"], lambda a, b: a / b)
    # Keystrokes
    ks = {}
    for name in results["keystroke"]:
        runs = [r for rnd in results["keystroke"][name] for r in rnd]
        good = ok_runs(runs)
        allv = sorted(s for r in good for s in r["samples_ns"])
        r_p50 = []
        for rnd in results["keystroke"][name]:
            g = [s for r in ok_runs(rnd) for s in r["samples_ns"]]
            r_p50.append(pct(sorted(g), .5) / 1e3 if g else None)
        ks[name] = {"n": len(allv), "failed": len(runs) - len(good),
                    "p50": pct(allv, .5) / 1e3, "p99": pct(allv, .99) / 1e3,
                    "max": (allv[-1] / 1e3) if allv else float("nan"), "r_p50": r_p50}
    base = ks.get("c-relay")
    for name, k in ks.items():
        if base:
            k["delta_p50"] = paired(k["r_p50"], base["r_p50"], lambda a, b: a - b)
    A["ks"] = ks
    # ^C and start-up
    for wl, key in (("ctrlc", "cc"), ("startup", "st")):
        d = {}
        for name in results[wl]:
            runs = [r for rnd in results[wl][name] for r in rnd]
            good = ok_runs(runs)
            v = sorted(r["ms"] for r in good)
            d[name] = {"n": len(v), "failed": len(runs) - len(good), "median": med(v),
                       "p90": pct(v, .9), "max": v[-1] if v else float("nan"),
                       "min": v[0] if v else float("nan"),
                       "r_med": per_round(results, wl, name, "ms")}
        A[key] = d
    if "socat" in A["st"]:
        for name, s in A["st"].items():
            s["ratio_socat"] = paired(s["r_med"], A["st"]["socat"]["r_med"], lambda a, b: a / b)
    # Resize
    rs = None
    if "ptyproxy" in results["resize"]:
        runs = [r for rnd in results["resize"]["ptyproxy"] for r in rnd]
        good = ok_runs(runs)
        sv = sorted(s for r in good for s in r["sock_ns"])
        cv = sorted(s for r in good for s in r["cli_ns"])
        rs = {"n": len(sv), "failed": len(runs) - len(good),
              "p50": pct(sv, .5) / 1e6, "p99": pct(sv, .99) / 1e6,
              "max": sv[-1] / 1e6 if sv else float("nan"),
              "cli_n": len(cv), "cli_p50": pct(cv, .5) / 1e6, "cli_p99": pct(cv, .99) / 1e6,
              "cli_max": cv[-1] / 1e6 if cv else float("nan")}
    A["rs"] = rs
    # Allocations
    al = {}
    for name, (small, large) in allocs.items():
        if "error" in small or "error" in large:
            al[name] = {"error": small.get("error") or large.get("error")}
            continue
        diff = large["mib"] - small["mib"]
        al[name] = {"small": small, "large": large,
                    "per_mib": (large["allocs"] - small["allocs"]) / diff}
    A["al"] = al
    return A


def verdicts(A):
    """[(figure, target, measured, verdict, note)]"""
    rows = []

    def v(ok):
        if ok is None:
            return "not measured"
        return "met" if ok else "**MISSED**"

    tp = A["tp"].get("ptyproxy")
    if tp and "ratio_mbps" in tp and not math.isnan(tp["ratio_mbps"][0]):
        r, lo, hi = tp["ratio_mbps"]
        rows.append(("Throughput", "at least the C relay's (ratio >= 1.00)",
                     "%s MB/s vs %s MB/s: ratio %.3f" % (fmt(tp["mbps"]), fmt(A["tp"]["c-relay"]["mbps"]), r),
                     v(r >= T_THROUGHPUT_RATIO), "rounds %.3f..%.3f" % (lo, hi)))
        r, lo, hi = tp["ratio_cpu"]
        rows.append(("Relay CPU per GiB", "at most 1.1x the C relay's",
                     "%s s/GiB vs %s s/GiB: ratio %.2f" % (fmt(tp["cpu_per_gib"], "%.2f"),
                                                          fmt(A["tp"]["c-relay"]["cpu_per_gib"], "%.2f"), r),
                     v(r <= T_CPU_RATIO), "rounds %.2f..%.2f" % (lo, hi)))
    else:
        rows.append(("Throughput", "at least the C relay's", "n/a", v(None), ""))
        rows.append(("Relay CPU per GiB", "at most 1.1x the C relay's", "n/a", v(None), ""))
    ks = A["ks"].get("ptyproxy")
    if ks and "delta_p50" in ks and not math.isnan(ks["delta_p50"][0]):
        d, lo, hi = ks["delta_p50"]
        rows.append(("Keystroke p50", "within 5 us of the C relay",
                     "%.1f us vs %.1f us: %+.1f us" % (ks["p50"], A["ks"]["c-relay"]["p50"], d),
                     v(d <= T_KEY_P50_DELTA_US), "rounds %+.1f..%+.1f us" % (lo, hi)))
        floor = A["ks"].get("direct pty (no relay)")
        rows.append(("Keystroke p99", "under 100 us", "%.1f us" % ks["p99"], v(ks["p99"] < T_KEY_P99_US),
                     "max %.0f us over %d; p99 of c-relay %.1f us, of the pty with no relay %s us" % (
                         ks["max"], ks["n"], A["ks"]["c-relay"]["p99"],
                         fmt(floor["p99"]) if floor else "n/a")))
    else:
        rows.append(("Keystroke p50", "within 5 us of the C relay", "n/a", v(None), ""))
        rows.append(("Keystroke p99", "under 100 us", "n/a", v(None), ""))
    st = A["st"].get("ptyproxy")
    if st and "ratio_socat" in st and not math.isnan(st["ratio_socat"][0]):
        r, lo, hi = st["ratio_socat"]
        ctx_st = "; c-relay %s ms, `true` with no relay %s ms" % (
            fmt(A["st"].get("c-relay", {}).get("median"), "%.2f"),
            fmt(A["st"].get("no relay (spawn true)", {}).get("median"), "%.2f"))
        libs = A["tp"].get("ptyproxy", {}).get("libs")
        if libs:
            ctx_st += "; ptyproxy maps %d shared objects" % libs
        rows.append(("Start-up", "no slower than socat (ratio <= 1.00)",
                     "%.2f ms vs %.2f ms: ratio %.2f" % (st["median"], A["st"]["socat"]["median"], r),
                     v(r <= T_STARTUP_RATIO), "rounds %.2f..%.2f%s" % (lo, hi, ctx_st)))
    else:
        rows.append(("Start-up", "no slower than socat", "n/a", v(None), ""))
    cc = A["cc"].get("ptyproxy")
    if cc and cc["n"]:
        rows.append(("^C under flood", "under 50 ms", "median %.1f ms" % cc["median"],
                     v(cc["median"] < T_CTRLC_MS), "max %.1f ms over %d" % (cc["max"], cc["n"])))
    else:
        rows.append(("^C under flood", "under 50 ms", "n/a", v(None), ""))
    rs = A["rs"]
    if rs and rs["n"]:
        rows.append(("Resize round trip p99", "under 2 ms", "%.3f ms (p50 %.3f ms)" % (rs["p99"], rs["p50"]),
                     v(rs["p99"] < T_RESIZE_P99_MS), "max %.2f ms over %d" % (rs["max"], rs["n"])))
    else:
        rows.append(("Resize round trip p99", "under 2 ms", "n/a", v(None), ""))
    if tp and tp["n"]:
        rows.append(("Peak RSS", "under 6 MiB", "%.2f MiB" % (tp["rss_kib"] / 1024),
                     v(tp["rss_kib"] / 1024 < T_RSS_MIB),
                     "max %.2f MiB over %d runs; of it anonymous (heap, stacks, buffers) %.2f MiB, the rest "
                     "pages of the %d shared objects it maps" % (
                         tp["rss_max_kib"] / 1024, tp["n"], tp["anon_kib"] / 1024, tp["libs"])))
    else:
        rows.append(("Peak RSS", "under 6 MiB", "n/a", v(None), ""))
    al = A["al"].get("ptyproxy")
    if al and "per_mib" in al:
        rows.append(("Heap allocations per MiB (steady state)", "0 (design)", "%.2f" % al["per_mib"],
                     v(al["per_mib"] < T_ALLOCS_PER_MIB), "%d allocs at %d MiB, %d at %d MiB" % (
                         al["small"]["allocs"], al["small"]["mib"], al["large"]["allocs"], al["large"]["mib"])))
    else:
        rows.append(("Heap allocations per MiB (steady state)", "0 (design)",
                     (al or {}).get("error", "n/a"), v(None), ""))
    return rows


SEED_PAIRS = [  # (claim, claimed variant, its label, the alternative, its label)
    ("Double buffering vs a single buffer", "ptyproxy --output-buffers 2", "double buffering",
     "ptyproxy --output-buffers 1", "single buffer"),
    ("128 KiB vs 8 KiB output buffer", "ptyproxy --output-buffer-size 131072", "128 KiB",
     "ptyproxy --output-buffer-size 8192", "8 KiB"),
    ("stdout pipe sized to 128 KiB vs left alone", "ptyproxy --stdout-pipe-size 131072", "128 KiB pipe",
     "ptyproxy --stdout-pipe-size 0", "pipe left alone"),
    ("stdout pipe sized to 1 MiB vs left alone", "ptyproxy --stdout-pipe-size 1048576", "1 MiB pipe",
     "ptyproxy --stdout-pipe-size 0", "pipe left alone"),
]
TIE = 0.03  # within 3%: no measurable difference on this machine


def seed_rows(A):
    rows = []
    tp = A["tp"]
    for title, a, alabel, b, blabel in SEED_PAIRS:
        if a not in tp or b not in tp or not tp[a]["n"] or not tp[b]["n"]:
            rows.append((title, "n/a", "n/a", "n/a", "n/a", "not measured"))
            continue
        rt = paired(tp[a]["r_mbps"], tp[b]["r_mbps"], lambda x, y: x / y)
        rc = paired(tp[a]["r_cpu"], tp[b]["r_cpu"], lambda x, y: x / y)
        if math.isnan(rt[0]):
            verdict = "not measured"
        else:
            parts = []
            if abs(rt[0] - 1) <= TIE:
                parts.append("throughput: no difference beyond %d%%" % (TIE * 100))
            elif rt[1] < 1 < rt[2]:
                parts.append("throughput: no consistent difference (%s ahead by %.0f%% in the median, "
                             "but the rounds disagree)" % (alabel if rt[0] > 1 else blabel,
                                                           (max(rt[0], 1 / rt[0]) - 1) * 100))
            else:
                parts.append("throughput: **%s** wins by %.0f%% (every round)" % (
                    alabel if rt[0] > 1 else blabel, (max(rt[0], 1 / rt[0]) - 1) * 100))
            if abs(rc[0] - 1) <= TIE:
                parts.append("CPU: no difference beyond %d%%" % (TIE * 100))
            elif rc[1] < 1 < rc[2]:
                parts.append("CPU: no consistent difference (%s %.0f%% lower in the median, "
                             "but the rounds disagree)" % (alabel if rc[0] < 1 else blabel,
                                                           (1 - min(rc[0], 1 / rc[0])) * 100))
            else:
                parts.append("CPU: **%s** uses %.0f%% less (every round)" % (
                    alabel if rc[0] < 1 else blabel, (1 - min(rc[0], 1 / rc[0])) * 100))
            verdict = "; ".join(parts)
        rows.append((title,
                     "%s / %s" % (fmt(tp[a]["mbps"], "%.1f"), fmt(tp[b]["mbps"], "%.1f")),
                     "%.3f (%.3f..%.3f)" % rt,
                     "%s / %s" % (fmt(tp[a]["cpu_per_gib"], "%.2f"), fmt(tp[b]["cpu_per_gib"], "%.2f")),
                     "%.3f (%.3f..%.3f)" % rc, verdict))
    return rows


def write_markdown(ctx, A, info, path, chart_name, command):
    L = []
    L.append("# ptyproxy benchmarks\n")
    L.append("Generated by `%s` on %s. Do not edit by hand: run the command again.\n"
             % (command, info["date"]))
    L.append("Machine: %d CPUs (%s), %s, %s memory.  \n" % (info["nproc"], info["cpu"], info["kernel"], info["mem"]))
    L.append("Versions: " + "; ".join("%s" % v for v in info["versions"].values()) + ".  \n")
    L.append("Rounds: %d; throughput payload %d MiB; load average before the run %s, after it %s "
             "(other work on the machine adds noise; the side-by-side ratios absorb most of it).\n"
             % (ctx.args.rounds, ctx.args.bytes // MIB, ctx.load_before, info["load"]))
    L.append("\n![benchmarks](%s)\n" % chart_name)
    L.append("\n## ptyproxy's targets\n")
    L.append(md_table(["figure", "target", "measured (median)", "verdict", "spread and context"], verdicts(A)))
    L.append("")
    names = [c.name for c in ctx.contenders]
    tp = A["tp"]
    L.append("\n## Throughput, relay CPU and memory\n")
    L.append("%d MiB of text through the pty to a pipe; medians over the rounds; ratios to c-relay are the "
             "median of the per-round ratios (smallest..largest round).\n" % (ctx.args.bytes // MIB))
    rows = []
    for name in names + [v.name for v in ctx.variants]:
        t = tp.get(name)
        if not t:
            continue
        rm = t.get("ratio_mbps", (float("nan"),) * 3)
        rc = t.get("ratio_cpu", (float("nan"),) * 3)
        rows.append((name, fmt(t["mbps"]), "%s (%s..%s)" % (fmt(rm[0], "%.3f"), fmt(rm[1], "%.3f"), fmt(rm[2], "%.3f")),
                     fmt(t["cpu_per_gib"], "%.2f"), "%s (%s..%s)" % (fmt(rc[0], "%.2f"), fmt(rc[1], "%.2f"), fmt(rc[2], "%.2f")),
                     fmt(t["rss_kib"] / 1024, "%.2f"), fmt(t["anon_kib"] / 1024, "%.2f"),
                     "%d%s" % (t["n"], (", %d failed" % t["failed"]) if t["failed"] else "")))
    L.append(md_table(["relay", "MB/s", "x c-relay", "relay CPU s/GiB", "x c-relay", "peak RSS MiB",
                       "of it anonymous MiB", "runs"], rows))
    L.append("\nPeak RSS counts the pages of shared libraries the relay touched (libc, the Swift runtime), "
             "which are shared with other processes; \"anonymous\" is the largest RssAnon sampled "
             "(heap, stacks, buffers).")
    L.append("\n## Keystroke round trip\n")
    L.append("One byte in, the same byte echoed back by the raw-mode child, %d per round, pooled over the rounds "
             "(microseconds). Δp50 is the median over the rounds of (p50 - c-relay's p50 in that round).\n" % KEYSTROKES[0])
    rows = []
    for name in names + ["direct pty (no relay)"]:
        k = A["ks"].get(name)
        if not k:
            continue
        d = k.get("delta_p50", (float("nan"),) * 3)
        rows.append((name, fmt(k["p50"]), fmt(k["p99"]), fmt(k["max"], "%.0f"),
                     "%s" % fmt(d[0], "%+.1f"), "%d%s" % (k["n"], (", %d runs failed" % k["failed"]) if k["failed"] else "")))
    L.append(md_table(["relay", "p50 us", "p99 us", "max us", "Δp50 vs c-relay us", "samples"], rows))
    L.append("\n## ^C under flood\n")
    L.append("Milliseconds from writing 0x03 to the relay's stdin while `yes` floods until the relay has exited.\n")
    rows = []
    for name in names + ["direct pty (no relay)"]:
        c = A["cc"].get(name)
        if not c:
            continue
        rows.append((name, fmt(c["median"], "%.2f"), fmt(c["p90"], "%.2f"), fmt(c["max"], "%.2f"),
                     "%d%s" % (c["n"], (", %d failed" % c["failed"]) if c["failed"] else "")))
    L.append(md_table(["relay", "median ms", "p90 ms", "max ms", "runs"], rows))
    L.append("\n## Start-up\n")
    L.append("Wall time of running `true` through the relay (spawn to exit), milliseconds.\n")
    rows = []
    for name in names + ["no relay (spawn true)"]:
        s = A["st"].get(name)
        if not s:
            continue
        r = s.get("ratio_socat", (float("nan"),) * 3)
        rows.append((name, fmt(s["median"], "%.2f"), fmt(s["min"], "%.2f"), fmt(s["p90"], "%.2f"),
                     "%s (%s..%s)" % (fmt(r[0], "%.2f"), fmt(r[1], "%.2f"), fmt(r[2], "%.2f")),
                     "%d%s" % (s["n"], (", %d failed" % s["failed"]) if s["failed"] else "")))
    L.append(md_table(["relay", "median ms", "min ms", "p90 ms", "x socat", "runs"], rows))
    L.append("\n## Resize round trip (ptyproxy)\n")
    rs = A["rs"]
    if rs:
        L.append(md_table(["path", "p50 ms", "p99 ms", "max ms", "requests"], [
            ("control socket, `resize C R`", "%.3f" % rs["p50"], "%.3f" % rs["p99"], "%.3f" % rs["max"], rs["n"]),
            ("`ptyproxy resize ID C R` command", "%.3f" % rs["cli_p50"], "%.3f" % rs["cli_p99"],
             "%.3f" % rs["cli_max"], rs["cli_n"])]))
        if rs["failed"]:
            L.append("\n%d resize runs failed (see Problems)." % rs["failed"])
    else:
        L.append("Not measured.")
    L.append("\n\n## Heap allocations\n")
    L.append("ptyproxy's figures come from its dynamically linked release build: LD_PRELOAD cannot reach into "
             "the static executable that is measured everywhere else (same code, same allocations). ")
    L.append("Counted in the relay process by `alloccount.so` (LD_PRELOAD) over a whole run of the throughput "
             "workload; per MiB = the difference between the two runs / %d MiB.\n"
             % (ALLOC_SIZES_MIB[1] - ALLOC_SIZES_MIB[0]))
    rows = []
    for name, a in A["al"].items():
        if "error" in a:
            rows.append((name, "error: " + a["error"], "", "", ""))
            continue
        s, l = a["small"], a["large"]
        rows.append((name, "%d allocs, %s B" % (s["allocs"], "{:,}".format(s["bytes"])),
                     "%d allocs, %s B" % (l["allocs"], "{:,}".format(l["bytes"])), "%.2f" % a["per_mib"],
                     "%d" % (l["allocs"] - l["frees"])))
    L.append(md_table(["relay", "%d MiB run" % ALLOC_SIZES_MIB[0], "%d MiB run" % ALLOC_SIZES_MIB[1],
                       "allocs per MiB", "not freed at exit (large run)"], rows))
    L.append("\n## The seed's claims, measured on ptyproxy\n")
    L.append("Throughput workload, one option changed, same rounds. Ratios are claim / alternative, the median of "
             "the per-round ratios (smallest..largest round). Differences within %d%% are called no difference; "
             "a winner is named only when every round agrees.\n" % (TIE * 100))
    L.append(md_table(["claim", "MB/s (claim / other)", "throughput ratio", "relay CPU s/GiB (claim / other)",
                       "CPU ratio", "which wins"], seed_rows(A)))
    kb = [n for n in ("ptyproxy --output-buffers 1", "ptyproxy --output-buffers 2") if n in A["ks"]]
    if kb:
        L.append("\nThe echo of a keystroke comes back through the output path, so the buffer count also "
                 "bears on interactivity (keystroke workload, same rounds, microseconds):\n")
        L.append(md_table(["variant", "p50 us", "p99 us", "Δp50 vs c-relay us"], [
            (n, fmt(A["ks"][n]["p50"]), fmt(A["ks"][n]["p99"]),
             fmt(A["ks"][n].get("delta_p50", (float("nan"),))[0], "%+.1f")) for n in kb]))
    if ctx.problems:
        L.append("\n## Problems seen\n")
        for wl, c, msg in ctx.problems:
            L.append("- %s / %s: %s" % (wl, c, msg.replace("|", "\\|")))
    L.append("\n" + METHOD.format(
        invocations="\n".join("- `%s`: `%s`" % (c.name, c.invocation) for c in ctx.contenders + ctx.variants),
        nbytes=ctx.args.bytes, nmib=ctx.args.bytes // MIB, nout=ctx.args.bytes * 65 // 64,
        nkeys=KEYSTROKES[0], kblock=KEY_BLOCK, nctrlc=CTRLC_PER_ROUND[0], nstart=STARTUPS_PER_ROUND[0],
        asmall=ALLOC_SIZES_MIB[0], alarge=ALLOC_SIZES_MIB[1], adiff=ALLOC_SIZES_MIB[1] - ALLOC_SIZES_MIB[0]))
    kept = report_sections.read_sections(path)
    with open(path, "w") as f:
        f.write("\n".join(L))
        for block in kept:
            f.write("\n\n" + block)


def gp_str(s):
    return '"%s"' % s.replace('"', "'")


def write_chart(ctx, A, path):
    d = ctx.tmp
    names = [c.name for c in ctx.contenders]
    files = {}

    def dat(name, rows):
        p = os.path.join(d, name + ".dat")
        with open(p, "w") as f:
            for r in rows:
                f.write(" ".join(gp_str(x) if isinstance(x, str) else
                                 ("%g" % x if not (isinstance(x, float) and math.isnan(x)) else "NaN")
                                 for x in r) + "\n")
        files[name] = p
        return p

    tp = A["tp"]
    dat("tp", [(n, tp[n]["mbps"]) for n in names if n in tp])
    dat("cpu", [(n, tp[n]["cpu_per_gib"]) for n in names if n in tp])
    dat("ks", [(n.replace(" (no relay)", ""), A["ks"][n]["p50"], A["ks"][n]["p99"])
               for n in names + ["direct pty (no relay)"] if n in A["ks"]])
    dat("st", [(n.replace("no relay (spawn true)", "no relay"), A["st"][n]["median"])
               for n in names + ["no relay (spawn true)"] if n in A["st"]])
    dat("cc", [(n.replace(" (no relay)", ""), A["cc"][n]["median"], A["cc"][n]["max"])
               for n in names + ["direct pty (no relay)"] if n in A["cc"]])
    seed = [n for n in ["ptyproxy"] + [v.name for v in ctx.variants] if n in tp]
    dat("seed", [(n.replace("ptyproxy --", "").replace("output-buffers", "bufs").replace(
        "output-buffer-size", "size").replace("stdout-pipe-size", "pipe") if n != "ptyproxy" else "default",
        tp[n]["mbps"], tp[n]["cpu_per_gib"]) for n in seed] or [("not measured", 0, 0)])
    term = ctx.tools.get("gnuplot_term", "pngcairo")
    font = "font 'sans,10'" if term == "pngcairo" else ""
    script = """
set terminal {term} size 1500,950 {font}
set termoption noenhanced
set output {out}
set multiplot layout 2,3
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.85
set grid ytics
set xtics rotate by -30 nomirror
set yrange [0:*]
set key top left
set offsets 0,0,graph 0.12,0
set title sprintf("Throughput, MB/s (higher is better) - %s", {title})
plot {tp} using 2:xtic(1) notitle lc rgb "#3b75af", '' using 0:2:(sprintf("%.0f",$2)) with labels offset 0,0.7 notitle
set title "Relay CPU, s per GiB (lower is better)"
plot {cpu} using 2:xtic(1) notitle lc rgb "#c2553a", '' using 0:2:(sprintf("%.2f",$2)) with labels offset 0,0.7 notitle
set title "Keystroke round trip, us, log scale (lower is better)"
set logscale y
set yrange [1:*]
plot {ks} using 2:xtic(1) title "p50" lc rgb "#3b75af", '' using 3 title "p99" lc rgb "#8fb3d9"
unset logscale y
set yrange [0:*]
set title "Start-up (run true), ms (lower is better)"
plot {st} using 2:xtic(1) notitle lc rgb "#519e3e", '' using 0:2:(sprintf("%.1f",$2)) with labels offset 0,0.7 notitle
set title "Ctrl-C (0x03) under flood until exit, ms (lower is better)"
plot {cc} using 2:xtic(1) title "median" lc rgb "#8d69b8", '' using 3 title "max" lc rgb "#c8b5e0"
set title "Seed claims (ptyproxy options): MB/s and relay CPU s/GiB"
set ytics nomirror
set y2tics
set offsets 0,0,0,0
set yrange [0:{seed_ymax}]
set y2range [0:{seed_y2max}]
plot {seed} using 2:xtic(1) title "MB/s" lc rgb "#3b75af", '' using 3 axes x1y2 title "CPU s/GiB (right axis)" lc rgb "#c2553a"
unset multiplot
""".format(term=term, font=font, out=gp_str(path),
           title=gp_str(time.strftime("%Y-%m-%d")),
           seed_ymax="%g" % (1.4 * max([tp[n]["mbps"] for n in seed if not math.isnan(tp[n]["mbps"])], default=1)),
           seed_y2max="%g" % (1.4 * max([tp[n]["cpu_per_gib"] for n in seed
                                         if not math.isnan(tp[n]["cpu_per_gib"])], default=1)),
           **{k: gp_str(v) for k, v in files.items()})
    gpfile = os.path.join(d, "chart.gp")
    with open(gpfile, "w") as f:
        f.write(script)
    r = subprocess.run([ctx.tools["gnuplot"], gpfile], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: gnuplot failed:\n%s" % r.stderr)


# ----------------------------------------------------------------------------
# Main


def ensure_std_fds():
    """A closed fd 0..2 would be handed out by os.pipe() and then dup2'd onto
    itself, which keeps O_CLOEXEC: occupy them first."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)


def only_run(ctx):
    """One workload alone (--only), a few rounds, contenders taking turns:
    the keystroke figures are printed; the ctrlc-flush figures are printed
    and written as their own section of BENCHMARKS.md."""
    what, rounds = ctx.args.only, ctx.args.rounds
    names = ("ptyproxy", "c-relay", "script")
    cs = [c for c in ctx.contenders if c.name in names] + [ctx.floor_pty]
    runs = {c.name: [] for c in cs}
    for rnd in range(rounds):
        for c in cs[rnd % len(cs):] + cs[:rnd % len(cs)]:
            if what == "ctrlc-flush":
                runs[c.name].append(run_ctrlc_flush(ctx, c))
            else:
                runs[c.name].append(run_keystroke(ctx, c, KEYSTROKES[0]))
        print("bench: round %d/%d done" % (rnd + 1, rounds), flush=True)
    if what == "keystroke":
        for name, recs in runs.items():
            for i, r in enumerate(recs):
                if "error" in r:
                    print("  %-24s round %d: %s" % (name, i + 1, r["error"]))
                    continue
                ns = sorted(r["samples_ns"])
                print("  %-24s round %d: p50 %s us, p99 %s us (%d keys)" %
                      (name, i + 1, fmt(pct(ns, .5) / 1e3), fmt(pct(ns, .99) / 1e3), len(ns)))
        return 0
    section = ctrlc_flush_section(ctx, runs)
    print(section)
    os.makedirs(ctx.args.out, exist_ok=True)
    path = os.path.join(ctx.args.out, "BENCHMARKS.md")
    report_sections.replace_section(path, "ctrlc-flush", section)
    print("bench: wrote the ctrlc-flush section of %s" % path)
    return 0


def main():
    ensure_std_fds()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true",
                    help="each workload once on a small input; sanity checks only; writes nothing")
    ap.add_argument("--ptyproxy", metavar="PATH", help="use this ptyproxy binary instead of building one")
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds (default %d)" % DEFAULT_ROUNDS)
    ap.add_argument("--bytes", type=int, default=THROUGHPUT_BYTES[0],
                    help="throughput payload in bytes, a multiple of 64 (default %d)" % THROUGHPUT_BYTES[0])
    ap.add_argument("--out", metavar="DIR", default=HERE,
                    help="where BENCHMARKS.md and benchmarks.png go (default: %(default)s)")
    ap.add_argument("--only", choices=("keystroke", "ctrlc-flush"),
                    help="run one workload alone for ptyproxy, c-relay, script and a direct pty "
                         "(ctrlc-flush writes its own section of BENCHMARKS.md)")
    ap.add_argument("--no-ptyproxy", action="store_true",
                    help="run the other contenders only (while ptyproxy does not build)")
    args = ap.parse_args()
    if args.rounds < 1 or args.bytes <= 0 or args.bytes % 64:
        ap.error("--rounds must be >= 1 and --bytes a positive multiple of 64")

    want_build = not args.ptyproxy and not args.no_ptyproxy
    tools, missing = find_tools(not args.smoke and not args.only, want_build)
    if missing:
        print("bench: missing tools:", file=sys.stderr)
        for name, why, how in missing:
            print("  %-22s needed for %s; install: %s" % (name, why, how), file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="ptyproxy-bench-")
    if SOCAT_UNSAFE.search(tmp):
        tmp = tempfile.mkdtemp(prefix="ptyproxy-bench-", dir="/tmp")
    ctx = Context(args, tmp)
    ctx.tools = tools
    ctx.alloccount = None
    ctx.ptyproxy_dynamic = None
    try:
        if args.ptyproxy:
            ctx.ptyproxy = os.path.abspath(args.ptyproxy)
            if not os.access(ctx.ptyproxy, os.X_OK):
                print("bench: %s is not an executable" % ctx.ptyproxy, file=sys.stderr)
                print("0 passed, 1 failed" if args.smoke else "", file=sys.stderr)
                return 1
        elif want_build:
            ctx.ptyproxy = build_ptyproxy()
            ctx.ptyproxy_dynamic = build_ptyproxy(static=False)
        helpers = compile_helpers(ctx)
        ctx.benchtool = helpers["benchtool"]
        ctx.alloccount = helpers["alloccount.so"]
        have = {"c-relay": helpers["c-relay"], "script": tools.get("script"), "socat": tools.get("socat")}
        ctx.contenders = make_contenders(ctx, have)
        ctx.skipped_contenders = [(n, "%s is not installed" % n) for n in ("script", "socat") if not have.get(n)]
        ctx.variants = seed_variants(ctx)
        ctx.floor_pty = Contender("direct pty (no relay)", None, kind="floor", direct=True)
        ctx.floor_spawn = Contender("no relay (spawn true)", None, kind="floor")
        if args.smoke:
            return smoke(ctx)
        if args.only:
            return only_run(ctx)
        command = shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
        print("bench: contenders: %s" % ", ".join(c.name for c in ctx.contenders), flush=True)
        ctx.load_before = "%.2f %.2f %.2f" % os.getloadavg()
        results, allocs = full_run(ctx)
        info = machine_info(ctx)
        A = analyse(ctx, results, allocs)
        os.makedirs(args.out, exist_ok=True)
        md = os.path.join(args.out, "BENCHMARKS.md")
        png = os.path.join(args.out, "benchmarks.png")
        write_chart(ctx, A, png)
        write_markdown(ctx, A, info, md, os.path.basename(png), command)
        print("bench: wrote %s and %s" % (md, png))
        for row in verdicts(A):
            print("  %-40s %-45s %s" % (row[0], row[2], row[3].replace("*", "")))
        for row in seed_rows(A):
            print("  seed: %-45s %s" % (row[0], row[5].replace("*", "")))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
