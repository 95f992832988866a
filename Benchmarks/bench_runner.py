# SPDX-License-Identifier: MIT
"""Shared runner of the benchmark harness: workload sizes, contenders,
process spawning and timing, watchdogs, memory sampling, and the statistics
(percentiles, medians over rounds, paired ratios) every workload and the
report use.
"""
import contextlib
import errno
import fcntl
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import threading
import time


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


@contextlib.contextmanager
def side_by_side(name, args):
    """The Context of the side-by-side harness bench_NAME.py: the tools
    checked, the helpers compiled into a temporary directory of its own,
    removed on leaving. Yields the Context and the compiled helpers."""
    # bench_setup imports this module: importing it here avoids the cycle.
    from bench_setup import compile_helpers, find_tools
    tools, missing = find_tools(False, False)
    if missing:
        raise SystemExit("bench_%s: missing %s" % (name, ", ".join(m[0] for m in missing)))
    tmp = tempfile.mkdtemp(prefix="ptyproxy-%s-" % name, dir="/tmp")
    args.smoke = False
    ctx = Context(args, tmp)
    ctx.tools = tools
    try:
        helpers = compile_helpers(ctx)
        ctx.benchtool = helpers["benchtool"]
        yield ctx, helpers
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
# Launching a workload. Each workload (bench_throughput.py ...) returns a dict;
# "error" is set when the run was not sane.


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


def read_until(fd, marker, acc=b""):
    while marker not in acc:
        b = os.read(fd, 4096)
        if not b:
            raise EOFError("EOF before %r (got %r)" % (marker, acc[-80:]))
        acc += b
    return acc


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
