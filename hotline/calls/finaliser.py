# -*- test-case-name: tests.test_controller -*-
"""Finalise each inbound call's row from AMI events: answered by whom, how long, which files."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, threads
from twisted.internet.task import deferLater
from twisted.logger import Logger

from hotline.ami.message import Message
from hotline.calls.journal import RecordingFile, finalise_call, mark_answered

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient

__all__ = ["CallFinaliser", "RECORDING_SUFFIXES", "recording_files", "agent_code"]

#: The files the dialplan's MixMonitor writes per call, by direction.
RECORDING_SUFFIXES: dict[str, str] = {"citizen": "-citizen.wav", "agent": "-agent.wav",
                                      "mix": "-mix.wav"}

_log = Logger(namespace="hotline.calls.finaliser")


def _utc(ts: str | None, fallback: dt.datetime) -> dt.datetime:
    """AMI's Timestamp header (epoch seconds, timestampevents=yes) as an aware UTC time."""
    try:
        return dt.datetime.fromtimestamp(float(ts), dt.UTC) if ts else fallback
    except ValueError:
        return fallback


def agent_code(member: str | None, interface: str | None) -> str | None:
    """``PJSIP/agent-1001`` → ``1001``; the member name (``agent 1001``) is the fallback."""
    for text in (interface, member):
        if text and "agent-" in text:
            return text.rsplit("agent-", 1)[1]
    if member and member.startswith("agent ") and member[6:].strip().isdigit():
        return member[6:].strip()
    return None


