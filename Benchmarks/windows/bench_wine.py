#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Windows benchmark of ptyproxy.exe, under Wine.

    python3 Benchmarks/windows/bench_wine.py [--rounds N] [--mib N] [--keys N]
        Full run: every workload for every contender, the contenders taking
        turns in a different order each round; prints the tables and writes
        them as the "windows" section of Benchmarks/BENCHMARKS.md (the rest
        of that file belongs to Benchmarks/bench.py).

    python3 Benchmarks/windows/bench_wine.py --smoke
        Each workload once, small, for every contender; checks the results
        are sane, writes nothing, ends with "N passed, N failed" (exit 1 on
        any failure). Seconds, not minutes.

PTYPROXY_EXE names the program (default windows/build/ptyproxy.exe, brought
up to date with `make -C windows` first). Contenders:
  ptyproxy      ptyproxy.exe new ... (double-buffered output, the default)
  ptyproxy-1buf ptyproxy.exe new --output-buffers 1 ... (single buffer)
  floor         floor.exe: the smallest honest ConPTY relay (this directory)
Throughput only (issue 19), each against ptyproxy in the same round:
  ptyproxy-8k, ptyproxy-64k
                ptyproxy.exe new --output-buffer-size 8192 / 65536: each
                ReadFile of the console's output asks for that much (the
                default, 131072, is ptyproxy); the option also sizes the
                output pipe's buffer
  ptyproxy-stub a copy of ptyproxy.exe with the stand-in conpty.dll beside
                it (windows/e2e/conpty_stub.c: forwards to kernel32), so the
                console comes through a DLL loaded at run time

Workloads (the child runs through windows/e2e/conhelper.exe, see there why):
  throughput    flood.exe writes MiB of 80-column text in 8000-byte blocks;
                MB/s of relayed bytes from its first marker to its last, and
                the CPU used meanwhile by the relay process and by all of
                Wine's processes of the prefix (wineserver moves pipe data).
  keystroke     echoer.exe echoes each byte written to the relay's stdin;
                time from the write to the echo on the relay's stdout.

