#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end benchmark of the Emacs package: what a user of Emacs feels.

    python3 Benchmarks/emacs_bench.py [--rounds N] [--mib N] [--ptyproxy PATH]
        Full run: measures, in the same run, alternating the contenders in
        every round (the order is reversed every other round):
          (a) the time until N MiB of `cat` output have fully arrived in
              the buffer (the process's sentinel ran: Emacs reads all
              output first), for a plain Emacs pty process, a plain pipe
              (the floor: no terminal at all), a pipe process through
              ptyproxy, vterm plain and through ptyproxy, term plain and
              through ptyproxy;
          (b) keystroke echo latency: one key sent to the terminal (running
              cat, echo on), until its echo is in the buffer, for the same
              terminal contenders;
          (c) first-use cost: in a fresh Emacs with an empty native
              compilation cache, the first (vterm) against the first
              (ptyproxy-vterm);
          (d) the causes: ptyproxy's pipe against a pty and a plain pipe
              with read-process-output-max 4096 / 65536, adaptive read
              buffering on, and utf-8 decoding instead of binary.
        Ratios (through ptyproxy / plain) are taken within each round; the
        table gives medians.  Writes the "emacs" section of
        Benchmarks/BENCHMARKS.md and the chart Benchmarks/emacs.png.

    python3 Benchmarks/emacs_bench.py --smoke [--ptyproxy PATH]
        Each measurement once, small: checks that every contender runs and
        gives a sane figure; writes nothing.  Ends with "N passed, N failed".

Every measurement runs in a fresh `emacs -Q --batch` (Benchmarks/emacs_bench.el
does the measuring inside Emacs and prints RESULT lines).  Standard library
only.  Needs emacs (emacs-nox), elpa-vterm, gnuplot (gnuplot-nox) for the chart.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

import report_sections

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DRIVER = os.path.join(HERE, "emacs_bench.el")
MIB = 1 << 20

PAIRS = [("pty", "ptyproxy"), ("vterm", "vterm-ptyproxy"), ("term", "term-ptyproxy")]
THROUGHPUT = ["pty", "pipe", "ptyproxy", "vterm", "vterm-ptyproxy", "term", "term-ptyproxy"]
ECHO = ["pty", "ptyproxy", "vterm", "vterm-ptyproxy", "term", "term-ptyproxy"]
LABEL = {
    "pty": "Emacs pty process",
    "pipe": "Emacs pipe process (no terminal)",
    "ptyproxy": "pipe process through ptyproxy",
    "vterm": "vterm",
    "vterm-ptyproxy": "vterm through ptyproxy",
    "term": "term",
    "term-ptyproxy": "term through ptyproxy",
}
# (d): variants of the environment, each applied to pty, pipe and ptyproxy.
CAUSES = [
    ("baseline: read-process-output-max 4096, binary, adaptive off", {}),
    ("read-process-output-max 65536", {"BENCH_RPOM": "65536"}),
    ("adaptive read buffering on", {"BENCH_ADAPTIVE": "t"}),
    ("utf-8 decoding", {"BENCH_CODING": "utf-8-unix"}),
    ("ptyproxy's stdout pipe grown to 1 MiB (--stdout-pipe-size)",
     {"BENCH_PPX_ARGS": "--stdout-pipe-size 1048576"}),
]