@dataclass
class _Open:
    uniqueid: str
    linkedid: str
    caller: str
    started_at: dt.datetime
    recording: str | None = None
    joined_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    wait_s: float | None = None
    agent_code: str | None = None
    hungup_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class CallFinaliser:
    """Follows each hotline call from its first event to its Hangup and writes the outcome.

    Only channels that enter the ``inbound`` context are followed; everything else (agent
    legs, bridge rooms) is ignored here. Writes go to the database's thread pool; a failed
    write is logged with the call's uniqueid and never stops the event flow.
    """

    def __init__(self, *, ami: AMIClient, db: Database,
                 host_path: Callable[[str], str] = lambda p: p,
                 now: Callable[[], dt.datetime] | None = None, settle_s: float = 1.0) -> None:
        self.ami = ami
        self.settle_s = settle_s
        self.db = db
        self.host_path = host_path
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self._open: dict[str, _Open] = {}
        self._subs: list[Any] = []
        self._listeners: list[Callable[[int], Any]] = []
        #: Calls hung up whose row is being written (between Hangup and commit).
        self._finishing: set[str] = set()

    def is_following(self, uniqueid: str) -> bool:
        """True while this finaliser will write the call's final row itself."""
        return uniqueid in self._open or uniqueid in self._finishing

    def on_finalised(self, listener: Callable[[int], Any]) -> Callable[[], None]:
        """Call ``listener(call_id)`` once each call's final row is committed.

        Follow-up work (transcription, ticket notes) hangs off this instead of off AMI events,
        so it only ever sees a call whose row and recordings are in the database. The listener
        may return a Deferred or a coroutine; its failure is logged and harms nothing else.
        Returns a function that removes the listener.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, call_id: int, uniqueid: str) -> None:
        for listener in list(self._listeners):
            d = defer.maybeDeferred(listener, call_id)
            d.addCallback(lambda r: defer.ensureDeferred(r) if hasattr(r, "__await__") else r)
            d.addErrback(lambda f, ln=listener: _log.failure(
                "listener {listener!r} failed for call {uniqueid}", f, listener=ln,
                uniqueid=uniqueid))

    def subscribe(self) -> None:
        """The events this component reads, in one place."""
        table = {
            "Newexten": self._newexten,
            "VarSet": self._varset,
            "QueueCallerJoin": self._joined,
            "AgentConnect": self._connected,
            "AgentComplete": self._completed,
            "Hangup": self._hangup,
        }
        self._subs = [self.ami.subscribe(name, handler) for name, handler in table.items()]

    def unsubscribe(self) -> None:
        for sub in self._subs:
            sub.unsubscribe()
        self._subs = []

    def _newexten(self, m: Message) -> None:
        uid = m.get("Uniqueid")
        if m.get("Context") == "inbound" and uid and uid not in self._open:
            self._open[uid] = _Open(uniqueid=uid, linkedid=m.get("Linkedid") or uid,
                                    caller=m.get("CallerIDNum") or "",
                                    started_at=_utc(m.get("Timestamp"), self.now()))

    def _varset(self, m: Message) -> None:
        call = self._open.get(m.get("Uniqueid") or "")
        if call is not None and m.get("Variable") == "HOTLINE_RECORDING":
            call.recording = m.get("Value")

    def _joined(self, m: Message) -> None:
        call = self._open.get(m.get("Uniqueid") or "")
        if call is not None:
            call.joined_at = _utc(m.get("Timestamp"), self.now())

    def _connected(self, m: Message) -> None:
        call = self._open.get(m.get("Uniqueid") or "")
        if call is None:
            return
        call.answered_at = _utc(m.get("Timestamp"), self.now())
        call.wait_s = float(m.get("HoldTime") or 0)
        call.agent_code = agent_code(m.get("MemberName"), m.get("Interface"))
        d = self.db.run(mark_answered, uniqueid=call.uniqueid, answered_at=call.answered_at,
                        queue_wait_s=call.wait_s, agent_code=call.agent_code)
        d.addErrback(lambda f: _log.failure("cannot mark call {uniqueid} answered", f,
                                            uniqueid=call.uniqueid))

    def _completed(self, m: Message) -> None:
        call = self._open.get(m.get("Uniqueid") or "")
        if call is not None:
            reason = (m.get("Reason") or "").lower()
            call.hungup_by = {"caller": "citizen", "agent": "agent"}.get(reason, reason or None)

    def _hangup(self, m: Message) -> None:
        call = self._open.pop(m.get("Uniqueid") or "", None)
        if call is None:
            return
        ended = _utc(m.get("Timestamp"), self.now())
        talk = (ended - call.answered_at).total_seconds() if call.answered_at else None
        try:
            cause = int(m.get("Cause") or 0) or None
        except ValueError:
            cause = None
        hungup_by = call.hungup_by or ("citizen" if call.answered_at is None else None)
        self._finishing.add(call.uniqueid)
        # MixMonitor closes its files just after the channel goes: give it a moment to finish.
        d = deferLater(self.db.reactor, self.settle_s, lambda: None)
        d.addCallback(lambda _: threads.deferToThreadPool(
            self.db.reactor, self.db.pool, recording_files, call.recording, self.host_path))
        d.addCallback(lambda recs: self.db.run(
            finalise_call, uniqueid=call.uniqueid, linkedid=call.linkedid,
            caller_number=call.caller, started_at=call.started_at, ended_at=ended,
            answered_at=call.answered_at, queue_wait_s=call.wait_s, talk_s=talk,
            agent_code=call.agent_code, hangup_cause=cause, hungup_by=hungup_by,
            recordings=recs))
        def finalised(row: Any) -> None:
            _log.info("call {uniqueid} finalised: {status}, talk {talk}s, cause {cause}",
                      uniqueid=call.uniqueid, status=row.status, talk=talk, cause=cause)
            self._notify(row.id, call.uniqueid)

        d.addCallback(finalised)
        d.addErrback(lambda f: _log.failure("cannot finalise call {uniqueid}", f,
                                            uniqueid=call.uniqueid))
        d.addBoth(lambda r: (self._finishing.discard(call.uniqueid), r)[1])


def recording_files(recording: str | None,
                    host_path: Callable[[str], str] = lambda p: p) -> list[RecordingFile]:
    """Stat a call's MixMonitor files from their common prefix (blocking: run it in a thread)."""
    if not recording:
        return []
    out = []
    for direction, suffix in RECORDING_SUFFIXES.items():
        path = host_path(recording + suffix)
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        out.append(RecordingFile(direction=direction, path=path, size_bytes=size))
    return out
