# SPDX-License-Identifier: MIT
"""Running Windows programs under Wine from a Linux test or benchmark.

Shared by the Wine runners (windows/e2e/test_wine.py, test_conpty_wine.py,
test_conformance_wine.py: their one run-each-case loop, retry policy,
reporting and time bound are at the end of this file) and
Benchmarks/windows/bench_wine.py. Standard library only.

Why a module of its own: both harnesses need the same few Wine facts, which
cost a day to learn (see ../shared/windows/NOTES.md in the project's history):
- a private WINEPREFIX, built once per run (``wineboot -i``), with a persistent
  wineserver that is killed at the end; the first Wine process of a fresh
  wineserver starts Wine's services, which inherit its stdio, so the prefix
  is started with stdio on /dev/null before any test pipes are made;
- ``wine64`` is /usr/lib/wine/wine64 on Debian 12, not on PATH;
- the Linux pid of a Windows process started with ``wine64 X.exe`` is the
  pid of ``wine64`` itself (the loader execs), so its CPU time is in
  /proc/PID/stat;
- Windows processes show in /proc under their Windows command line, and keep
  WINEPREFIX in their environment, which tells this run's from any other's;
- exited Wine processes can stay zombies for a while (they are reparented),
  so a zombie counts as gone.
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

WINE64 = os.environ.get("WINE64", "/usr/lib/wine/wine64")
WINESERVER = os.environ.get("WINESERVER", "/usr/lib/wine/wineserver64")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Wine's own background programs: they start when Wine needs them (a
# winedevice.exe may appear in the middle of a run), so they never count as
# something a test left behind.
WINE_SERVICES = {"services.exe", "winedevice.exe", "plugplay.exe", "svchost.exe", "rpcss.exe", "explorer.exe",
                 "wineboot.exe", "tabtip.exe"}

_VT = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Failure(Exception):
    """A check failed; the message says what was expected and what was seen."""


_CURSOR_FORWARD = re.compile(rb"\x1b\[([0-9]*)C")


def strip_vt(data):
    """Terminal output without its escape sequences (conhost wraps every
    update in cursor on/off sequences). Cursor-forward becomes spaces: conhost
    renders blanks that way ("a b" arrives as a, ESC[K ESC[1C, b)."""
    data = _CURSOR_FORWARD.sub(lambda m: b" " * min(int(m.group(1) or b"1"), 1000), data)
    return _VT.sub(b"", data)


def missing_tools(exe_paths=()):
    """Names of what is missing to run Windows programs here, with the Debian
    package that provides each."""
    missing = []
    if not shutil.which("x86_64-w64-mingw32-gcc"):
        missing.append("x86_64-w64-mingw32-gcc (Debian: gcc-mingw-w64-x86-64)")
    if not os.access(WINE64, os.X_OK):
        missing.append(WINE64 + " (Debian: wine64; or set WINE64)")
    if not os.access(WINESERVER, os.X_OK):
        missing.append(WINESERVER + " (Debian: wine64; or set WINESERVER)")
    for path in exe_paths:
        if not os.path.isfile(path):
            missing.append(path)
    return missing


def winpath(path):
    """The Windows name of a Linux path (Wine maps / to drive Z:), quoted
    when it holds a space."""
    name = "Z:" + os.path.abspath(path).replace("/", "\\")
    return '"%s"' % name if " " in name or "\t" in name else name


def exit_on_sigterm():
    """SIGTERM (a timeout's kill) ends the harness through its finally
    blocks, so the prefix's processes are killed and its directory removed."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


class WinePrefix:
    """A private Wine prefix with a persistent wineserver, for one run."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="ptyproxy-wine-")
        self.prefix = os.path.join(self.root, "prefix")
        self.env = dict(os.environ, WINEDEBUG="-all", WINEPREFIX=self.prefix)
        self.env.pop("DISPLAY", None)

    def start(self, timeout=300):
        """Builds the prefix (about a minute the first time on a slow machine)
        and warms it up with stdio on /dev/null. A failed start is retried
        once in a new prefix (seen once in many runs, at the very first Wine
        call; the reason is printed). Raises Failure on a second error."""
        try:
            self._start(timeout)
        except Failure as error:
            print("note: %s; retrying once" % error, flush=True)
            self.stop()
            self.__init__()
            self._start(timeout)

    def _start(self, timeout):
        os.makedirs(self.prefix, mode=0o700)
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        try:
            # Persistent for the run, and gone 60 s after its last process if
            # this harness dies without stop() (SIGKILL, a CI timeout).
            subprocess.run([WINESERVER, "-p60"], timeout=30, check=True, **quiet)
            subprocess.run([WINE64, "wineboot.exe", "-i"], timeout=timeout, check=True, **quiet)
            subprocess.run([WINE64, "cmd.exe", "/c", "exit"], timeout=120, check=True, **quiet)
        except (subprocess.SubprocessError, OSError) as error:
            raise Failure("cannot start a Wine prefix in %s: %s" % (self.prefix, error))

    def stop(self):
        """Kills every process of this prefix (wineserver -k) and removes it."""
        try:
            subprocess.run([WINESERVER, "-k"], env=self.env, timeout=30,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError):
            pass
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

    def processes(self):
        """{pid: command line} of the live (not zombie) processes of this
        prefix, wineserver included."""
        found = {}
        needle = b"\0WINEPREFIX=" + os.fsencode(self.prefix) + b"\0"
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    if needle not in b"\0" + f.read():
                        continue
                with open("/proc/%s/stat" % name, "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                        continue
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    found[int(name)] = f.read().replace(b"\0", b" ").strip().decode("utf-8", "replace")
            except (OSError, IndexError):
                continue
        return found

    def leftovers(self, before):
        """The processes of this prefix that are not in ``before`` (a set of
        pids), leaving out the wineserver and Wine's own services."""
        left = {}
        for pid, line in self.processes().items():
            words = line.split()
            name = words[0].replace("\\", "/").rsplit("/", 1)[-1].lower() if words else ""
            if pid in before or name in WINE_SERVICES or name.startswith("wineserver"):
                continue
            left[pid] = line
        return left

    def find(self, program, marker):
        """Pids of live processes whose first word ends with ``program``
        (e.g. "sleeper.exe") and whose command line holds ``marker``."""
        pids = []
        for pid, line in self.processes().items():
            words = line.split()
            if words and words[0].lower().replace("\\", "/").endswith(program.lower()) and marker in line:
                pids.append(pid)
        return pids

    def wait_for(self, condition, timeout, what):
        """Polls ``condition`` every 50 ms until it is true; Failure after
        ``timeout`` seconds, naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            if time.monotonic() >= deadline:
                raise Failure("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(0.05)


def cpu_seconds(pid):
    """User + system CPU time of a live process, from /proc; None once gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


class WinProcess:
    """A Windows program under Wine with pipes for stdin, stdout and stderr.

    Output is collected by reader threads. The stdout reader can be paused
    (``reading=False``) to play a host that has stopped reading: the pipe then
    fills up and the program's writes block or fail, as they would with a
    stalled Emacs."""

    def __init__(self, prefix, argv, reading=True, cwd=None):
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen([WINE64] + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=prefix.env, cwd=cwd or prefix.root)
        self.pid = self.proc.pid
        self.out = bytearray()
        self.err = bytearray()
        self.out_eof = False
        self.cond = threading.Condition()
        self.gate = threading.Event()
        if reading:
            self.gate.set()
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout.fileno(), self.out, self.gate), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr.fileno(), self.err, None), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, fd, buf, gate):
        while True:
            if gate is not None:
                gate.wait()
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    if buf is self.out:
                        self.out_eof = True
                    self.cond.notify_all()
                    return
                buf += data
                self.cond.notify_all()

    def resume_reading(self):
        self.gate.set()

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def text(self):
        with self.cond:
            return strip_vt(bytes(self.out))

    def wait_text(self, needle, timeout, start=0):
        """Waits until ``needle`` (bytes, or a compiled bytes regex) is in the
        output with escape sequences removed, from raw offset ``start``.
        Returns the offset just past the raw output seen."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                view = strip_vt(bytes(self.out[start:]))
                if (needle.search(view) if hasattr(needle, "search") else needle in view):
                    return len(self.out)
                left = deadline - time.monotonic()
                if left <= 0 or (self.out_eof and self.proc.poll() is not None):
                    ended = "" if self.proc.poll() is None else "; it exited %d, stderr ends with %r" % (
                        self.proc.returncode, bytes(self.err[-300:]))
                    raise Failure("%r not seen in the output within %.1f s; output ends with %r%s"
                                  % (getattr(needle, "pattern", needle), timeout, view[-300:], ended))
                self.cond.wait(min(left, 0.2))

    def wait(self, timeout):
        """The exit status, waiting at most ``timeout`` seconds; the reader
        threads get a bounded moment to collect the last bytes."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not exit within %.1f s" % (" ".join(self.argv[:3]), timeout))
        for t in self.threads:
            if t is self.threads[0] and not self.gate.is_set():
                continue                      # paused on purpose: it waits for resume_reading()
            t.join(5)
        return code

    def read_paused(self, needle, timeout):
        """While the stdout reader is paused (``reading=False``), reads the
        pipe here until ``needle`` (a compiled bytes regex) is in the output
        with escape sequences removed; what is read is kept in the output.
        Lets a test see a prompt and still leave the pipe unread after it."""
        assert not self.gate.is_set(), "read_paused needs reading=False"
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while not needle.search(self.text()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%r not seen in the output within %.1f s; output ends with %r"
                              % (needle.pattern, timeout, self.text()[-300:]))
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                data = os.read(fd, 1 << 16)
                if not data:
                    raise Failure("stdout ended before %r was seen" % needle.pattern)
                with self.cond:
                    self.out += data

    def stderr_text(self):
        with self.cond:
            return bytes(self.err).decode("utf-8", "replace")

    def cpu(self):
        return cpu_seconds(self.pid)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def run(prefix, argv, timeout, stdin=b""):
    """Runs a Windows program to its end: (exit code, stdout, stderr, seconds)."""
    started = time.monotonic()
    try:
        done = subprocess.run([WINE64] + argv, input=stdin, capture_output=True, env=prefix.env,
                              cwd=prefix.root, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s did not finish within %.1f s" % (" ".join(argv[:3]), timeout))
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


# --- running a suite ----------------------------------------------------------
#
# The Wine runners (test_wine.py, test_conpty_wine.py, test_conformance_wine.py)
# share one way to run: build what is stale, start a prefix, run each case
# with a time bound, report it, clean up after it, and end with
# "N passed, N failed". It lives here, once.

#: The errors a case may end with; anything else is a bug of the harness and
#: stops the run with its traceback.
CASE_ERRORS = (Failure, OSError, ValueError, subprocess.SubprocessError)

#: How long one case may take (the longest, 100 sessions under a resize
#: storm, takes about 3 minutes on a loaded machine).
CASE_TIMEOUT = 900


def runner_arguments(description, cases="tests", listing=True):
    """The runners' command line: -k SUBSTRING, and --list when the runner
    can name its cases without running them."""
    import argparse
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("-k", dest="only", help="run the %s whose name holds this" % cases)
    if listing:
        parser.add_argument("--list", action="store_true", help="name the %s and exit" % cases)
    return parser.parse_args()


def build(exe, helper_dirs, required=()):
    """Brings the program (unless PTYPROXY_EXE names one) and the helpers up
    to date, and checks the tools and files a run needs. None when all is
    there, else the reason."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if "PTYPROXY_EXE" not in os.environ:       # the in-tree program, rebuilt when stale
        if subprocess.run(["make", "-s", "-C", os.path.join(repo, "windows")], timeout=600).returncode != 0:
            return "cannot build windows/build/ptyproxy.exe"
    for directory in helper_dirs:
        if subprocess.run(["make", "-s", "-C", directory], timeout=300).returncode != 0:
            return "cannot build the helpers in %s" % directory
    missing = missing_tools([exe] + list(required))
    return "cannot run: missing " + "; ".join(missing) if missing else None


class _CaseTimeout(Failure):
    pass


def _bounded(function, seconds):
    """Runs ``function`` on this (the main) thread; Failure if it takes
    longer than ``seconds``. SIGALRM interrupts whatever it waits on, and the
    runner's finally blocks still clean up after it."""
    def expire(signum, frame):
        raise _CaseTimeout("took longer than %d s" % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Report:
    """Counts and reports the cases of one run.

    ``case`` runs one case: bounded by CASE_TIMEOUT, its errors caught and
    reported as "FAIL name (seconds): why", a pass as "ok   name (seconds)"
    unless ``quiet``. After a failure, the prefix's processes are killed so
    that the next case starts clean."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.passed = self.failed = 0
        self.started = time.monotonic()

    def case(self, name, function, quiet=False, timeout=CASE_TIMEOUT):
        started = time.monotonic()
        try:
            _bounded(function, timeout)
        except CASE_ERRORS as error:
            self.failed += 1
            print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - started, error), flush=True)
            for pid in self.prefix.leftovers(set()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return False
        self.passed += 1
        if not quiet:
            print("ok   %s (%.1f s)" % (name, time.monotonic() - started), flush=True)
        return True

    def fail(self, what, error):
        """A failure outside a case (setup, the end of the run)."""
        self.failed += 1
        print("FAIL %s: %s" % (what, error), flush=True)

    def summary(self, notes=()):
        """Prints the notes, the run's time and "N passed, N failed"; the
        exit status."""
        for note in notes:
            print("note: " + note)
        print("suite took %.0f s" % (time.monotonic() - self.started))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def settle(prefix, before=frozenset(), timeout=10):
    """After a case and its cleanup, every process it started must be gone
    within ``timeout`` seconds (leftovers are a failure of that case)."""
    try:
        prefix.wait_for(lambda: not prefix.leftovers(set(before)), timeout, "the test's processes to end")
    except Failure:
        raise Failure("processes left behind: %r" % prefix.leftovers(set(before)))


def run_suite(description, tests, exe, helper_dirs, make_suite, required=(), notes=lambda: ()):
    """The whole run of a runner whose cases are test functions of one
    argument, the suite object ``make_suite(prefix)`` returns (it has
    ``cleanup()``, run after each test whether it passed or not). A test
    passes when it returns, its cleanup is done and its processes are gone.
    ``notes()`` gives lines printed before the summary. Returns the exit
    status."""
    args = runner_arguments(description)
    chosen = [t for t in tests if not args.only or args.only in t.__name__]
    if args.list:
        print("\n".join(t.__name__ for t in chosen))
        return 0
    started = time.monotonic()
    problem = build(exe, helper_dirs, required)
    if problem:
        print("%s\n0 passed, 1 failed" % problem)
        return 1
    exit_on_sigterm()
    prefix = WinePrefix()
    report = Report(prefix)
    report.started = started
    try:
        prefix.start()
        print("Wine prefix ready in %.1f s; testing %s" % (time.monotonic() - started, exe))
        suite = make_suite(prefix)
        for t in chosen:
            def one(t=t):
                try:
                    t(suite)
                finally:
                    suite.cleanup()
                settle(prefix)
            report.case(t.__name__, one)
    except Failure as error:
        report.fail("setup", error)
    finally:
        prefix.stop()
    return report.summary(notes())


class Refusals:
    """The retry policy for what Wine, not ptyproxy.exe, refuses now and
    then under load (a pseudo console that does not start, a helper's
    CreateProcess that fails): such a run is made once more; a second
    refusal in a row, or more than ``limit`` refusals in all, fail."""

    def __init__(self, what, limit):
        self.what = what
        self.limit = limit
        self.count = 0

    def run(self, attempt, refused):
        """``attempt()`` once, and once more if ``refused(result)``; the
        last result."""
        result = attempt()
        if refused(result):
            self.count += 1
            result = attempt()
        return result

    def check(self, runs):
        if self.count > self.limit:
            raise Failure("%s in %d of %d runs (at most %d allowed)" % (self.what, self.count, runs, self.limit))
