# SPDX-License-Identifier: MIT
"""Keystroke workload: one byte in, its echo back, timed per round trip.
"""
import errno
import gc
import os
import time

from bench_runner import Timeout, Watchdog, fail, launch, read_until


class KeySession:
    """CMD = benchtool rawecho (raw mode, no echo, then a cat-like copy).  One
    byte is written to the relay's stdin and read back from its stdout, one
    at a time.  A full run keeps one session per contender open and takes
    the keystrokes in blocks, contender after contender, so that load from
    elsewhere on the machine falls on all of them alike."""

    def __init__(self, ctx, c, timeout=60):
        self.c = c
        self.rec = {"samples_ns": []}
        self.bad = 0
        self.timeout = timeout
        self.p = launch(ctx, c, [ctx.benchtool, "rawecho"])
        self._guard(lambda: read_until(self.p.out_r, b"READY"))

    def _guard(self, fn):
        if "error" in self.rec:
            return
        try:
            with Watchdog(self.timeout, "keystroke/" + self.c.name):
                fn()
        except (Timeout, EOFError, OSError) as e:
            self.p.kill()
            self.p.close()
            fail(self.rec, "%s" % e, self.p)

    def block(self, n):
        def run():
            w, r, one = self.p.in_w, self.p.out_r, b"a"
            samples = self.rec["samples_ns"]
            clock = time.perf_counter_ns
            gc.disable()
            try:
                for _ in range(n):
                    t = clock()
                    os.write(w, one)
                    got = os.read(r, 64)
                    samples.append(clock() - t)
                    if got != one:
                        self.bad += 1
                        if not got:
                            raise EOFError("EOF in the middle of the keystrokes")
            finally:
                gc.enable()
        self._guard(run)

    def finish(self):
        out = {}

        def run():
            os.write(self.p.in_w, b"\x04")
            rest = b""
            try:
                while True:
                    b = os.read(self.p.out_r, 4096)
                    if not b:
                        break
                    rest += b
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
            out["rest"] = rest
            out["code"] = self.p.wait()
        self._guard(run)
        rec, p, c = self.rec, self.p, self.c
        if "error" in rec:
            return rec
        p.close()
        rec["code"] = code = out["code"]
        if self.bad:
            return fail(rec, "%d of %d echoes were not the byte sent" % (self.bad, len(rec["samples_ns"])), p)
        if out["rest"].strip(b"\r\n"):
            return fail(rec, "unexpected output after the keystrokes: %r" % out["rest"][:80], p)
        if not c.status_ok(code, 0):
            return fail(rec, "exit status %s, expected %s" % (code, c.expected_desc(0)), p)
        return rec


def run_keystroke(ctx, c, n, timeout=60):
    k = KeySession(ctx, c, timeout)
    k.block(n)
    return k.finish()
