#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes the ConPTY fixture of the Emacs tests: what a real pseudo console
sends, and how a real terminal shows it.

    python3 emacs/test/conpty-capture.py

Runs ptyproxy.exe (windows/build, `make -C windows`) under Wine with cmd.exe
(through windows/e2e's conhelper.exe, `make -C windows/e2e`) in a private
prefix, types a title change, non-ASCII text, `cls` and `dir`, and writes:

- conpty-capture.bin: the bytes ptyproxy.exe sent, then a tail written
  here (marked below) with what Wine's conhost does not send but Windows's
  does: ECH (CSI n X) and an OSC ended by ESC backslash;
- conpty-capture.screen: the 80x24 screen pyte (Debian: python3-pyte)
  renders from the same bytes, one line per row without trailing blanks,
  then "title: " and the window title.

ptyproxy-test.el replays the bytes through the package's Windows filter
into term.el and compares the screen with this one. Needs Wine, mingw-w64
and pyte; the fixture is committed, so the ERT test needs none of them.
"""
import os
import re
import sys
import tempfile

import pyte

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "windows", "e2e"))
import winehost  # noqa: E402

COLS, ROWS = 80, 24
PROMPT = re.compile(rb">\s*$")

# Sequences Windows's conhost sends and Wine 8's does not (it repaints with
# EL and cursor moves): ECH inside a line, ECH past the line's end, ECH to
# the last column then text, an OSC title ended by ST, an OSC that is not a
# title. (ECH while a wrap is pending is left out: pyte erases nothing
# there, xterm and conhost the last column; ptyproxy-test.el checks it.)
WINDOWS_TAIL = (b"\r\nerase-me-please\r\x1b[6C\x1b[3X"
                b"\r\nkeep-the-start-of-this-line\x1b[14D\x1b[200X"
                b"\r\nabcdefghij\x1b[3D\x1b[80XZ"
                b"\x1b]2;Last \xe6\x97\xa5 title\x1b\\"
                b"\x1b]9;4;1;50\x07"
                b"\r\nend\xc3\xa9")


def capture():
    exe = os.path.join(ROOT, "windows", "build", "ptyproxy.exe")
    helper = os.path.join(ROOT, "windows", "e2e", "build", "conhelper.exe")
    missing = winehost.missing_tools([exe, helper])
    if missing:
        sys.exit("conpty-capture: missing: " + ", ".join(missing))
    prefix = winehost.WinePrefix()
    work = tempfile.mkdtemp(prefix="ppx-capture-")
    try:
        prefix.start()
        os.mkdir(os.path.join(work, "Jos\u00e9\u65e5\u672c"))
        with open(os.path.join(work, "a.txt"), "w") as f:
            f.write("0123456789\n")
        session = winehost.WinProcess(prefix, [winehost.winpath(exe), "new", "capture", str(COLS), str(ROWS),
                                               winehost.winpath(helper) + " cmd.exe /k cd /d "
                                               + winehost.winpath(work)])
        session.wait_text(PROMPT, 60)
        for line in ("title Hello \u65e5\u672c", "echo Jos\u00e9 \u65e5\u672c", "dir /w", "cls", "dir /w",
                     "exit 3"):
            mark = len(session.out)
            session.send(line.encode() + b"\r")
            if line.startswith("exit"):
                break
            session.wait_text(PROMPT, 30, start=mark)
        code = session.wait(30)
        if code != 3:
            sys.exit("conpty-capture: cmd.exe exited %r, expected 3" % code)
        return bytes(session.out)
    finally:
        prefix.stop()
        for name in sorted(os.listdir(work), reverse=True):
            path = os.path.join(work, name)
            (os.rmdir if os.path.isdir(path) else os.remove)(path)
        os.rmdir(work)


def render(data):
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    stream.feed(data)
    lines = [line.rstrip() for line in screen.display]
    return "\n".join(lines + ["title: " + screen.title]) + "\n"


def main():
    data = capture() + WINDOWS_TAIL
    with open(os.path.join(HERE, "conpty-capture.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(HERE, "conpty-capture.screen"), "w", encoding="utf-8") as f:
        f.write(render(data))
    print("conpty-capture: %d bytes" % len(data))


if __name__ == "__main__":
    main()
