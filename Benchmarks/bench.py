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
the "Method" section of the generated BENCHMARKS.md (METHOD in
bench_report.py).

This file drives the runs (smoke, full, --only); the rest lives beside it:
    bench_runner.py      sizes, contenders, spawning, timing, statistics
    bench_throughput.py  bench_keystroke.py  bench_ctrlc.py  bench_startup.py
    bench_resize.py      bench_allocs.py     one workload each
    bench_setup.py       tools, helper and ptyproxy builds, machine facts
    bench_report.py      analysis, verdicts, BENCHMARKS.md and the chart
    report_sections.py   the sections of BENCHMARKS.md other harnesses own
"""
import argparse
import math
import os
import shlex
import shutil
import sys
import tempfile
import time

import report_sections
from bench_runner import (ALLOC_SIZES_MIB, CLI_RESIZES, CTRLC_PER_ROUND, Contender, Context,
                          DEFAULT_ROUNDS, HERE, KEYSTROKES, KEY_BLOCK, REPO, RESIZES, SOCAT_UNSAFE,
                          STARTUPS_PER_ROUND, THROUGHPUT_BYTES, fail, fmt, make_contenders, pct,
                          seed_variants)
from bench_throughput import run_throughput
from bench_keystroke import KeySession, run_keystroke
from bench_ctrlc import run_ctrlc, run_ctrlc_flush
from bench_startup import run_false, run_startup
from bench_resize import run_resize
from bench_allocs import run_allocs
from bench_setup import build_ptyproxy, compile_helpers, find_tools, machine_info
from bench_report import (analyse, ctrlc_flush_section, seed_rows, verdicts, write_chart,
                          write_markdown)


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
    ap.add_argument("--machine-note", metavar="TEXT",
                    help="a sentence about the machine for the report, e.g. that other work shared it")
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