# What the tables show, and why (the analysis behind them; the figures
# above are this run's).
WHY = """Why, and what was fixed:

- *Reads.* Emacs reads a process in pieces of at most `read-process-output-max`
  bytes (4096 by default in Emacs 28). A pty never gives more than about 4 KiB
  per read, whatever that variable says; ptyproxy's pipe holds up to 64 KiB, so
  with `read-process-output-max` at 65536 Emacs reads it in 16 times fewer
  pieces (one filter call each), and term and vterm through ptyproxy are then
  as fast as plain or faster (last table). The package cannot do this for
  ptyproxy processes only: Emacs 28 reads the variable's global value at each
  read, not per process. emacs/README.md recommends it.
- *Filter calls and coding.* At the default, Emacs reads both the same number of
  times (the reads column), and decoding costs both paths alike (the utf-8
  row): ptyproxy processes use `no-conversion`/`binary`, as vterm and term do
  on a pty, so there is nothing to fix there.
- *Adaptive read buffering* makes no difference to throughput here; it delays
  the read of a process that sent little (a keystroke's echo), so the package
  turns it off for ptyproxy processes only (let-bound around `make-process`).
- *Pipe size.* Growing ptyproxy's stdout pipe to 1 MiB (last row of (d))
  moves the ratio within the spread of the rounds; a separate 3-round A/B
  (256 KiB, 1 MiB) showed no consistent change, so ptyproxy's default (leave
  the host's pipe alone) stays.
- *What remains* is the relay itself: one more process on the way, whose
  threads must be scheduled, and, with a cheap filter (the plain pipe
  process), more CPU in Emacs for the same number of reads (the CPU column;
  not explained yet: `strace -c` of Emacs shows the same system calls in the
  same numbers for both, so it is not more work by Emacs; wake-ups across
  cores are the suspect). With vterm and
  term, whose filters cost far more, it is within the noise of the rounds, and
  the earlier probes that found ptyproxy's pipe 2.5 times slower ran on a
  loaded machine. Keystroke echo through ptyproxy
  takes two more hops (the input path and the output path of the relay), a
  fixed cost of some 10-20 us at the median here, a thousandth of a 60 Hz
  frame; the design keeps the input path a plain read and write, so there is
  nothing to shave in the package. This is the target missed on (b).
"""


class Failure(Exception):
    pass


