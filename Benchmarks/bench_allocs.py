# SPDX-License-Identifier: MIT
"""Allocation workload: heap allocations of the relay over a throughput
run, counted by alloccount.so.
"""

from bench_runner import Contender, MIB, fail
from bench_throughput import run_throughput


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
