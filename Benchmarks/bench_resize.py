# SPDX-License-Identifier: MIT
"""Resize workload: resizes through the control socket and the CLI, timed
until the child sees the new size.
"""
import gc
import os
import select
import socket
import time

from bench_runner import Drain, Launched, Timeout, Watchdog, fail, launch


def socket_path_rule(sid):
    """The control socket path the interface promises (docs/INTERFACE.md)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        d = os.path.join(xdg, "ptyproxy")
    else:
        d = os.path.join(os.environ.get("TMPDIR") or "/tmp", "ptyproxy-%d" % os.getuid())
    return os.path.join(d, sid + ".sock")


class LineReader:
    """Lines from the FIFO the child writes; gives up if `pid` has exited."""

    def __init__(self, fd, pid):
        self.fd = fd
        self.pid = pid
        self.acc = b""
        self.poll = select.poll()
        self.poll.register(fd, select.POLLIN)

    def readline(self):
        while b"\n" not in self.acc:
            if not self.poll.poll(250):
                # Still running?  (WNOWAIT: leave the status for wait4.)
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    raise EOFError("the relay exited while the harness waited for the child's line")
                continue
            b = os.read(self.fd, 4096)
            if not b:
                raise EOFError("EOF on the FIFO")
            self.acc += b
        line, self.acc = self.acc.split(b"\n", 1)
        return line.decode()


def run_resize(ctx, c, n, cli_n, timeout=60):
    """CMD = benchtool winch FIFO: prints the size it reads with TIOCGWINSZ
    on every SIGWINCH to a FIFO of the harness.  Timed: connect to the
    control socket, send "resize C R", read the reply, until the child's line
    "C R" has arrived.  Each request changes the size.  Then cli_n times the
    same through `ptyproxy resize ID C R` (a process per request)."""
    rec = {}
    fifo = ctx.path("winch.fifo")
    os.mkfifo(fifo, 0o600)
    ffd = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)  # never EOF, never blocks open
    sid = ctx.next_id()
    p = launch(ctx, c, [ctx.benchtool, "winch", fifo], sid=sid)
    d = Drain(p.out_r)
    d.start()
    lines = LineReader(ffd, p.pid)
    sock_samples, cli_samples = [], []
    try:
        with Watchdog(timeout, "resize/" + c.name):
            first = lines.readline()
            ready = lines.readline()
            sockpath = first.split(" ", 1)[1] if first.startswith("SOCKET ") else ""
            rec["socket"] = sockpath
            if ready != "READY 80 24":
                raise EOFError("child saw %r at start, expected 'READY 80 24'" % ready)
            want_path = socket_path_rule(sid)
            if sockpath != want_path:
                ctx.problems.append(("resize", c.name, "PTYPROXY_SOCKET is %r, INTERFACE.md says %r"
                                     % (sockpath, want_path)))
            clock = time.perf_counter_ns
            bad = []
            gc.disable()
            try:
                for i in range(n + cli_n):
                    cols, rows = 81 + i % 2, 25 + i % 2
                    if i < n:
                        t = clock()
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.connect(sockpath)
                        s.sendall(b"resize %d %d\n" % (cols, rows))
                        reply = b""
                        while not reply.endswith(b"\n"):
                            b = s.recv(256)
                            if not b:
                                break
                            reply += b
                        s.close()
                        seen = lines.readline()
                        sock_samples.append(clock() - t)
                        want_reply = "ok %d %d" % (cols, rows)
                        if reply.decode().strip() != want_reply:
                            bad.append("reply %r, expected %r" % (reply, want_reply))
                    else:
                        t = clock()
                        q = Launched([ctx.ptyproxy, "resize", sid, str(cols), str(rows)],
                                     ctx.env, ctx.path("stderr"))
                        code = q.wait()
                        q.close()
                        seen = lines.readline()
                        cli_samples.append(clock() - t)
                        if code != 0:
                            bad.append("ptyproxy resize exited %s: %s" % (code, q.stderr()))
                    if seen != "%d %d" % (cols, rows):
                        bad.append("child saw %r, expected '%d %d'" % (seen, cols, rows))
            finally:
                gc.enable()
            os.write(p.in_w, b"q\n")
            code = p.wait()
            d.join(10)
    except (Timeout, EOFError, OSError, IndexError) as e:
        p.kill()
        d.join(5)
        p.close()
        os.close(ffd)
        return fail(rec, "%s: %s" % (type(e).__name__, e), p)
    p.close()
    os.close(ffd)
    rec["sock_ns"] = sock_samples
    rec["cli_ns"] = cli_samples
    rec["code"] = code
    if bad:
        return fail(rec, "%d bad resizes, first: %s" % (len(bad), bad[0]), p)
    if code != 0:
        return fail(rec, "exit status %s, expected 0" % code, p)
    if sockpath and os.path.exists(sockpath):
        return fail(rec, "control socket %s still exists after exit" % sockpath, p)
    return rec
