# -*- test-case-name: tests.test_demo -*-
"""Lines for the person at the terminal, who may be gone: a pipe whose reader died (``make run
2>&1 | tee log`` and Ctrl-C: tee dies first) turns every write into ``BrokenPipeError``.

Shutdown prints as it goes; a write that raised there stopped the shutdown itself and left the
controller's thread pools and both Asterisk instances running. Output is a courtesy; stopping
is not: every write here gives up quietly once the stream is broken.
"""

from __future__ import annotations

import sys
from typing import IO

__all__ = ["QuietStream", "say"]


class QuietStream:
    """A text stream whose writes never raise: after the first failure it drops everything."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
                self._stream.flush()
            except (OSError, ValueError):  # a broken pipe, a closed file
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True


def say(line: str) -> None:
    """Print one line to standard error; never raises."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # a broken pipe, a closed file
        pass
