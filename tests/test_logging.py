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
    events = [json.loads(line) for line in path.read_text("utf-8").split("\n") if line]
    assert [(e["uniqueid"], e["log_level"]["name"]) for e in events] == \
        [("pbx-1.7", "info"), ("pbx-1.7", "debug")]
    assert events[0]["agent"] == "1002" and events[0]["log_namespace"] == "hotline.calls"
    assert events[0]["text"] == "call pbx-1.7 answered by 1002"
    shown = console.getvalue()
    assert "call pbx-1.7 answered by 1002" in shown and "queue position" not in shown


def _logging(tmp_path):
    publisher = LogPublisher()
    beginner = LogBeginner(publisher, io.StringIO(), sys, warnings)
    console = io.StringIO()
    path = start_logging(tmp_path / "logs", console=console, beginner=beginner)
    return Logger(namespace="hotline.test", observer=publisher), path, console


def _events(path):
    return [json.loads(line) for line in path.read_text("utf-8").split("\n") if line]


def test_a_failure_is_written_with_its_traceback_in_both(tmp_path):
    """A logged failure keeps its traceback: in the file's text and, indented, on the
    console, under the event's own line."""
    log, path, console = _logging(tmp_path)
    try:
        raise ValueError("坏的输入")
    except ValueError:
        log.failure("handler {name} failed", name="inbound")
    (event,) = _events(path)
    assert event["log_level"]["name"] == "critical" and event["name"] == "inbound"
    assert event["text"].startswith("handler inbound failed\nTraceback")
    assert "ValueError: 坏的输入" in event["text"]
    shown = console.getvalue()
    assert "[hotline.test#critical] handler inbound failed\n\tTraceback" in shown
    assert "\tbuiltins.ValueError: 坏的输入" in shown


def test_fields_json_cannot_carry_and_formats_that_do_not_fill_still_log(tmp_path):
    """A field JSON has no form for is written as its repr, and an event whose format names a
    field it lacks is still written (saying it could not be formatted): logging never takes
    the caller down."""
    log, path, console = _logging(tmp_path)

    class Peer:
        def __repr__(self) -> str:
            return "<Peer pbx-2>"
    log.warn("peer {peer} slow", peer=Peer(), when={1, 2})
    log.error("missing {absent}")
    first, second = _events(path)
    assert first["peer"] == "<Peer pbx-2>" and first["text"] == "peer <Peer pbx-2> slow"
    assert first["when"] == "{1, 2}"
    assert second["log_format"] == "missing {absent}" and "Unable to format" in second["text"]
    assert console.getvalue().count("\n") == 2
