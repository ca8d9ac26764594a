# -*- test-case-name: tests.test_logging -*-
"""Structured logs: one JSON event per line in a file, a readable line on the console."""

from __future__ import annotations

import sys
from pathlib import Path

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
    textFileLogObserver,
)

from hotline.terminal import QuietStream

__all__ = ["start_logging"]


def start_logging(log_dir: Path, *, console_level: LogLevel = LogLevel.info) -> Path:
    """Send every event to ``log_dir/controller.jsonl`` and info and above to stderr.

    Events carry their fields (``uniqueid``, ``call_id``, ``ticket_id`` ...) in the JSON
    file, so a call's life can be followed with one grep.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "controller.jsonl"
    jsonl = jsonFileLogObserver(open(path, "a", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    console = FilteringLogObserver(
        textFileLogObserver(QuietStream(sys.stderr)),  # a dead pipe must not stop anything
        [LogLevelFilterPredicate(defaultLogLevel=console_level)])
    globalLogBeginner.beginLoggingTo([jsonl, console], redirectStandardIO=False)
    return path
