# SPDX-License-Identifier: MIT
"""Python's pty.spawn as a relay contender for the benchmark harness.

    python3 pty_spawn.py CMD [ARG...]

Runs CMD on a new pty with pty.spawn (stdin -> pty, pty -> stdout) and
exits with CMD's status, 128+N if CMD was killed by signal N.
"""
import os
import pty
import sys

status = pty.spawn(sys.argv[1:])
if os.WIFSIGNALED(status):
    sys.exit(128 + os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
