"""Structured logs: every event as one JSON line with its fields, the readable ones on stderr."""

from __future__ import annotations

import io
import json
import sys
import warnings

from twisted.logger import LogBeginner, Logger, LogPublisher

from hotline.logging import start_logging


def test_events_are_json_lines_with_their_fields_and_the_console_gets_info_and_above(tmp_path):
    """A call's events can be followed by its uniqueid in the file; debug stays off stderr."""
    publisher = LogPublisher()
    beginner = LogBeginner(publisher, io.StringIO(), sys, warnings)
    console = io.StringIO()
    path = start_logging(tmp_path / "logs", console=console, beginner=beginner)
    log = Logger(namespace="hotline.calls", observer=publisher)
    log.info("call {uniqueid} answered by {agent}", uniqueid="pbx-1.7", agent="1002")
    log.debug("call {uniqueid} queue position {pos}", uniqueid="pbx-1.7", pos=3)
    # Each record starts with RS (\x1e), which str.splitlines would take for a line break.
    events = [json.loads(line.lstrip("\x1e")) for line in path.read_text().split("\n") if line]
    assert [(e["uniqueid"], e["log_level"]["name"]) for e in events] == \
        [("pbx-1.7", "info"), ("pbx-1.7", "debug")]
    assert events[0]["agent"] == "1002" and events[0]["log_namespace"] == "hotline.calls"
    shown = console.getvalue()
    assert "call pbx-1.7 answered by 1002" in shown and "queue position" not in shown
