# SPDX-License-Identifier: MIT
"""Start-up workload: a whole run of `true` through the relay, and the
exit status check with `false`.
"""

from bench_runner import Timeout, Watchdog, fail, launch


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
    rec["cpu_ms"] = (p.ru.ru_utime + p.ru.ru_stime) * 1e3
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


# ----------------------------------------------------------------------------
# Run alone: start-up side by side.
#
#     python3 Benchmarks/bench_startup.py [--runs N] [--write] [LABEL=PATH ...]
#
# Each LABEL=PATH is a ptyproxy binary (default: ptyproxy=.build/release/ptyproxy);
# the C relay, script and `true` with no relay run in the same rounds, in an
# order that rotates every round, so that load from elsewhere on the machine
# falls on all of them alike. Prints wall and CPU medians and the ratios to
# the C relay (the median of the per-round ratios); --write also puts the
# table into BENCHMARKS.md as the section "startup-side-by-side".

def _measure(ctx, contenders, runs):
    import os
    import shutil
    samples = {c.name: [] for c in contenders}
    for rnd in range(runs):
        k = rnd % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            rec = run_startup(ctx, c)
            if "error" in rec:
                raise SystemExit("bench_startup: %s: %s" % (c.name, rec["error"]))
            samples[c.name].append(rec)
        if rnd % 10 == 9:
            # The sessions' directory keeps nothing, but a run that failed could.
            shutil.rmtree(os.path.join(ctx.tmp, "leftovers"), ignore_errors=True)
    return samples


def _table(contenders, samples):
    import statistics
    ref = samples.get("c-relay")
    rows = ["| relay | median wall ms | p10 | p90 | median CPU ms | wall x c-relay | CPU x c-relay | runs |",
            "|---|---|---|---|---|---|---|---|"]
    for c in contenders:
        recs = samples[c.name]
        wall = sorted(r["ms"] for r in recs)
        cpu = [r["cpu_ms"] for r in recs]

        def ratio(key):
            if not ref:
                return "n/a"
            return "%.2f" % statistics.median(a[key] / b[key] for a, b in zip(recs, ref) if b[key] > 0)
        rows.append("| %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %d |" % (
            c.name, statistics.median(wall), wall[len(wall) // 10], wall[len(wall) * 9 // 10],
            statistics.median(cpu), ratio("ms"), ratio("cpu_ms"), len(recs)))
    return "\n".join(rows)


def main():
    import argparse
    import datetime
    import os
    import shlex
    import shutil
    import subprocess
    import sys
    import tempfile
    import report_sections
    from bench_runner import Context, Contender, HERE, REPO, make_contenders
    from bench_setup import compile_helpers, find_tools

    ap = argparse.ArgumentParser(description="start-up side by side")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--write", action="store_true", help="put the table into BENCHMARKS.md")
    ap.add_argument("binaries", nargs="*", metavar="LABEL=PATH")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.binaries] or [["ptyproxy", os.path.join(REPO, ".build/release/ptyproxy")]]
    tools, missing = find_tools(False, False)
    if missing:
        raise SystemExit("bench_startup: missing %s" % ", ".join(m[0] for m in missing))
    tmp = tempfile.mkdtemp(prefix="ptyproxy-startup-", dir="/tmp")
    args.smoke = False
    ctx = Context(args, tmp)
    ctx.tools = tools
    try:
        helpers = compile_helpers(ctx)
        ctx.benchtool = helpers["benchtool"]
        have = {"c-relay": helpers["c-relay"], "script": shutil.which("script")}
        contenders = []
        for label, path in binaries:
            ctx.ptyproxy = os.path.abspath(path)
            c = make_contenders(ctx, {})[0]
            c.name = label
            contenders.append(c)
        contenders += [c for c in make_contenders(ctx, have) if c.name in ("c-relay", "script")]
        contenders.append(Contender("no relay (spawn true)", None, kind="floor"))
        load_before = "%.2f %.2f %.2f" % os.getloadavg()
        samples = _measure(ctx, contenders, args.runs)
        load_after = "%.2f %.2f %.2f" % os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = _table(contenders, samples)
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        "## Start-up side by side",
        "",
        "Generated by `%s` on %s, commit %s;"
        % (shlex.join(["python3", "Benchmarks/bench_startup.py"] + sys.argv[1:]), when, rev.stdout.strip() or "?"),
        "load average before %s, after %s (%d CPUs, shared)." % (load_before, load_after, os.cpu_count()),
        "CMD = `true`; wall time from `posix_spawn` of the relay to `wait4`; CPU is the",
        "relay's user + system time with its reaped child (wait4's rusage). The ratios",
        "are the medians of the per-round ratios; the order rotates every round.",
        "",
        table,
        ""])
    print(text)
    if args.write:
        report_sections.replace_section(os.path.join(HERE, "BENCHMARKS.md"), "startup-side-by-side", text)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
