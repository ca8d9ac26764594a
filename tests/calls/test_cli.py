"""Tests for L{hotline.cli.calls}: the text the ``hotline calls`` command prints."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hotline.calls.service import CallService
from hotline.cli import calls as cli_calls
from hotline.cli.main import build_parser
from tests.calls.test_tracker import TrackerTestMixin


class RenderTests(TrackerTestMixin, SynchronousTestCase):
    """The table and the watch lines."""

    def test_table_lists_calls_agents_and_wallboard(self):
        """The table shows the talking call with its agent and lookup fields, the agent and totals."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.connect()
        self.clock.advance(75)
        text = cli_calls.render(CallService(tracker=self.tracker), self.clock.seconds())
        self.assertIn("CALLS (1)", text)
        row = next(line for line in text.splitlines() if line.strip().startswith("talking"))
        for cell in ("1:15", "13800138000", "hotline", "Agent 1001", "42", "yes", "2"):
            self.assertIn(cell, row)
        self.assertIn("AGENTS (1)", text)
        self.assertIn("answered 1, abandoned 0", text)

    def test_empty_view(self):
        """An empty view says so instead of printing empty tables."""
        text = cli_calls.render(CallService(tracker=self.tracker), self.clock.seconds())
        self.assertIn("(none)", text)
        self.assertIn("(none logged in)", text)

    def test_watch_lines(self):
        """The watch listener prints one line per change, naming the state and the cause at the end."""
        out: list[str] = []
        service = CallService(tracker=self.tracker)
        self.tracker.notifier.add_listener(
            cli_calls._printer(service, self.clock.seconds, lambda s, **kw: out.append(s)))
        self.arrive()
        self.hangup("citizen")
        self.assertIn("waiting #1", out[-2])
        self.assertIn("ended", out[-1])
        self.assertIn("Normal Clearing", out[-1])

    def test_registered(self):
        """``hotline calls --watch`` parses into the calls command."""
        args = build_parser().parse_args(["calls", "--watch"])
        self.assertTrue(args.watch)
        self.assertIs(args.func, cli_calls._calls)
