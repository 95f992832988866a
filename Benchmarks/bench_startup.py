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
