# -*- test-case-name: tests.calls.test_recording_space -*-
"""Whether new calls are recorded: not when the recordings disk is nearly full.

A full disk must not stop calls (they always go through: fail open), and recordings that can
no longer be written are lost anyway. Every ``interval_s`` the free space of the recordings
folder is read; below ``min_free_mb`` the inbound script tells the dialplan to skip the
recording of new calls (``HOTLINE_RECORD=0``) and an alert is raised once (a critical log line
and an audit entry a supervisor sees); above it again, recording resumes with a notice. Calls
the controller does not see (it is down) are recorded as before: the dialplan records unless
told not to.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["RecordingSpace"]

_log = Logger(namespace="hotline.calls.recording_space")


class RecordingSpace:
    """Watches the recordings folder's free space; ``allowed`` says whether to record."""

    def __init__(self, *, folder: Path | None, min_free_mb: float, interval_s: float,
                 clock: Any, alert: Callable[[str, dict[str, Any]], object] | None = None,
                 free_bytes: Callable[[Path], int] | None = None) -> None:
        """
        @param folder: where the PBX writes recordings, as this host sees it; None: not
            visible from here (a remote PBX), recording is never stopped.
        @param alert: called with (action, details) when recording stops or resumes.
        @param free_bytes: reads a folder's free space (tests pass their own).
        """
        self.folder = folder
        self.min_free = int(min_free_mb * 1024 * 1024)
        self.interval_s = interval_s
        self.clock = clock
        self.alert = alert
        self._free_bytes = free_bytes or (lambda p: shutil.disk_usage(p).free)
        self.allowed = True
        self.free: int | None = None
        self._loop: LoopingCall | None = None

    def start(self) -> None:
        self.check()
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(self.interval_s, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def check(self) -> bool:
        """Read the free space now; returns whether new calls are recorded."""
        if self.folder is None:
            return True
        try:
            self.free = self._free_bytes(self.folder)
        except OSError as e:
            _log.warn("recordings folder {folder}: cannot read its free space ({error})",
                      folder=str(self.folder), error=e)
            return self.allowed
        allowed = self.free >= self.min_free
        if allowed != self.allowed:
            self.allowed = allowed
            details = {"folder": str(self.folder), "free_mb": round(self.free / 2**20, 1),
                       "threshold_mb": round(self.min_free / 2**20, 1)}
            if allowed:
                _log.info("recordings disk has {free_mb} MB free again: new calls are recorded",
                          **details)
            else:
                _log.critical("ALERT recordings disk nearly full ({free_mb} MB free, threshold "
                              "{threshold_mb} MB): new calls are NOT recorded until space is "
                              "freed; calls still go through", **details)
            if self.alert is not None:
                try:
                    self.alert("recording.resumed" if allowed else "recording.stopped",
                               details)
                except Exception:
                    _log.failure("recordings disk alert could not be written")
        return self.allowed
