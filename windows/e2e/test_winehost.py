#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of the Wine runners' shared loop (winehost.py: Report,
Refusals, settle), without Wine: a stand-in prefix whose "leftovers" are
real Linux processes started here.

    python3 windows/e2e/test_winehost.py      (a step of make -C windows native-test)
"""
import contextlib
import io
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winehost import Failure, Refusals, Report, settle  # noqa: E402


class StandInPrefix:
    """What Report and settle use of a WinePrefix: its leftover processes."""

    def __init__(self):
        self.children = []

    def start_child(self):
        child = subprocess.Popen(["sleep", "60"])
        self.children.append(child)
        return child

    def leftovers(self, before):
        return {c.pid: "sleep 60" for c in self.children if c.poll() is None and c.pid not in before}

    def wait_for(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise Failure("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(0.05)

    def reap(self):
        for c in self.children:
            if c.poll() is None:
                c.kill()
            c.wait(10)


class ReportTests(unittest.TestCase):
    def setUp(self):
        self.prefix = StandInPrefix()
        self.addCleanup(self.prefix.reap)
        self.report = Report(self.prefix)

    def run_case(self, *args, **kwargs):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = self.report.case(*args, **kwargs)
        return result, out.getvalue()

    def test_a_pass_is_counted_and_named(self):
        result, out = self.run_case("fine", lambda: None)
        self.assertTrue(result)
        self.assertEqual((self.report.passed, self.report.failed), (1, 0))
        self.assertRegex(out, r"^ok   fine \(\d+\.\d s\)\n$")

    def test_a_quiet_pass_prints_nothing(self):
        self.assertEqual(self.run_case("fine", lambda: None, quiet=True), (True, ""))

    def test_a_failure_is_named_with_its_reason_and_leftovers_are_killed(self):
        child = self.prefix.start_child()

        def broken():
            raise Failure("expected 7, got 8")
        result, out = self.run_case("broken", broken, quiet=True)
        self.assertFalse(result)
        self.assertEqual((self.report.passed, self.report.failed), (0, 1))
        self.assertRegex(out, r"^FAIL broken \(\d+\.\d s\): expected 7, got 8\n$")
        self.assertEqual(child.wait(10), -9)     # the next case starts clean

    def test_a_case_that_hangs_fails_at_its_bound(self):
        started = time.monotonic()
        result, out = self.run_case("hangs", lambda: time.sleep(30), timeout=1)
        self.assertFalse(result)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("took longer than 1 s", out)

    def test_a_bug_of_the_harness_is_not_swallowed(self):
        with self.assertRaises(ZeroDivisionError):
            self.run_case("bug", lambda: 1 / 0)

    def test_summary_counts_and_exit_status(self):
        self.run_case("a", lambda: None)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = self.report.summary(["one note"])
        self.assertEqual(status, 0)
        self.assertTrue(out.getvalue().startswith("note: one note\n"))
        self.assertTrue(out.getvalue().endswith("1 passed, 0 failed\n"))
        with contextlib.redirect_stdout(io.StringIO()):
            self.report.fail("setup", "no prefix")
            self.assertEqual(self.report.summary(), 1)

    def test_settle_fails_on_leftovers_and_passes_without(self):
        settle(self.prefix, timeout=0.2)
        child = self.prefix.start_child()
        with self.assertRaisesRegex(Failure, "processes left behind"):
            settle(self.prefix, timeout=0.2)
        settle(self.prefix, before={child.pid}, timeout=0.2)


class RefusalsTests(unittest.TestCase):
    def test_a_refused_run_is_made_once_more(self):
        results = iter(["refused", "done"])
        refusals = Refusals("Wine refused", 3)
        self.assertEqual(refusals.run(lambda: next(results), lambda r: r == "refused"), "done")
        self.assertEqual(refusals.count, 1)
        refusals.check(100)

    def test_a_second_refusal_in_a_row_is_the_result(self):
        refusals = Refusals("Wine refused", 3)
        self.assertEqual(refusals.run(lambda: "refused", lambda r: r == "refused"), "refused")

    def test_more_refusals_than_the_limit_fail(self):
        refusals = Refusals("Wine refused", 1)
        refusals.run(lambda: "refused", lambda r: r == "refused")
        refusals.check(100)
        refusals.run(lambda: "refused", lambda r: r == "refused")
        self.assertEqual(refusals.count, 2)
        with self.assertRaisesRegex(Failure, "Wine refused in 2 of 100 runs"):
            refusals.check(100)

if __name__ == "__main__":
    unittest.main()
