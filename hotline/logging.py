# -*- test-case-name: tests.test_logging -*-
"""Structured logs: one JSON event per line in a file, a readable line on the console.

One observer writes both, from one formatting of the event. Twisted's own pair
(``jsonFileLogObserver`` and ``textFileLogObserver``) each formatted the event again and
flattened it for a reader nobody runs; at two lines per call they were a fifth of the reactor
thread's CPU in ``bench.burst`` (~100 µs an event in one process, ~35 µs this way).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any, TextIO

from twisted.logger import (
    ILogObserver,
    LogBeginner,
    LogEvent,
    LogLevel,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import implementer

from hotline.terminal import QuietStream

__all__ = ["start_logging", "LogLines"]

#: What an event carries for the logging system itself, not for the reader of the file.
_NOT_WRITTEN = frozenset({"log_logger", "log_source", "log_failure",
                          "log_level", "log_time", "log_trace", "log_io", "format", "message",
                          "isError", "failure", "why", "log_legacy"})


@implementer(ILogObserver)
class LogLines:
    """Each event as one JSON object on a line of ``jsonl`` (every level, with its fields,
    its text and any traceback), and as Twisted's classic readable line on ``console``
    (``console_level`` and above)."""

    def __init__(self, jsonl: IO[str], console: IO[str], console_level: LogLevel) -> None:
        self._jsonl = jsonl
        self._console = console
        self._console_level = console_level
        self._second = -1
        self._stamp = ""

    def __call__(self, event: LogEvent) -> None:
        text = formatEvent(event)  # Twisted's formatting: a format it cannot fill is said so
        failure = event.get("log_failure")
        if failure is not None:
            try:
                text = f"{text}\n{failure.getTraceback()}"
            except Exception:  # a failure that cannot describe itself still logs its event
                text = f"{text}\n(traceback unavailable)"
        when = event.get("log_time") or time.time()
        level = event.get("log_level") or LogLevel.info
        namespace = event.get("log_namespace", "-")
        record: dict[str, Any] = {key: value for key, value in event.items()
                                  if key not in _NOT_WRITTEN}
        record["log_time"] = when
        record["log_level"] = {"name": level.name}
        record["log_namespace"] = namespace
        record["text"] = text
        self._jsonl.write(json.dumps(record, ensure_ascii=False, default=repr) + "\n")
        self._jsonl.flush()
        if level >= self._console_level:
            system = event.get("log_system") or f"{namespace}#{level.name}"
            self._console.write(f"{self._timestamp(when)} [{system}] "
                                + text.replace("\n", "\n\t") + "\n")

    def _timestamp(self, when: float) -> str:
        """Local time as Twisted writes it, formatted once a second (strftime is the dearest
        part of a console line)."""
        second = int(when)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(second))
        return self._stamp


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
    jsonl = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    lines = LogLines(jsonl, console or QuietStream(sys.stderr),  # a dead pipe stops nothing
                     console_level)
    beginner.beginLoggingTo([lines], redirectStandardIO=False)
    return path
