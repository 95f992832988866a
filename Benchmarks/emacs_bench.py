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
              ptyproxy and through the C relay (Benchmarks/c-relay.c, the
              floor of any relay), and vterm and term each plain, through
              ptyproxy and through the C relay (started by the package's
              own code, where ptyproxy would be);
          (b) keystroke echo latency: one key sent to the terminal (running
              cat, echo on), until its echo is in the buffer, for the same
              terminal contenders;
          (c) ^C during a flood (`yes` in an interactive shell): from the
              ^C until the shell's prompt is back in the buffer, and the
              bytes that still arrived, for the same contenders;
          (d) first-use cost: in a fresh Emacs with an empty native
              compilation cache, the first (vterm) against the first
              (ptyproxy-vterm);
          (e) the causes: ptyproxy's pipe against a pty, a plain pipe and
              the C relay with read-process-output-max 4096 / 65536,
              adaptive read buffering on, and utf-8 decoding instead of
              binary.
        Ratios (through ptyproxy / plain, through ptyproxy / through the C
        relay) are taken within each round; the tables give medians and
        the per-round ratios.  The target is judged against the C relay:
        through ptyproxy within 5% of it, or better.  Writes the "emacs"
        section of Benchmarks/BENCHMARKS.md and the chart
        Benchmarks/emacs.png.

    python3 Benchmarks/emacs_bench.py --smoke [--ptyproxy PATH]
        Each measurement once, small: checks that every contender runs and
        gives a sane figure; writes nothing.  Ends with "N passed, N failed".

Every measurement runs in a fresh `emacs -Q --batch` (Benchmarks/emacs_bench.el
does the measuring inside Emacs and prints RESULT lines).  Standard library
only.  Needs emacs (emacs-nox), elpa-vterm, a C compiler (cc, for c-relay.c),
gnuplot (gnuplot-nox) for the chart.
"""

import argparse
import datetime
import os
import pickle
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

# Each family: (plain, through ptyproxy, through the C relay, name).
FAMILIES = [("pty", "ptyproxy", "c-relay", "pipe process"),
            ("vterm", "vterm-ptyproxy", "vterm-c-relay", "vterm"),
            ("term", "term-ptyproxy", "term-c-relay", "term")]
PAIRS = [(f[0], f[1]) for f in FAMILIES]          # ptyproxy against plain
RELAY_PAIRS = [(f[2], f[1]) for f in FAMILIES]    # ptyproxy against the C relay
HOP_PAIRS = [(f[0], f[2]) for f in FAMILIES]      # the C relay against plain
THROUGHPUT = ["pty", "pipe", "ptyproxy", "c-relay", "vterm", "vterm-ptyproxy", "vterm-c-relay",
              "term", "term-ptyproxy", "term-c-relay"]
ECHO = [c for c in THROUGHPUT if c != "pipe"]
INTR = ECHO
LABEL = {
    "pty": "Emacs pty process",
    "pipe": "Emacs pipe process (no terminal)",
    "ptyproxy": "pipe process through ptyproxy",
    "c-relay": "pipe process through the C relay",
    "vterm": "vterm",
    "vterm-ptyproxy": "vterm through ptyproxy",
    "vterm-c-relay": "vterm through the C relay",
    "term": "term",
    "term-ptyproxy": "term through ptyproxy",
    "term-c-relay": "term through the C relay",
}
TARGET = 1.05
# (e): variants of the environment, each applied to pty, pipe, ptyproxy and
# the C relay.
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
WHY = """What the figures say, and why:

- *Throughput* (a). Through ptyproxy is at the C relay's floor in all three
  families and within a few per cent of plain. Emacs's own CPU time and the
  number of reads are the same for every contender of a family (the CPU and
  reads columns): the differences in wall-clock time are time Emacs waited
  for the next piece, that is how soon the producer (`cat`, or the relay) was
  scheduled on a loaded machine. That is also why the rounds spread as they
  do, and why term through the C relay came out faster than plain term in
  most rounds.
- *Reads.* Emacs reads a process in pieces of at most `read-process-output-max`
  bytes (4096 by default in Emacs 28). A pty never gives more than about 4 KiB
  per read, whatever that variable says; a relay's pipe holds up to 64 KiB, so
  with `read-process-output-max` at 65536 Emacs reads it in 16 times fewer
  pieces (one filter call each), and term and vterm through ptyproxy are then
  faster than plain and at the C relay (last table). The package cannot do
  this for ptyproxy processes only: Emacs 28 reads the variable's global value
  at each read, not per process. emacs/README.md recommends it.
