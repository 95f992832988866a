# SPDX-License-Identifier: MIT
"""Report writer of the benchmark harness: the analysis of a full run,
the verdicts against ptyproxy's targets, BENCHMARKS.md (keeping the sections
other harnesses own, see report_sections.py) and the PNG chart.
"""
import datetime
import math
import os
import shlex
import subprocess
import sys
import time

import report_sections
from bench_runner import (ALLOC_SIZES_MIB, CTRLC_PER_ROUND, HERE, KEYSTROKES, KEY_BLOCK, MIB,
                          STARTUPS_PER_ROUND, fmt, med, ok_runs, paired, pct, per_round)
from bench_ctrlc import FLUSH_REACT_S, FLUSH_STALL_S


# ptyproxy's targets (issue 5).
T_THROUGHPUT_RATIO = 1.00     # >= c-relay
T_CPU_RATIO = 1.10            # <= 1.1x c-relay
T_KEY_P50_DELTA_US = 5.0      # p50 within 5 us of c-relay
T_KEY_P99_US = 100.0
T_STARTUP_RATIO = 1.00        # <= socat
T_STARTUP_CRELAY_RATIO = 1.30  # <= 1.3x c-relay (issue 17)
T_CTRLC_MS = 50.0
T_RESIZE_P99_MS = 2.0
T_RSS_MIB = 6.0
T_ALLOCS_PER_MIB = 0.1        # "0": fewer than one allocation per 10 MiB


def load_average():
    """The 1, 5 and 15 minute load averages, as the reports quote them."""
    return "%.2f %.2f %.2f" % os.getloadavg()


def utc_now():
    """The time a report is generated, as the reports quote it."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command_line(script):
    """The command line that ran Benchmarks/SCRIPT, to quote in its report."""
    return shlex.join(["python3", "Benchmarks/" + script] + sys.argv[1:])


def publish(text, section):
    """Prints a harness's report; with SECTION, also puts it into
    BENCHMARKS.md as that section."""
    print(text)
    if section:
        report_sections.replace_section(os.path.join(HERE, "BENCHMARKS.md"), section, text)


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
    if "c-relay" in A["st"]:
        for name, s in A["st"].items():
            s["ratio_crelay"] = paired(s["r_med"], A["st"]["c-relay"]["r_med"], lambda a, b: a / b)
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
    if st and st["n"] and "c-relay" in A["st"]:
        r, lo, hi = st["ratio_crelay"]
        rows.append(("Start-up vs the C relay", "at most 1.3x the C relay's",
                     "%.2f ms vs %.2f ms: ratio %.2f" % (st["median"], A["st"]["c-relay"]["median"], r),
                     v(r <= T_STARTUP_CRELAY_RATIO), "rounds %.2f..%.2f" % (lo, hi)))
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
    note = (" " + ctx.args.machine_note.strip()) if ctx.args.machine_note else ""
    L.append("Machine: %d CPUs (%s), %s, %s memory.%s  \n" % (info["nproc"], info["cpu"], info["kernel"], info["mem"],
                                                            note))
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
        rc = s.get("ratio_crelay", (float("nan"),) * 3)
        rows.append((name, fmt(s["median"], "%.2f"), fmt(s["min"], "%.2f"), fmt(s["p90"], "%.2f"),
                     "%s (%s..%s)" % (fmt(r[0], "%.2f"), fmt(r[1], "%.2f"), fmt(r[2], "%.2f")),
                     "%s (%s..%s)" % (fmt(rc[0], "%.2f"), fmt(rc[1], "%.2f"), fmt(rc[2], "%.2f")),
                     "%d%s" % (s["n"], (", %d failed" % s["failed"]) if s["failed"] else "")))
    L.append(md_table(["relay", "median ms", "min ms", "p90 ms", "x socat", "x c-relay", "runs"], rows))
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
