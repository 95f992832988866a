# SPDX-License-Identifier: MIT
"""Sections of BENCHMARKS.md that other harnesses own.

BENCHMARKS.md is one report written by several harnesses: bench.py writes the
Linux relay figures and rewrites the whole file; the Windows harness (under
Wine) and the Emacs harness each own one section of it. A section is the text
between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``. A harness
replaces its own section (or appends it), and bench.py keeps every section it
finds when it rewrites the file, so no harness erases another's figures.
"""
import os
import re

_SECTION = re.compile(r"<!-- section:([A-Za-z0-9_-]+) -->\n.*?<!-- /section:\1 -->\n", re.S)


def _wrap(name, text):
    return "<!-- section:%s -->\n%s\n<!-- /section:%s -->\n" % (name, text.rstrip("\n"), name)


def read_sections(path):
    """The owned sections of the report at ``path``, in order, as full blocks."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [m.group(0) for m in _SECTION.finditer(f.read())]


def replace_section(path, name, text):
    """Put ``text`` as section ``name`` of the report at ``path``: in place of
    the old one, or appended when there is none."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    block = _wrap(name, text)
    pattern = re.compile(r"<!-- section:%s -->\n.*?<!-- /section:%s -->\n" % (re.escape(name), re.escape(name)), re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old, count=1)
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block
    with open(path, "w") as f:
        f.write(new)