- *Filter calls and coding.* At the default, Emacs reads every contender the
  same number of times, and decoding costs all paths alike (the utf-8 row):
  ptyproxy processes use `no-conversion`/`binary`, as vterm and term do on a
  pty, so there is nothing to fix there.
- *Adaptive read buffering* makes no difference to throughput here; it delays
  the read of a process that sent little (a keystroke's echo), so the package
  turns it off for ptyproxy processes only (let-bound around `make-process`),
  and the C relay contenders are run the same way.
- *Pipe size.* Growing ptyproxy's stdout pipe to 1 MiB (last row of (e))
  moves the ratio within the spread of the rounds, so ptyproxy's default
  (leave the host's pipe alone) stays.
- *Echo* (b). The hop costs every relay something: the C relay's p50 is above
  plain's for the pipe process and term. Through ptyproxy the p50 is 9 to 18 us
  above the C relay's, which misses the target. The C relay's one thread does
  the whole round trip; ptyproxy's input path and output path are two threads,
  each of which must be woken and scheduled, and on a loaded 2-core machine a
  wake-up can wait for a core. That is the likely cause, not measured here
  (the hand measurement of issue 23, on a quieter machine, found ptyproxy at
  the relay's floor: 66-71 us against 61-80 us). The design keeps the input
  path a plain read and write on its own thread, so the package has nothing to
  shave; some 10-20 us is about a thousandth of a 60 Hz frame.
- *^C during a flood* (c) is missed by far, and the bytes column says why. The
  kernel flushes a pty's output queue when ^C arrives with ISIG on (4 KiB
  still arrive), but nothing flushes a relay's buffers: the C relay still
  delivers what its 128 KiB buffer and the pipe hold, ptyproxy what its two
  128 KiB output buffers (double buffering) and the pipe hold, and term and
  vterm render all of it before the prompt comes back. The fix is issue 15,
  finding 10: when the input path forwards INTR, QUIT or SUSP and the pty has
  ISIG on and NOFLSH off, drop the output ptyproxy holds, as the kernel does
  with its own queue; ptyproxy would then deliver less than the C relay, which
  never flushes.
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
        "BENCH_FLOOD": str(ctx.flood),
        "BENCH_C_RELAY": ctx.c_relay,
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
        self.flood = args.flood
        self.mib = args.mib
        self.c_relay = build_c_relay(tmp)
        self.data = os.path.join(tmp, "data")
        line = b"x" * 79 + b"\n"
        with open(self.data, "wb") as f:
            f.write(line * int(args.mib * MIB // len(line)))


def build_c_relay(tmp):
    """Compile Benchmarks/c-relay.c into tmp; return the binary."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise Failure("no C compiler (cc) for Benchmarks/c-relay.c (Debian: gcc)")
    exe = os.path.join(tmp, "c-relay")
    p = subprocess.run([cc, "-O2", "-o", exe, os.path.join(HERE, "c-relay.c"), "-lutil"],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise Failure("cc c-relay.c: %s" % p.stderr.decode(errors="replace")[-400:])
    return exe


def order(names, rnd):
    return list(names) if rnd % 2 == 0 else list(reversed(names))


def med(values):
    return statistics.median(values) if values else None


def add_ratios(into, got):
    """Append this round's ratios: through ptyproxy against plain and against
    the C relay, and the C relay against plain."""
    for group, pairs in (("plain", PAIRS), ("relay", RELAY_PAIRS), ("hop", HOP_PAIRS)):
        for pair in pairs:
            into[group].setdefault(pair, []).append(got[pair[1]] / got[pair[0]])


def save(ctx, path, rounds, res, ratios):
    """Keep the measurements of rounds rounds in path (for --report-from)."""
    keep = {k: getattr(ctx, k) for k in ("ptyproxy", "mib", "flood", "load", "causes")}
    with open(path, "wb") as f:
        pickle.dump({"ctx": keep, "rounds": rounds, "res": res, "ratios": ratios}, f)


def measure(ctx, rounds, log):
    """All measurements; returns a dict of lists per (section, contender).
    With ctx.save, the rounds done so far are kept after each round."""
    res = {"a": {}, "reads": {}, "cpu": {}, "b50": {}, "b90": {}, "c": {}, "cbytes": {},
           "d": {"plain": [], "ptyproxy": []}, "e": {}, "f": {}}
    ratios = {k: {"plain": {}, "relay": {}, "hop": {}} for k in ("a", "b", "c", "f")}
    ratios.update({"d": [], "e": {}, "e-relay": {}})
    for rnd in range(rounds):
        log("round %d/%d" % (rnd + 1, rounds))
        got = {}
        for c in order(THROUGHPUT, rnd):
            r = run_emacs(ctx, "throughput", c)
            got[c] = float(r["seconds"])
            res["a"].setdefault(c, []).append(got[c])
            res["reads"].setdefault(c, []).append(int(r["reads"]))
            res["cpu"].setdefault(c, []).append(float(r["cpu"]))
        add_ratios(ratios["a"], got)
        got = {}
        for c in order(ECHO, rnd):
            r = run_emacs(ctx, "echo", c)
            got[c] = float(r["p50"])
            res["b50"].setdefault(c, []).append(got[c])
            res["b90"].setdefault(c, []).append(float(r["p90"]))
        add_ratios(ratios["b"], got)
        got = {}
        for c in order(INTR, rnd):
            r = run_emacs(ctx, "intr", c)
            got[c] = float(r["seconds"])
            res["c"].setdefault(c, []).append(got[c])
            res["cbytes"].setdefault(c, []).append(int(r["bytes"]))
        add_ratios(ratios["c"], got)
        r = run_emacs(ctx, "firstuse")
        res["d"]["plain"].append(float(r["plain"]))
        res["d"]["ptyproxy"].append(float(r["ptyproxy"]))
        res["d"]["native-comp"] = r.get("native-comp", "nil")
        ratios["d"].append(float(r["ptyproxy"]) - float(r["plain"]))
        if ctx.causes:
            for name, extra in order(CAUSES, rnd):
                got = {}
                for c in order(["pty", "pipe", "ptyproxy", "c-relay"], rnd):
                    got[c] = float(run_emacs(ctx, "throughput", c, extra)["seconds"])
                    res["e"].setdefault((name, c), []).append(got[c])
                ratios["e"].setdefault(name, []).append(got["ptyproxy"] / got["pty"])
                ratios["e-relay"].setdefault(name, []).append(got["ptyproxy"] / got["c-relay"])
            # The user setting that lets Emacs read a relay's pipe in
            # 64 KiB pieces, for the terminals too.
            got = {}
            for c in order(THROUGHPUT, rnd):
                if c == "pipe":
                    continue
                got[c] = float(run_emacs(ctx, "throughput", c, {"BENCH_RPOM": "65536"})["seconds"])
                res["f"].setdefault(c, []).append(got[c])
            add_ratios(ratios["f"], got)
        if ctx.save:
            ctx.load = (ctx.load_before, os.getloadavg()[0])
            save(ctx, ctx.save, rnd + 1, res, ratios)
    return res, ratios


def verdict(ratio):
    if ratio is None:
        return "?"
    return "met" if ratio <= TARGET else "missed"


def rounds_text(values):
    return " ".join("%.2f" % x for x in values)


def ratio_table(w, ratios):
    """The per-family table: through ptyproxy against plain and against the
    C relay (median and every round), the C relay against plain, verdict."""
    w("| family | through ptyproxy / plain: median (rounds) | through ptyproxy / C relay: "
      "median (rounds) | C relay / plain | target: ptyproxy <= 1.05 x C relay |")
    w("|---|---|---|---|---|")
    for (plain, through, relay, name) in FAMILIES:
        rp = ratios["plain"][(plain, through)]
        rr = ratios["relay"][(relay, through)]
        rh = ratios["hop"][(plain, relay)]
        w("| %s | %.2f (%s) | %.3f (%s) | %.2f | %s |" % (
            name, med(rp), rounds_text(rp), med(rr), rounds_text(rr), med(rh), verdict(med(rr))))


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
    w("Three contenders per family: plain (no relay: what a user has without one), "
      "through ptyproxy, and through the C relay `Benchmarks/c-relay.c` (forkpty, one "
      "poll loop, one 128 KiB buffer): the same hop made by the smallest honest relay, "
      "so the floor of any relay. The C relay is started where ptyproxy would be: a pipe "
      "process with the same coding and no adaptive read buffering, and for term and "
      "vterm by the package's own code (`ptyproxy-make-term`, `ptyproxy-vterm`) with "
      "only the process swapped. Through ptyproxy against plain is what a user feels; "
      "against the C relay, what a relay can reach. The target is judged against the "
      "C relay: through ptyproxy within 5% of it, or faster.")
    w("")
    w("The run was made on a shared 2-core machine while other builds and tests ran "
      "(1-minute load average %.1f at the start, %.1f at the end): a relay is one more "
      "process that must be scheduled, so the per-round ratios spread; read the "
      "medians with the rounds beside them." % ctx.load)
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
    ratio_table(w, ratios["a"])
    w("")
    w("### (b) keystroke echo: one key sent, until its echo is in the buffer")
    w("")
    w("| contender | p50 us | p90 us |")
    w("|---|---|---|")
    for c in ECHO:
        w("| %s | %s | %s |" % (LABEL[c], us(med(res["b50"][c])), us(med(res["b90"][c]))))
    w("")
    w("Ratios of the p50:")
    w("")
    ratio_table(w, ratios["b"])
    w("")
    w("### (c) ^C during a flood: from the ^C until the prompt is back in the buffer")
    w("")
    w("An interactive `sh` runs `yes` with 80-byte lines; once %d KiB of it have "
      "arrived, the process filter sends the ^C byte (as a terminal does) and the time "
      "runs until the next prompt has been handled (vterm: and drawn). The bytes are "
      "what still arrived in between: what the kernel, the relay and the pipe held."
      % (ctx.flood // 1024))
    w("")
    w("| contender | median ms | p90 ms | KiB after ^C (median) |")
    w("|---|---|---|---|")
    for c in INTR:
        vals = sorted(res["c"][c])
        p90 = vals[min(len(vals) - 1, (9 * len(vals)) // 10)]
        w("| %s | %s | %s | %.0f |" % (LABEL[c], ms(med(vals)), ms(p90),
                                        med(res["cbytes"][c]) / 1024))
    w("")
    ratio_table(w, ratios["c"])
    w("")
    w("### (d) first use: the first `(vterm)` of a fresh Emacs, empty native-compilation cache")
    w("")
    w("native-comp available: %s. plain `(vterm)` %s ms, `(ptyproxy-vterm)` right after it "
      "%s ms; the difference (per round, median) %s ms (rounds: %s). The ERT test "
      "`ptyproxy-test-first-use-cost` fails above 50 ms. (The C relay is not a package: "
      "it has no first use to time.)" % (
          res["d"].get("native-comp"), ms(med(res["d"]["plain"])),
          ms(med(res["d"]["ptyproxy"])), ms(med(ratios["d"])),
          " ".join(ms(x) for x in ratios["d"])))
    if ctx.causes:
        w("")
        w("### (e) what the pipe costs: %g MiB of `cat`" % ctx.mib)
        w("")
        w("| Emacs setting | pty s | plain pipe s | through ptyproxy s | through the C relay s "
          "| ptyproxy / pty | ptyproxy / C relay |")
        w("|---|---|---|---|---|---|---|")
        for name, _ in CAUSES:
            w("| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |" % (
                name, med(res["e"][(name, "pty")]), med(res["e"][(name, "pipe")]),
                med(res["e"][(name, "ptyproxy")]), med(res["e"][(name, "c-relay")]),
                med(ratios["e"][name]), med(ratios["e-relay"][name])))
        w("")
        w("With `read-process-output-max` 65536 (a user setting, global in Emacs 28: a "
          "package cannot set it for one process), %g MiB of `cat`:" % ctx.mib)
        w("")
        w("| family | plain s | through ptyproxy s | through the C relay s "
          "| ptyproxy / plain | ptyproxy / C relay |")
        w("|---|---|---|---|---|---|")
        for (plain, through, relay, name) in FAMILIES:
            w("| %s | %.3f | %.3f | %.3f | %.2f | %.2f |" % (
                name, med(res["f"][plain]), med(res["f"][through]), med(res["f"][relay]),
                med(ratios["f"]["plain"][(plain, through)]),
                med(ratios["f"]["relay"][(relay, through)])))
    w("")
    sections = (("a", "throughput"), ("b", "echo"), ("c", "^C"))
    w("**Target** (through ptyproxy within 5%% of the C relay, or faster): %s." % "; ".join(
        "%s %s %s (%.3f)" % (what, name, verdict(med(ratios[key]["relay"][(relay, through)])),
                             med(ratios[key]["relay"][(relay, through)]))
        for key, what in sections for (plain, through, relay, name) in FAMILIES))
    w("")
    w("Against plain (the hop a user pays, which no relay avoids): %s." % "; ".join(
        "%s %s %.2f (C relay %.2f)" % (what, name, med(ratios[key]["plain"][(plain, through)]),
                                       med(ratios[key]["hop"][(plain, relay)]))
        for key, what in sections for (plain, through, relay, name) in FAMILIES))
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
        for i, (plain, through, relay, name) in enumerate(FAMILIES):
            f.write('%d "%s" %f %f %f %f %f %f %f %f %f\n' % (
                i, name,
                med(res["a"][plain]) * 1000, med(res["a"][relay]) * 1000,
                med(res["a"][through]) * 1000,
                med(res["b50"][plain]) * 1e6, med(res["b50"][relay]) * 1e6,
                med(res["b50"][through]) * 1e6,
                med(res["c"][plain]) * 1000, med(res["c"][relay]) * 1000,
                med(res["c"][through]) * 1000))
    script = """
set terminal pngcairo size 1350,380 noenhanced
set output '%s'
set multiplot layout 1,3 title 'Emacs end to end: plain, through the C relay, through ptyproxy (medians)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set grid ytics
set yrange [0:*]
set title '(a) %g MiB of cat until in the buffer (ms)'
plot '%s' using 3:xtic(2) title 'plain', '' using 4 title 'C relay', '' using 5 title 'ptyproxy'
set title '(b) keystroke echo p50 (us)'
plot '%s' using 6:xtic(2) title 'plain', '' using 7 title 'C relay', '' using 8 title 'ptyproxy'
set title '(c) ^C during a flood until the prompt (ms)'
plot '%s' using 9:xtic(2) title 'plain', '' using 10 title 'C relay', '' using 11 title 'ptyproxy'
unset multiplot
""" % (path, ctx.mib, dat, dat, dat)
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
    for c in INTR:
        check("^C %s" % c, lambda c=c: positive(
            float(run_emacs(ctx, "intr", c, timeout=120)["seconds"]), "seconds"))

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
    ap.add_argument("--flood", type=int, default=None,
                    help="bytes of the flood that arrive before ^C (default 64 KiB, smoke 16 KiB)")
    ap.add_argument("--no-causes", action="store_true", help="skip section (d)")
    ap.add_argument("--ptyproxy", default=None,
                    help="the binary (default: .build/release/ptyproxy, else .build/debug)")
    ap.add_argument("--emacs", default=os.environ.get("EMACS", "emacs"))
    ap.add_argument("--output", default=os.path.join(HERE, "BENCHMARKS.md"))
    ap.add_argument("--save", metavar="FILE",
                    help="also keep the measurements in FILE (Python pickle)")
    ap.add_argument("--report-from", metavar="FILE",
                    help="measure nothing: write the section and chart from a --save FILE")
    args = ap.parse_args()
    if args.report_from:
        with open(args.report_from, "rb") as f:
            saved = pickle.load(f)
        with tempfile.TemporaryDirectory(prefix="ppx-eb.") as tmp:
            ctx = argparse.Namespace(tmp=tmp, **saved["ctx"])
            write_report(ctx, args.output, saved["rounds"], saved["res"], saved["ratios"])
        return
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
    if args.flood is None:
        args.flood = 16384 if args.smoke else 65536
    base = os.environ.get("TMPDIR", "/tmp")
    if len(base) > 40:
        base = "/tmp"
    with tempfile.TemporaryDirectory(prefix="ppx-eb.", dir=base) as tmp:
        os.environ["XDG_RUNTIME_DIR"] = os.path.join(tmp, "run")
        os.mkdir(os.environ["XDG_RUNTIME_DIR"], 0o700)
        try:
            ctx = Context(args, tmp)
        except Failure as e:
            sys.exit("emacs_bench: %s" % e)
        ctx.causes = not args.no_causes
        if args.smoke:
            sys.exit(0 if smoke(ctx) else 1)
        log = lambda s: print("emacs_bench: " + s, file=sys.stderr, flush=True)
        load_before = ctx.load_before = os.getloadavg()[0]
        ctx.save = args.save
        try:
            res, ratios = measure(ctx, args.rounds, log)
        except Failure as e:
            sys.exit("emacs_bench: %s" % e)
        ctx.load = (load_before, os.getloadavg()[0])
        if args.save:
            save(ctx, args.save, args.rounds, res, ratios)
        write_report(ctx, args.output, args.rounds, res, ratios)


def write_report(ctx, output, rounds, res, ratios):
    """Write the "emacs" section of output and emacs.png beside it."""
    text = report(ctx, rounds, res, ratios)
    png = os.path.join(os.path.dirname(os.path.abspath(output)), "emacs.png")
    if not chart(ctx, res, png):
        text = text.replace("\n![Emacs end to end](emacs.png)", "")
    report_sections.replace_section(output, "emacs", text)
    print(text)


if __name__ == "__main__":
    main()