Standard library only.
"""
import argparse
import datetime
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
E2E = os.path.join(REPO, "windows", "e2e")
sys.path.insert(0, E2E)
sys.path.insert(0, os.path.dirname(HERE))
from winehost import (WINE64, Failure, WinePrefix, cpu_seconds, exit_on_sigterm, missing_tools,  # noqa: E402
                      strip_vt, winpath)
import report_sections  # noqa: E402

EXE = os.path.abspath(os.environ.get("PTYPROXY_EXE", os.path.join(REPO, "windows", "build", "ptyproxy.exe")))
FLOOR = os.path.join(HERE, "build", "floor.exe")
REPORT = os.path.join(os.path.dirname(HERE), "BENCHMARKS.md")
sys.path.insert(0, os.path.dirname(HERE))
from bench_setup import source_commit  # noqa: E402  (after the path it needs)
MB = 1e6
GIB = 1 << 30
CONTENDERS = ("ptyproxy", "ptyproxy-1buf", "floor")
# Throughput only, compared with "ptyproxy" of the same round.
READ_SIZES = {"ptyproxy-8k": 8192, "ptyproxy-64k": 65536}
EXTRA = tuple(READ_SIZES) + ("ptyproxy-stub",)
STUB = os.path.join(E2E, "build", "stub", "conpty.dll")
stub_exe = None   # ptyproxy.exe copied beside the stub, by prepare_stub()


def prepare_stub(prefix):
    """A directory in the prefix holding copies of ptyproxy.exe and the stub."""
    global stub_exe
    directory = os.path.join(prefix.root, "with-stub")
    os.makedirs(directory, exist_ok=True)
    shutil.copy(EXE, os.path.join(directory, "ptyproxy.exe"))
    shutil.copy(STUB, os.path.join(directory, "conpty.dll"))
    stub_exe = os.path.join(directory, "ptyproxy.exe")


def helper(name):
    return winpath(os.path.join(E2E, "build", name + ".exe"))


def relay_argv(contender, serial, command):
    sid = "bench-%d-%d" % (os.getpid(), serial)
    if contender == "ptyproxy":
        return [EXE, "new", sid, "80", "24", command]
    if contender == "ptyproxy-1buf":
        return [EXE, "new", "--output-buffers", "1", sid, "80", "24", command]
    if contender in READ_SIZES:
        return [EXE, "new", "--output-buffer-size", str(READ_SIZES[contender]), sid, "80", "24", command]
    if contender == "ptyproxy-stub":
        return [stub_exe, "new", sid, "80", "24", command]
    return [FLOOR, "80", "24", command]


class Relay:
    """One relay process under Wine; stdout is read by the caller with select."""

    def __init__(self, prefix, argv):
        self.proc = subprocess.Popen([WINE64] + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=prefix.env, cwd=prefix.root)
        self.fd = self.proc.stdout.fileno()

    def read(self, deadline):
        """The next bytes of output ('' at EOF); Failure at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise Failure("no output in time")
        return os.read(self.fd, 1 << 20)

    def finish(self, timeout=30):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        try:
            while self.read(deadline):
                pass
            return self.proc.wait(max(0.1, deadline - time.monotonic()))
        except (Failure, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
            raise Failure("the relay did not end within %d s" % timeout)
        finally:
            self.proc.stdout.close()


def prefix_cpu(prefix):
    """CPU seconds of every live process of the prefix, by pid."""
    return {pid: cpu_seconds(pid) or 0.0 for pid in prefix.processes()}


def throughput(prefix, contender, serial, mib):
    """(MB/s, relay CPU s per GiB, Wine-wide CPU s per GiB, bytes)."""
    r = Relay(prefix, relay_argv(contender, serial, "%s %s %d" % (helper("conhelper"), helper("flood"), mib * 1024)))
    deadline = time.monotonic() + 60 + mib
    # The markers are looked for with escape sequences removed (conhost may
    # split its output anywhere, a marker included); a marker counts as seen
    # at the end of the read that completed it, which is off by at most one
    # read against a flood of many MiB.
    tail, count, begin = b"", 0, None
    while True:
        data = r.read(deadline)
        if not data:
            raise Failure("%s: output ended before FLOOD-END" % contender)
        now = time.monotonic()
        count += len(data)
        window = strip_vt(tail + data)
        if begin is None and b"FLOOD-BEGIN" in window:
            begin = (now, count, cpu_seconds(r.proc.pid), prefix_cpu(prefix))
        if begin is not None and b"FLOOD-END" in window:
            end = (now, count, cpu_seconds(r.proc.pid), prefix_cpu(prefix))
            break
        tail = (tail + data)[-256:]
    code = r.finish()
    if code != 0:
        raise Failure("%s: exit %d after the flood" % (contender, code))
    relayed = end[1] - begin[1]
    if relayed < mib * (1 << 20) * 0.99:
        raise Failure("%s: relayed %d bytes of a %d MiB flood" % (contender, relayed, mib))
    seconds = end[0] - begin[0]
    if seconds <= 0:
        raise Failure("%s: the whole flood came in one read; use a larger --mib" % contender)
    wine_cpu = sum(end[3][pid] - begin[3].get(pid, 0.0) for pid in end[3])
    return relayed / seconds / MB, (end[2] - begin[2]) * GIB / relayed, wine_cpu * GIB / relayed, relayed


def keystrokes(prefix, contender, serial, keys):
    """Round trips in microseconds of ``keys`` single-byte keystrokes."""
    r = Relay(prefix, relay_argv(contender, serial, "%s %s" % (helper("conhelper"), helper("echoer"))))
    deadline = time.monotonic() + 60
    seen = b""
    while b"READY" not in seen:
        data = r.read(deadline)
        if not data:
            raise Failure("%s: echoer ended before READY" % contender)
        seen += data
    samples = []
    for n in range(keys):
        key = bytes([ord("a") + n % 26])
        started = time.perf_counter()
        os.write(r.proc.stdin.fileno(), key)
        got = b""
        while key not in got:
            data = r.read(time.monotonic() + 10)
            if not data:
                raise Failure("%s: output ended during the keystrokes" % contender)
            got += data
        samples.append((time.perf_counter() - started) * 1e6)
    os.write(r.proc.stdin.fileno(), b"Q")
    code = r.finish()
    if code != 0:
        raise Failure("%s: echoer exit %d" % (contender, code))
    return samples


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rng(values, fmt):
    return "%s..%s" % (fmt % min(values), fmt % max(values))


def verdict(per_round, above, below):
    """Words for per-round ratios: a difference only when every round agrees."""
    med, lo, hi = statistics.median(per_round), min(per_round), max(per_round)
    if lo > 1.0:
        return "%.0f%% %s in every round (median ratio %.3f, %.3f..%.3f)" % ((med - 1) * 100, above, med, lo, hi)
    if hi < 1.0:
        return "%.0f%% %s in every round (median ratio %.3f, %.3f..%.3f)" % ((1 - med) * 100, below, med, lo, hi)
    return "no difference this run can show (median ratio %.3f, rounds %.3f..%.3f straddle 1)" % (med, lo, hi)


def smoke(prefix):
    passed = failed = 0
    for contender in CONTENDERS:
        for name, work in (("throughput", lambda c, i: throughput(prefix, c, i, 2)),
                           ("keystroke", lambda c, i: keystrokes(prefix, c, i, 20))):
            try:
                result = work(contender, passed + failed)
                if name == "throughput":
                    if not (result[0] > 0 and result[1] >= 0 and result[2] > 0):
                        raise Failure("implausible figures %r" % (result,))
                    shown = "%.1f MB/s, relay CPU %.2f s/GiB" % result[:2]
                else:
                    if len(result) != 20 or min(result) <= 0:
                        raise Failure("implausible samples %r" % result)
                    shown = "p50 %.0f us" % statistics.median(result)
                passed += 1
                print("ok   %s %s: %s" % (name, contender, shown), flush=True)
            except (Failure, OSError) as error:
                failed += 1
                print("FAIL %s %s: %s" % (name, contender, error), flush=True)
    for contender in EXTRA:
        try:
            result = throughput(prefix, contender, passed + failed, 2)
            if not (result[0] > 0 and result[1] >= 0 and result[2] > 0):
                raise Failure("implausible figures %r" % (result,))
            if contender == "ptyproxy-stub" and not os.path.isfile(os.path.join(os.path.dirname(stub_exe), "conpty_stub.log")):
                raise Failure("the stand-in conpty.dll was not used")
            passed += 1
            print("ok   throughput %s: %.1f MB/s, relay CPU %.2f s/GiB" % ((contender,) + result[:2]), flush=True)
        except (Failure, OSError) as error:
            failed += 1
            print("FAIL throughput %s: %s" % (contender, error), flush=True)
    return passed, failed


def full(prefix, rounds, mib, keys):
    tp = {c: [] for c in CONTENDERS + EXTRA}
    ks = {c: [] for c in CONTENDERS}
    ks_round = {c: [] for c in CONTENDERS}
    serial = 0
    for rnd in range(rounds):
        order = CONTENDERS[rnd % 3:] + CONTENDERS[:rnd % 3]
        for contender in order:
            serial += 1
            tp[contender].append(throughput(prefix, contender, serial, mib))
            print("round %d throughput %-13s %6.2f MB/s  relay %.2f s/GiB  wine %.1f s/GiB" % (
                (rnd + 1, contender) + tp[contender][-1][:3]), flush=True)
        extra = EXTRA[rnd % len(EXTRA):] + EXTRA[:rnd % len(EXTRA)]
        for contender in extra:
            serial += 1
            tp[contender].append(throughput(prefix, contender, serial, mib))
            print("round %d throughput %-13s %6.2f MB/s  relay %.2f s/GiB  wine %.1f s/GiB" % (
                (rnd + 1, contender) + tp[contender][-1][:3]), flush=True)
        for contender in order:
            serial += 1
            samples = keystrokes(prefix, contender, serial, keys)
            ks[contender] += samples
            ks_round[contender].append(statistics.median(samples))
            print("round %d keystroke  %-13s p50 %.0f us  p99 %.0f us" % (
                rnd + 1, contender, statistics.median(samples), pct(samples, 99)), flush=True)
    return tp, ks, ks_round


def report(prefix_dir, tp, ks, ks_round, rounds, mib, keys, load_before, load_after, seconds):
    def ratios(values, base, index):
        return [a[index] / b[index] for a, b in zip(values, base)]

    wine_version = subprocess.run([WINE64, "--version"], capture_output=True, text=True).stdout.strip()
    gcc = subprocess.run(["x86_64-w64-mingw32-gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    version = subprocess.run([WINE64, EXE, "--version"], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, WINEDEBUG="-all", WINEPREFIX=prefix_dir)).stdout.strip()
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    lines = []
    add = lines.append
    add("## Windows (ptyproxy.exe under Wine)")
    add("")
    add("Generated by `python3 Benchmarks/windows/bench_wine.py --rounds %d --mib %d --keys %d` on %s in %.0f s. "
        "Do not edit by hand: run the command again." % (rounds, mib, keys,
                                                       datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                                                       seconds))
    add("")
    add("Program: %s (%s). Machine: %d CPUs (%s), Linux %s; %s; %s. Load average before %s, after %s "
        "(other work on the machine adds noise; the per-round ratios absorb most of it)." % (
            "%s, commit %s" % (version or "unknown version", source_commit()), EXE.replace(REPO + os.sep, ""), os.cpu_count(), cpu_model,
            platform.release(), wine_version, gcc, load_before, load_after))
    add("")
    add("**Wine's conhost sets the absolute pace**: every byte goes through Wine's headless conhost, which "
        "writes its output in pieces of a few hundred bytes, and through wineserver, which carries Wine's pipe "
        "data. The absolute figures say little about Windows. The figures that matter are the ratios measured "
        "side by side in the same run: ptyproxy.exe against the floor relay (`floor.exe`, one thread per "
        "direction, one buffer, no control pipe, no job object), and single against double buffering.")
    add("")
    add("Contenders: `ptyproxy` = `ptyproxy.exe new` (double-buffered output, the default); `ptyproxy-1buf` = "
        "`ptyproxy.exe new --output-buffers 1`; `floor` = `Benchmarks/windows/floor.c`. Each round runs every "
        "contender, in a rotated order.")
    add("")
    add("### Bulk output")
    add("")
    add("`flood.exe` writes %d MiB of 80-column text through the relay to a pipe; MB/s of relayed bytes between "
        "its first and last marker. Relay CPU is the relay process's user+system time in that window (from "
        "/proc); Wine CPU adds every process of the prefix (conhost, wineserver, the writer, the relay). "
        "Medians over %d rounds; ratios to the floor are the median of the per-round ratios (smallest..largest)." % (mib, rounds))
    add("")
    add("| relay | MB/s | x floor | relay CPU s/GiB | x floor | Wine CPU s/GiB | x floor |")
    add("|---|---|---|---|---|---|---|")
    for c in CONTENDERS:
        r0, r1, r2 = (ratios(tp[c], tp["floor"], i) for i in range(3))
        add("| %s | %.2f | %.3f (%s) | %.2f | %.2f (%s) | %.1f | %.2f (%s) |" % (
            c, statistics.median(v[0] for v in tp[c]), statistics.median(r0), rng(r0, "%.3f"),
            statistics.median(v[1] for v in tp[c]), statistics.median(r1), rng(r1, "%.2f"),
            statistics.median(v[2] for v in tp[c]), statistics.median(r2), rng(r2, "%.2f")))
    single = ratios(tp["ptyproxy"], tp["ptyproxy-1buf"], 0)
    add("")
    add("Double against single buffering, throughput per round: %s (median %.3f)." % (
        ", ".join("%.3f" % x for x in single), statistics.median(single)))
    add("")
    add("Reading: throughput of ptyproxy against the floor: %s. Double against single buffering: %s. "
        "Relay CPU of ptyproxy against the floor: %s." % (
            verdict(ratios(tp["ptyproxy"], tp["floor"], 0), "faster", "slower"),
            verdict(single, "faster", "slower"),
            verdict(ratios(tp["ptyproxy"], tp["floor"], 1), "more", "less")))
    add("")
    add("### Output read size")
    add("")
    add("The same flood, with each ReadFile of the console's output asking for 8 KiB, 64 KiB or 128 KiB "
        "(`--output-buffer-size`, which also sizes the output pipe's buffer; 128 KiB is the default, the "
        "`ptyproxy` row above). Ratios are to `ptyproxy` of the same round, median (smallest..largest).")
    add("")
    add("| read size | MB/s | x 128 KiB | relay CPU s/GiB | x 128 KiB |")
    add("|---|---|---|---|---|")
    for c, label in (("ptyproxy-8k", "8 KiB"), ("ptyproxy-64k", "64 KiB"), ("ptyproxy", "128 KiB")):
        r0, r1 = ratios(tp[c], tp["ptyproxy"], 0), ratios(tp[c], tp["ptyproxy"], 1)
        add("| %s | %.2f | %.3f (%s) | %.2f | %.2f (%s) |" % (
            label, statistics.median(v[0] for v in tp[c]), statistics.median(r0), rng(r0, "%.3f"),
            statistics.median(v[1] for v in tp[c]), statistics.median(r1), rng(r1, "%.2f")))
    add("")
    add("Reading: 8 KiB against 128 KiB: %s. 64 KiB against 128 KiB: %s. Wine's conhost writes a few hundred "
        "bytes at a time, so a read rarely finds more than that waiting: the read size can only matter where "
        "the console produces faster than the relay reads." % (
            verdict(ratios(tp["ptyproxy-8k"], tp["ptyproxy"], 0), "faster", "slower"),
            verdict(ratios(tp["ptyproxy-64k"], tp["ptyproxy"], 0), "faster", "slower")))
    add("")
    add("### A conpty.dll beside the program")
    add("")
    add("The same flood through `ptyproxy-stub`: a copy of ptyproxy.exe with the test suite's stand-in "
        "`conpty.dll` beside it (`windows/e2e/conpty_stub.c`), which forwards the three calls to kernel32's. "
        "It checks that taking the ConPTY functions from a DLL loaded at run time costs nothing; the real "
        "conpty.dll and OpenConsole.exe were not run here.")
    add("")
    add("| relay | MB/s | x system ConPTY | relay CPU s/GiB | x system ConPTY |")
    add("|---|---|---|---|---|")
    for c in ("ptyproxy-stub", "ptyproxy"):
        r0, r1 = ratios(tp[c], tp["ptyproxy"], 0), ratios(tp[c], tp["ptyproxy"], 1)
        add("| %s | %.2f | %.3f (%s) | %.2f | %.2f (%s) |" % (
            c, statistics.median(v[0] for v in tp[c]), statistics.median(r0), rng(r0, "%.3f"),
            statistics.median(v[1] for v in tp[c]), statistics.median(r1), rng(r1, "%.2f")))
    add("")
    add("Reading: through the stand-in against the system's ConPTY: %s." %
        verdict(ratios(tp["ptyproxy-stub"], tp["ptyproxy"], 0), "faster", "slower"))
    add("")
    add("### Keystroke round trip")
    add("")
    add("`echoer.exe` (console input raw) echoes each byte written to the relay's stdin; time from the write to "
        "the echo on the relay's stdout, %d keystrokes per contender per round." % keys)
    add("")
    add("| relay | p50 us | p99 us | max us | p50 x floor (per round) | samples |")
    add("|---|---|---|---|---|---|")
    for c in CONTENDERS:
        r = [a / b for a, b in zip(ks_round[c], ks_round["floor"])]
        add("| %s | %.0f | %.0f | %.0f | %.3f (%s) | %d |" % (
            c, statistics.median(ks[c]), pct(ks[c], 99), max(ks[c]), statistics.median(r), rng(r, "%.3f"), len(ks[c])))
    add("")
    diffs = [a - b for a, b in zip(ks_round["ptyproxy"], ks_round["floor"])]
    add("Reading: ptyproxy's p50 minus the floor's, per round: %s us (median %+.0f us)." % (
        ", ".join("%+.0f" % d for d in diffs), statistics.median(diffs)))
    return "\n".join(lines)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a quick sanity run that writes nothing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mib", type=int, default=128, help="flood size per throughput run")
    parser.add_argument("--keys", type=int, default=300, help="keystrokes per contender per round")
    parser.add_argument("--report", default=REPORT, help="the report to write the windows section of")
    args = parser.parse_args()

    if "PTYPROXY_EXE" not in os.environ:       # the in-tree program, rebuilt when stale
        if subprocess.run(["make", "-s", "-C", os.path.join(REPO, "windows")], timeout=600).returncode != 0:
            print("cannot build windows/build/ptyproxy.exe\n0 passed, 1 failed")
            return 1
    for directory in (E2E, HERE):
        if subprocess.run(["make", "-s", "-C", directory], timeout=300).returncode != 0:
            print("cannot build %s\n0 passed, 1 failed" % directory)
            return 1
    missing = missing_tools([EXE, FLOOR, STUB])
    if missing:
        print("cannot run: missing " + "; ".join(missing) + "\n0 passed, 1 failed")
        return 1

    started = time.monotonic()
    exit_on_sigterm()
    prefix = WinePrefix()
    try:
        prefix.start()
        prepare_stub(prefix)
        if args.smoke:
            passed, failed = smoke(prefix)
            print("%d passed, %d failed" % (passed, failed))
            return 1 if failed else 0
        load_before = loadavg()
        tp, ks, ks_round = full(prefix, args.rounds, args.mib, args.keys)
        text = report(prefix.prefix, tp, ks, ks_round, args.rounds, args.mib, args.keys, load_before, loadavg(),
                      time.monotonic() - started)
        print(text)
        report_sections.replace_section(args.report, "windows", text)
        print("wrote the windows section of %s" % args.report)
        return 0
    except Failure as error:
        print("FAIL %s\n0 passed, 1 failed" % error)
        return 1
    finally:
        prefix.stop()


if __name__ == "__main__":
    sys.exit(main())
