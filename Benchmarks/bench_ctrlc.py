# SPDX-License-Identifier: MIT
"""^C workloads: how fast the relay exits on ^C under a flood, and how
much held output still reaches the host after ^C.
"""
import fcntl
import os
import signal
import struct
import termios
import time

from bench_runner import Drain, Timeout, Watchdog, fail, launch, read_until


def run_ctrlc(ctx, c, timeout=30):
    """CMD = yes.  While the harness drains the flood, it writes 0x03 to the
    relay's stdin and times until the relay has exited (wait4 returned)."""
    rec = {}
    p = launch(ctx, c, ["yes"])
    d = Drain(p.out_r)
    d.start()
    try:
        with Watchdog(timeout, "ctrl-c/" + c.name):
            deadline = time.monotonic() + 10
            while d.count < 256 * 1024 and d.t_eof is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if d.count < 256 * 1024:
                raise Timeout("the flood did not start (%d bytes)" % d.count)
            time.sleep(0.05)
            t0 = time.perf_counter()
            os.write(p.in_w, b"\x03")
            code = p.wait()
            t1 = time.perf_counter()
            if c.kind == "floor":
                os.close(p.out_r)  # nothing else holds the master
                p.fds = []
            d.join(10)
    except (Timeout, OSError) as e:
        p.kill()
        d.join(5)
        p.close()
        return fail(rec, str(e), p)
    alive = d.is_alive()
    p.close()
    rec["ms"] = (t1 - t0) * 1e3
    rec["flood_bytes"] = d.count
    rec["code"] = code
    want = 130 if c.kind != "floor" else -signal.SIGINT
    if c.kind == "floor":
        if code != want:
            return fail(rec, "yes exited %s, expected killed by SIGINT" % code, p)
    elif not c.status_ok(code, want):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(want)), p)
    if alive:
        return fail(rec, "stdout still open 10 s after the relay exited (fd leaked to a child?)", p)
    return rec


FLUSH_SCRIPT = "trap 'echo TRAPPED' INT; echo READY; read go; yes; echo AFTER"
FLUSH_STALL_S = 0.3           # the host stops reading while yes floods
FLUSH_REACT_S = 0.05          # after ^C, before the host reads again


def queued_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def run_ctrlc_flush(ctx, c, timeout=30):
    """CMD = bash running yes, with a trap on SIGINT that prints TRAPPED.
    The host stops reading for FLUSH_STALL_S while yes floods, notes what its
    pipe holds (FIONREAD), writes 0x03, waits FLUSH_REACT_S (any relay may
    pass the ^C on meanwhile) and reads everything.  The figure: the bytes
    before TRAPPED beyond what the host's pipe held at ^C, i.e. what the
    relay and the pty let through after ^C.  On a terminal the kernel flushes
    its output queue (ISIG, NOFLSH clear); the floor is a pty the harness
    reads directly, its pipe being the master's own queue."""
    rec = {}
    p = launch(ctx, c, ["bash", "-c", FLUSH_SCRIPT])
    try:
        with Watchdog(timeout, "ctrlc-flush/" + c.name):
            read_until(p.out_r, b"READY")
            os.write(p.in_w, b"go\n")
            time.sleep(FLUSH_STALL_S)
            queued = queued_bytes(p.out_r)
            os.write(p.in_w, b"\x03")
            time.sleep(FLUSH_REACT_S)
            after = read_until(p.out_r, b"AFTER")
            code = p.wait()
    except (Timeout, EOFError, OSError) as e:
        p.kill()
        p.close()
        return fail(rec, str(e), p)
    p.close()
    trapped = after.find(b"TRAPPED")
    if trapped < 0:
        return fail(rec, "no TRAPPED line after ^C", p)
    rec["queued"] = queued
    rec["after"] = trapped
    rec["beyond"] = trapped - queued
    if c.kind != "floor" and not c.status_ok(code, 0):
        return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(0)), p)
    return rec
