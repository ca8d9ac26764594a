# -*- test-case-name: tests.test_logging -*-
"""Structured logs: one JSON event per line in a file, a readable line on the console."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from twisted.logger import (
    FilteringLogObserver,
    LogBeginner,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
    textFileLogObserver,
)

from hotline.terminal import QuietStream

__all__ = ["start_logging"]


def start_logging(log_dir: Path, *, console_level: LogLevel = LogLevel.info,
                  console: TextIO | None = None,
                  beginner: LogBeginner = globalLogBeginner) -> Path:
    """Send every event to ``log_dir/controller.jsonl`` and ``console_level`` and above to
    ``console`` (stderr).

    Events carry their fields (``uniqueid``, ``call_id``, ``ticket_id`` ...) in the JSON
    file, so a call's life can be followed with one grep. ``beginner`` is Twisted's global one
    except in tests, which must not take over the process's logging.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "controller.jsonl"
    jsonl = jsonFileLogObserver(open(path, "a", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    readable = FilteringLogObserver(
        textFileLogObserver(console or QuietStream(sys.stderr)),  # a dead pipe stops nothing
        [LogLevelFilterPredicate(defaultLogLevel=console_level)])
    beginner.beginLoggingTo([jsonl, readable], redirectStandardIO=False)
    return path