def run_emacs(ctx, kind, contender=None, extra=None, timeout=300):
    """One measurement in a fresh Emacs; return its RESULT lines as a dict."""
    env = dict(os.environ)
    env.update({
        "BENCH_KIND": kind,
        "BENCH_CONTENDER": contender or "",
        "BENCH_FILE": ctx.data,
        "BENCH_KEYS": str(ctx.keys),
        "PTYPROXY_PROGRAM": ctx.ptyproxy,
        "BENCH_EMACS_LISP": os.path.join(REPO, "emacs"),
        "HOME": ctx.home,
    })
    env.update(extra or {})
    try:
        p = subprocess.run([ctx.emacs, "-Q", "--batch", "-l", DRIVER], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s %s: timed out after %d s" % (kind, contender, timeout))
    results = {}
    for line in p.stdout.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "RESULT":
            results[parts[1]] = parts[2]
    if p.returncode != 0 or not results:
        raise Failure("%s %s: exit %d: %s" % (kind, contender, p.returncode,
                                              p.stderr.decode(errors="replace")[-400:]))
    return results


class Context:
    def __init__(self, args, tmp):
        self.emacs = args.emacs
        self.ptyproxy = os.path.abspath(args.ptyproxy)
        self.tmp = tmp
        self.home = os.path.join(tmp, "home")
        os.mkdir(self.home, 0o700)
        self.keys = args.keys
        self.mib = args.mib
        self.data = os.path.join(tmp, "data")
        line = b"x" * 79 + b"\n"
        with open(self.data, "wb") as f:
            f.write(line * int(args.mib * MIB // len(line)))


def order(names, rnd):
    return list(names) if rnd % 2 == 0 else list(reversed(names))


def med(values):
    return statistics.median(values) if values else None


def measure(ctx, rounds, log):
    """All measurements; returns a dict of lists per (section, contender)."""
    res = {"a": {}, "b50": {}, "b90": {}, "c": {"plain": [], "ptyproxy": []}, "d": {}}
    ratios = {"a": {p: [] for p in PAIRS}, "b": {p: [] for p in PAIRS}, "c": [],
              "d": {}}
    for rnd in range(rounds):
        log("round %d/%d" % (rnd + 1, rounds))
        got = {}
        for c in order(THROUGHPUT, rnd):
            r = run_emacs(ctx, "throughput", c)
            got[c] = float(r["seconds"])
            res["a"].setdefault(c, []).append(got[c])
            res.setdefault("reads", {}).setdefault(c, []).append(int(r["reads"]))
            res.setdefault("cpu", {}).setdefault(c, []).append(float(r["cpu"]))
        for pair in PAIRS:
            ratios["a"][pair].append(got[pair[1]] / got[pair[0]])
        got = {}
        for c in order(ECHO, rnd):
            r = run_emacs(ctx, "echo", c)
            got[c] = float(r["p50"])
            res["b50"].setdefault(c, []).append(got[c])
            res["b90"].setdefault(c, []).append(float(r["p90"]))
        for pair in PAIRS:
            ratios["b"][pair].append(got[pair[1]] / got[pair[0]])
        r = run_emacs(ctx, "firstuse")
        res["c"]["plain"].append(float(r["plain"]))
        res["c"]["ptyproxy"].append(float(r["ptyproxy"]))
        res["c"]["native-comp"] = r.get("native-comp", "nil")
        ratios["c"].append(float(r["ptyproxy"]) - float(r["plain"]))
        if ctx.causes:
            for name, extra in order(CAUSES, rnd):
                got = {}
                for c in order(["pty", "pipe", "ptyproxy"], rnd):
                    got[c] = float(run_emacs(ctx, "throughput", c, extra)["seconds"])
                    res["d"].setdefault((name, c), []).append(got[c])
                ratios["d"].setdefault(name, []).append(got["ptyproxy"] / got["pty"])
            # The user setting that lets Emacs read ptyproxy's pipe in
            # 64 KiB pieces, for the terminals too.
            got = {}
            for c in order(THROUGHPUT, rnd):
                if c == "pipe":
                    continue
                got[c] = float(run_emacs(ctx, "throughput", c, {"BENCH_RPOM": "65536"})["seconds"])
                res.setdefault("e", {}).setdefault(c, []).append(got[c])
            for pair in PAIRS:
                ratios.setdefault("e", {}).setdefault(pair, []).append(got[pair[1]] / got[pair[0]])
    return res, ratios


def verdict(ratio):
    if ratio is None:
        return "?"
    return "met" if ratio <= 1.05 else "missed"


def report(ctx, rounds, res, ratios):
    ms = lambda v: "%.1f" % (v * 1000) if v is not None else "?"
    us = lambda v: "%.0f" % (v * 1e6) if v is not None else "?"
    lines = []
    w = lines.append
    w("## Emacs: what a user of vterm and term feels")
    w("")
    w("`python3 Benchmarks/emacs_bench.py` (this section and `emacs.png`): "
      "%s, Emacs in `--batch` (no redisplay), %s, %d rounds, contenders "
      "alternating (order reversed every other round), each measurement in a fresh "
      "Emacs, ratios taken within each round, medians. ptyproxy as given by "
      "`--ptyproxy` (%s). For throughput vterm keeps its 0.1 s redraw timer and the "
      "final redraw is timed; for keystrokes it redraws on every output, as after a "
      "key typed with `vterm-send-key`." % (
          datetime.date.today().isoformat(), platform.machine() + ", " + str(os.cpu_count())
          + " cores", rounds, os.path.relpath(ctx.ptyproxy, REPO)
          if ctx.ptyproxy.startswith(REPO) else ctx.ptyproxy))
    w("")
    w("1-minute load average at the start %.1f, at the end %.1f: other work shared "
      "the cores, and a relay is one more process that must be scheduled." % ctx.load)
    w("")
    w("### (a) %g MiB of `cat` output until all of it is in the buffer" % ctx.mib)
    w("")
    w("| contender | median s | MB/s | Emacs CPU s | reads by Emacs (filter calls) |")
    w("|---|---|---|---|---|")
    for c in THROUGHPUT:
        m = med(res["a"].get(c, []))
        w("| %s | %.3f | %.1f | %.3f | %d |" % (LABEL[c], m, ctx.mib * MIB / m / 1e6,
                                                med(res["cpu"][c]), med(res["reads"][c])))
    w("")
    w("| through ptyproxy / plain (per round) | median | rounds | target <= 1.05 |")
    w("|---|---|---|---|")
    for pair in PAIRS:
        r = ratios["a"][pair]
        w("| %s / %s | %.2f | %s | %s |" % (LABEL[pair[1]], LABEL[pair[0]], med(r),
                                           " ".join("%.2f" % x for x in r),
                                           verdict(med(r)) if pair[0] != "pty" else "(no target)"))
    w("")
    w("### (b) keystroke echo: one key sent, until its echo is in the buffer")
    w("")
    w("| contender | p50 us | p90 us |")
    w("|---|---|---|")
    for c in ECHO:
        w("| %s | %s | %s |" % (LABEL[c], us(med(res["b50"][c])), us(med(res["b90"][c]))))
    w("")
    w("| through ptyproxy / plain, p50 (per round) | median | rounds | target <= 1.05 |")
    w("|---|---|---|---|")
    for pair in PAIRS:
        r = ratios["b"][pair]
        w("| %s / %s | %.2f | %s | %s |" % (LABEL[pair[1]], LABEL[pair[0]], med(r),
                                           " ".join("%.2f" % x for x in r),
                                           verdict(med(r)) if pair[0] != "pty" else "(no target)"))
    w("")
    w("### (c) first use: the first `(vterm)` of a fresh Emacs, empty native-compilation cache")
    w("")
    w("native-comp available: %s. plain `(vterm)` %s ms, `(ptyproxy-vterm)` right after it "
      "%s ms; the difference (per round, median) %s ms (rounds: %s). The ERT test "
      "`ptyproxy-test-first-use-cost` fails above 50 ms." % (
          res["c"].get("native-comp"), ms(med(res["c"]["plain"])),
          ms(med(res["c"]["ptyproxy"])), ms(med(ratios["c"])),
          " ".join(ms(x) for x in ratios["c"])))
    if ctx.causes:
        w("")
        w("### (d) why the pipe through ptyproxy is slower than a pty: %g MiB of `cat`" % ctx.mib)
        w("")
        w("| Emacs setting | pty s | plain pipe s | through ptyproxy s | ptyproxy / pty |")
        w("|---|---|---|---|---|")
        for name, _ in CAUSES:
            w("| %s | %.3f | %.3f | %.3f | %.2f |" % (
                name, med(res["d"][(name, "pty")]), med(res["d"][(name, "pipe")]),
                med(res["d"][(name, "ptyproxy")]), med(ratios["d"][name])))
        w("")
        w("With `read-process-output-max` 65536 (a user setting, global in Emacs 28: a "
          "package cannot set it for one process), %g MiB of `cat`:" % ctx.mib)
        w("")
        w("| pair | plain s | through ptyproxy s | ratio (per round, median) |")
        w("|---|---|---|---|")
        for pair in PAIRS:
            w("| %s / %s | %.3f | %.3f | %.2f |" % (
                LABEL[pair[1]], LABEL[pair[0]], med(res["e"][pair[0]]),
                med(res["e"][pair[1]]), med(ratios["e"][pair])))
    w("")
    w("**Target** (through ptyproxy within 5%% of plain, or faster, on (a) and (b) for "
      "vterm and term): %s." % "; ".join(
          "%s %s %s (%.2f)" % (what, pair[0], verdict(med(ratios[key][pair])),
                               med(ratios[key][pair]))
          for key, what in (("a", "throughput"), ("b", "echo"))
          for pair in PAIRS[1:]))
    w("")
    w(WHY)
    w("")
    w("![Emacs end to end](emacs.png)")
    return "\n".join(lines) + "\n"


def chart(ctx, res, path):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("emacs_bench: gnuplot not found (gnuplot-nox): no chart", file=sys.stderr)
        return False
    dat = os.path.join(ctx.tmp, "chart.dat")
    with open(dat, "w") as f:
        for i, (plain, through) in enumerate(PAIRS):
            f.write('%d "%s" %f %f %f %f\n' % (
                i, plain, med(res["a"][plain]) * 1000, med(res["a"][through]) * 1000,
                med(res["b50"][plain]) * 1e6, med(res["b50"][through]) * 1e6))
    script = """
set terminal pngcairo size 900,360 noenhanced
set output '%s'
set multiplot layout 1,2 title 'Emacs end to end: plain vs through ptyproxy (medians)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set grid ytics
set title '(a) %g MiB of cat until in the buffer (ms)'
plot '%s' using 3:xtic(2) title 'plain', '' using 4 title 'through ptyproxy'
set yrange [0:*]
set title '(b) keystroke echo p50 (us)'
plot '%s' using 5:xtic(2) title 'plain', '' using 6 title 'through ptyproxy'
unset multiplot
""" % (path, ctx.mib, dat, dat)
    p = subprocess.run([gnuplot], input=script.encode(), capture_output=True, timeout=60)
    if p.returncode != 0:
        # pngcairo may be missing from gnuplot-nox: fall back to png.
        script = script.replace("pngcairo", "png")
        p = subprocess.run([gnuplot], input=script.encode(), capture_output=True, timeout=60)
    if p.returncode != 0:
        print("emacs_bench: gnuplot failed: %s" % p.stderr.decode(errors="replace"),
              file=sys.stderr)
        return False
    return True


def smoke(ctx):
    passed = failed = 0

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print("PASS: %s" % name)
        except (Failure, KeyError, ValueError) as e:
            failed += 1
            print("FAIL: %s: %s" % (name, e))

    def positive(v, what):
        if not (v > 0):
            raise Failure("%s: %r" % (what, v))
        return v

    for c in THROUGHPUT:
        check("throughput %s" % c, lambda c=c: positive(
            float(run_emacs(ctx, "throughput", c, timeout=120)["seconds"]), "seconds"))
    for c in ECHO:
        check("echo %s" % c, lambda c=c: positive(
            float(run_emacs(ctx, "echo", c, timeout=120)["p50"]), "p50"))

    def first():
        r = run_emacs(ctx, "firstuse", timeout=120)
        positive(float(r["plain"]), "plain")
        positive(float(r["ptyproxy"]), "ptyproxy")
    check("first use", first)
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


def main():
    # SIGTERM (a timeout, CI) ends the run through SystemExit, so that the
    # temporary directory is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=float, default=None)
    ap.add_argument("--keys", type=int, default=None)
    ap.add_argument("--no-causes", action="store_true", help="skip section (d)")
    ap.add_argument("--ptyproxy", default=None,
                    help="the binary (default: .build/release/ptyproxy, else .build/debug)")
    ap.add_argument("--emacs", default=os.environ.get("EMACS", "emacs"))
    ap.add_argument("--output", default=os.path.join(HERE, "BENCHMARKS.md"))
    args = ap.parse_args()
    if args.ptyproxy is None:
        for sub in (".build/release/ptyproxy", ".build/debug/ptyproxy"):
            if os.access(os.path.join(REPO, sub), os.X_OK):
                args.ptyproxy = os.path.join(REPO, sub)
                break
    if not args.ptyproxy or not os.access(args.ptyproxy, os.X_OK):
        sys.exit("emacs_bench: no ptyproxy binary (swift build -c release "
                 "-Xswiftc -static-executable, or --ptyproxy PATH)")
    if not shutil.which(args.emacs):
        sys.exit("emacs_bench: %s not found (Debian: emacs-nox)" % args.emacs)
    if args.mib is None:
        args.mib = 0.25 if args.smoke else 4
    if args.keys is None:
        args.keys = 20 if args.smoke else 200
    base = os.environ.get("TMPDIR", "/tmp")
    if len(base) > 40:
        base = "/tmp"
    with tempfile.TemporaryDirectory(prefix="ppx-eb.", dir=base) as tmp:
        os.environ["XDG_RUNTIME_DIR"] = os.path.join(tmp, "run")
        os.mkdir(os.environ["XDG_RUNTIME_DIR"], 0o700)
        ctx = Context(args, tmp)
        ctx.causes = not args.no_causes
        if args.smoke:
            sys.exit(0 if smoke(ctx) else 1)
        log = lambda s: print("emacs_bench: " + s, file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        try:
            res, ratios = measure(ctx, args.rounds, log)
        except Failure as e:
            sys.exit("emacs_bench: %s" % e)
        ctx.load = (load_before, os.getloadavg()[0])
        text = report(ctx, args.rounds, res, ratios)
        png = os.path.join(os.path.dirname(os.path.abspath(args.output)), "emacs.png")
        if not chart(ctx, res, png):
            text = text.replace("\n![Emacs end to end](emacs.png)", "")
        report_sections.replace_section(args.output, "emacs", text)
        print(text)


if __name__ == "__main__":
    main()
