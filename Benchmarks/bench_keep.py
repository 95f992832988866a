#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Kept sessions (`new --keep`, `attach`): throughput through a kept
session against a plain `new`, side by side, and the time from `attach`
to the first byte and to the end of a replay.

    python3 Benchmarks/bench_keep.py [--rounds N] [--mib M] [--attaches K]
                                     [--write] PTYPROXY

Throughput: each round runs `cat` of the same M MiB text file once through
`new` and once through `new --keep` (whose output the session's server
writes straight into the host's pipe), their order swapping every round;
the time is from the spawn to the host's pipe reaching end of file with
the exit status read. Attach: a kept session writes 64 KiB while
detached; `attach` is timed from its spawn to the first byte on its
stdout, and to the last byte of the replay. With --write, the tables go
into BENCHMARKS.md as the section "Kept sessions".
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_report import load_average, publish, utc_now

REPLAY = 64 * 1024


def drain(proc):
    """Reads the process's stdout to end of file; returns the byte count."""
    total = 0
    while True:
        chunk = os.read(proc.stdout.fileno(), 1 << 20)
        if not chunk:
            return total
        total += len(chunk)


def timed_cat(binary, options, sid, path, env):
    """Seconds from the spawn to EOF and exit of one `cat` of PATH."""
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "new", *options, "--", sid, "80", "24", "cat", path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    total = drain(proc)
    code = proc.wait()
    elapsed = time.monotonic() - t0
    proc.stdin.close()
    if code != 0 or total < os.path.getsize(path):
        raise SystemExit("bench_keep: %s: exit %s, %d bytes" % (" ".join(options) or "new", code, total))
    return elapsed


def status(binary, sid, env):
    r = subprocess.run([binary, "status", sid], capture_output=True, text=True, env=env)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise SystemExit("bench_keep: a session did not reach the state it should")


def timed_attach(binary, sid, env):
    """Milliseconds from `attach`'s spawn to its first byte, and to the last byte of the replay."""
    script = "read go; head -c %d /dev/zero | tr '\\0' a; exec sleep 60" % REPLAY
    front = subprocess.Popen([binary, "new", "--keep", sid, "80", "24", "sh", "-c", script],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    wait_for(lambda: status(binary, sid, env).get("attached"))
    front.stdin.write(b"go\r")
    front.stdin.flush()
    front.kill()  # the host dies: the session detaches and keeps the output
    front.wait()
    wait_for(lambda: status(binary, sid, env).get("buffered", 0) >= REPLAY)
    t0 = time.monotonic()
    attach = subprocess.Popen([binary, "attach", sid], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    got = len(os.read(attach.stdout.fileno(), 1 << 20))
    t1 = time.monotonic()
    while got < REPLAY:  # the echo of "go" comes first; the replay is at least 64 KiB
        got += len(os.read(attach.stdout.fileno(), 1 << 20))
    t2 = time.monotonic()
    subprocess.run([binary, "signal", sid, "KILL"], capture_output=True, env=env)
    attach.wait()
    return (t1 - t0) * 1e3, (t2 - t0) * 1e3


def main():
    ap = argparse.ArgumentParser(description="kept sessions: throughput and attach latency")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--attaches", type=int, default=20)
    ap.add_argument("--write", action="store_true", help="put the tables into BENCHMARKS.md")
    ap.add_argument("ptyproxy")
    args = ap.parse_args()
    binary = os.path.abspath(args.ptyproxy)
    env = dict(os.environ)
    work = tempfile.mkdtemp(prefix="ptyproxy-keep-", dir="/tmp")
    env["XDG_RUNTIME_DIR"] = work
    os.chmod(work, 0o700)
    path = os.path.join(work, "text")
    with open(path, "wb") as f:
        line = b"".join(b"%07d the quick brown fox jumps over the lazy dog\n" % i for i in range(1000))
        for _ in range(args.mib * (1 << 20) // len(line)):
            f.write(line)
    load_before = load_average()
    plain, kept, ratios = [], [], []
    for rnd in range(args.rounds):
        order = [[], ["--keep"]] if rnd % 2 == 0 else [["--keep"], []]
        times = {}
        for options in order:
            times[bool(options)] = timed_cat(binary, options, "keep-bench-%d-%d" % (rnd, len(options)), path, env)
        plain.append(times[False])
        kept.append(times[True])
        ratios.append(times[True] / times[False])
        print("bench_keep: round %d/%d: new %.2f s, new --keep %.2f s" % (rnd + 1, args.rounds, times[False], times[True]),
              file=sys.stderr)
    first, whole = [], []
    for n in range(args.attaches):
        a, b = timed_attach(binary, "keep-attach-%d" % n, env)
        first.append(a)
        whole.append(b)
    load_after = load_average()
    os.unlink(path)
    mb = args.mib * (1 << 20) / 1e6
    text = "\n".join([
        "## Kept sessions",
        "",
        "Generated by `python3 Benchmarks/bench_keep.py --rounds %d --mib %d --attaches %d PTYPROXY` on %s;"
        % (args.rounds, args.mib, args.attaches, utc_now()),
        "load average before %s, after %s (%d CPUs, shared with other work). Throughput: `cat` of a %d MiB"
        % (load_before, load_after, os.cpu_count(), args.mib),
        "text file through `new` and through `new --keep` in turn, their order swapping every round; from the",
        "spawn to end of file and exit. Attach: from `attach`'s spawn to its first byte, and to the end of a",
        "64 KiB replay, %d times." % args.attaches,
        "",
        "| figure | `new` | `new --keep` (attached) | kept / new, median of rounds (range) |",
        "|---|---|---|---|",
        "| throughput, MB/s | %.1f | %.1f | %.3f (%.3f..%.3f) |" % (
            mb / statistics.median(plain), mb / statistics.median(kept),
            1 / statistics.median(ratios), 1 / max(ratios), 1 / min(ratios)),
        "",
        "| attach | median | min | max |",
        "|---|---|---|---|",
        "| to the first byte | %.1f ms | %.1f ms | %.1f ms |" % (statistics.median(first), min(first), max(first)),
        "| to the end of a 64 KiB replay | %.1f ms | %.1f ms | %.1f ms |" % (statistics.median(whole), min(whole), max(whole)),
        ""])
    publish(text, "Kept sessions" if args.write else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
