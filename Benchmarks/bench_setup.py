# SPDX-License-Identifier: MIT
"""Set-up of a benchmark run: the tools it needs, the helpers it compiles,
the ptyproxy builds, and the description of the machine.
"""
import datetime
import os
import platform
import re
import shlex
import shutil
import subprocess
import time

from bench_runner import HERE, MIB, REPO


def find_tools(full, want_build):
    """Returns (tools, missing) where missing lists (tool, why, how to install)."""
    tools, missing = {}, []

    def need(name, why, pkg, required):
        path = shutil.which(name)
        if path:
            tools[name] = path
        elif required:
            missing.append((name, why, pkg))

    need("cc", "compiles c-relay.c and benchtool.c", "apt-get install gcc libc6-dev", True)
    need("script", "contender (util-linux script)", "apt-get install bsdutils", full)
    need("socat", "contender", "apt-get install socat", full)
    need("yes", "^C workload", "apt-get install coreutils", True)
    need("true", "start-up workload", "apt-get install coreutils", True)
    need("false", "exit status check", "apt-get install coreutils", True)
    if full:
        need("gnuplot", "the PNG chart", "apt-get install gnuplot-nox", True)
    if want_build:
        need("swift", "builds ptyproxy", "install the Swift toolchain (see the project README)", True)
    if full and "gnuplot" in tools:
        try:
            terms = subprocess.run([tools["gnuplot"], "-e", "set terminal"], capture_output=True,
                                   text=True, timeout=30)
            text = terms.stdout + terms.stderr
            tools["gnuplot_term"] = ("pngcairo" if re.search(r"^\s*pngcairo\s", text, re.M) else
                                     "png" if re.search(r"^\s*png\s", text, re.M) else None)
            if not tools["gnuplot_term"]:
                missing.append(("gnuplot png terminal", "the PNG chart",
                                "apt-get install gnuplot-nox (a build with pngcairo or png)"))
        except (OSError, subprocess.SubprocessError) as e:
            missing.append(("gnuplot", "the PNG chart (%s)" % e, "apt-get install gnuplot-nox"))
    return tools, missing


def compile_helpers(ctx):
    cc = ctx.tools["cc"]
    out = {}
    for src, exe, flags in (("benchtool.c", "benchtool", []), ("c-relay.c", "c-relay", ["-lutil"]),
                            ("alloccount.c", "alloccount.so", ["-shared", "-fPIC"])):
        dst = os.path.join(ctx.tmp, exe)
        cmd = [cc, "-O2", "-o", dst, os.path.join(HERE, src), *flags]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("bench: %s failed:\n%s\n(install: apt-get install gcc libc6-dev)"
                             % (shlex.join(cmd), r.stderr))
        out[exe] = dst
    return out


def startup_flags():
    """The Makefile's STARTUP_FLAGS, which the build the project ships uses."""
    cmd = ["make", "-s", "--no-print-directory", "-C", REPO, "startup-flags"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as error:
        raise SystemExit("bench: %s: %s (install: apt-get install make)" % (shlex.join(cmd), error))
    if r.returncode != 0 or not r.stdout.split():
        raise SystemExit("bench: %s failed:\n%s" % (shlex.join(cmd), r.stderr))
    return r.stdout.split()


def build_ptyproxy(static=True):
    """static: the build the README ships, a fully static executable (no
    dynamic loader, no shared Swift runtime or libc to map and relocate at
    start). Not static: the same code linked dynamically, which is the only
    kind LD_PRELOAD (alloccount.so) can look into."""
    scratch = os.path.join(REPO, ".build-bench" if static else ".build-bench-dynamic")
    cmd = ["swift", "build", "-c", "release", "--scratch-path", scratch]
    if static:
        cmd[4:4] = ["-Xswiftc", "-static-executable"] + startup_flags()
    print("bench: building ptyproxy: %s" % shlex.join(cmd), flush=True)
    t = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: the release build failed (exit %d):\n%s" % (
            r.returncode, (r.stdout + r.stderr)[-4000:]))
    print("bench: built in %.0f s" % (time.monotonic() - t), flush=True)
    exe = os.path.join(scratch, "release", "ptyproxy")
    if not os.access(exe, os.X_OK):
        raise SystemExit("bench: build succeeded but %s is missing" % exe)
    return exe


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        return lines[0].strip() if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def source_commit():
    """The commit the figures were measured on, `-dirty` when the work tree
    differs from it (a report must say what it measured), or "none yet"."""
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    if rev.returncode != 0:
        return "none yet"
    dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--"],
                           capture_output=True).returncode != 0
    return rev.stdout.strip() + ("-dirty" if dirty else "")


def machine_info(ctx):
    info = {}
    info["nproc"] = len(os.sched_getaffinity(0))
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = model
    u = os.uname()
    info["kernel"] = "%s %s %s" % (u.sysname, u.release, u.machine)
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["mem"] = "%.1f GiB" % (kb / MIB)
    except (OSError, ValueError, IndexError):
        info["mem"] = "?"
    info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    v = {}
    if ctx.ptyproxy:
        v["ptyproxy"] = first_line([ctx.ptyproxy, "--version"])
        v["ptyproxy"] += " (commit %s)" % source_commit()
    if shutil.which("swift"):
        v["swift"] = first_line(["swift", "--version"])
    v["cc"] = first_line([ctx.tools["cc"], "--version"])
    if "script" in ctx.tools:
        v["script"] = first_line([ctx.tools["script"], "--version"])
    if "socat" in ctx.tools:
        r = subprocess.run([ctx.tools["socat"], "-V"], capture_output=True, text=True)
        m = re.search(r"socat version (\S+)", r.stdout)
        v["socat"] = "socat " + (m.group(1) if m else "?")
    v["python"] = "Python %s" % platform.python_version()
    info["versions"] = v
    return info
