# SPDX-License-Identifier: MIT
"""Throughput workload: bulk text through the pty to the host's pipe,
with the relay's CPU time and peak memory.
"""
import os
import time

from bench_runner import GIB, HwmPoller, MIB, Timeout, Watchdog, fail, launch


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
