# -*- test-case-name: tests.calls.test_reconciler -*-
"""Record the calls the controller did not see: the PBX's own summaries, read back from AstDB.

The dialplan's hangup handler leaves a one-line summary of every inbound call in the AstDB
family ``hotline-calls`` (see ``dialplan/inbound.conf.j2``). The calls the finaliser followed
are already in the database; the others happened while the controller was stopped or its AMI
link was down. The reconciler reads the family after every AMI login and then every
``interval_s``, writes what is missing (``finalise_call`` is idempotent per uniqueid) and deletes
each key only once its row is committed, so a summary is never lost on the way.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from hotline.ami.actions import AMIError
from hotline.calls.finaliser import agent_code, recording_files
from hotline.calls.journal import finalise_call

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.calls.finaliser import CallFinaliser

__all__ = ["CallReconciler", "CallSummary", "parse_summary", "FAMILY"]

_log = Logger(namespace="hotline.calls.reconciler")

#: The AstDB family the hangup handler writes to.
FAMILY = "hotline-calls"


@dataclass(frozen=True)
class CallSummary:
    """What the PBX wrote about one finished inbound call."""

    uniqueid: str
    linkedid: str
    caller: str
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime
    queue_wait_s: float | None
    agent_code: str | None
    hangup_cause: int | None
    hungup_by: str | None
    recording: str | None


def _epoch(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(text), dt.UTC) if text else None
    except (ValueError, OverflowError, OSError):
        return None


def _int(text: str) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def parse_summary(uniqueid: str, value: str) -> CallSummary:
    """Parse one summary: ``v2|...`` (each field URI-encoded, as the dialplan writes them now)
    or ``v1|...`` (plain, left by an older dialplan). Raises ValueError with the reason for a
    value it cannot use."""
    fields = value.split("|")
    if fields[0] not in ("v1", "v2") or len(fields) != 11:
        raise ValueError(f"not a v1/v2 call summary with 11 fields: {value!r}")
    if fields[0] == "v2":
        fields = [unquote(f, errors="replace") for f in fields]
    _, linkedid, caller, start, qstart, hold, member, cause, source, recording, end = fields
    started_at, ended_at = _epoch(start), _epoch(end)
    if started_at is None or ended_at is None:
        raise ValueError(f"summary without start or end time: {value!r}")
    code = agent_code(member, None)
    hold_s = _int(hold)
    queued_at = _epoch(qstart)
    answered_at = None
    if code and hold_s is not None and queued_at is not None:
        answered_at = queued_at + dt.timedelta(seconds=hold_s)
    if answered_at is None:
        hungup_by = "citizen"
    elif source.startswith("PJSIP/agent-"):
        hungup_by = "agent"
    elif source:
        hungup_by = "citizen"
    else:
        hungup_by = None
    return CallSummary(uniqueid=uniqueid, linkedid=linkedid or uniqueid, caller=caller,
                       started_at=started_at, answered_at=answered_at, ended_at=ended_at,
                       queue_wait_s=float(hold_s) if answered_at is not None else None,
                       agent_code=code if answered_at is not None else None,
                       hangup_cause=_int(cause) or None, hungup_by=hungup_by,
                       recording=recording or None)


class CallReconciler:
    """Sweeps ``hotline-calls`` into the database: at every AMI login and every ``interval_s``."""

    def __init__(self, *, ami: AMIClient, db: Database, finaliser: CallFinaliser,
                 host_path: Callable[[str], str] = lambda p: p, interval_s: float = 30.0,
                 settle_s: float = 2.0, clock: Callable[[], float] | None = None) -> None:
        self.ami = ami
        self.db = db
        self.finaliser = finaliser
        self.host_path = host_path
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.clock = clock or db.reactor.seconds
        self._loop: LoopingCall | None = None
        self._settling: Any = None  # the sweep due once skipped summaries settle
        self._sweeping = False
        self.recorded = 0  # calls this reconciler wrote that the finaliser had not
        #: The uniqueids of the latest of those calls (for status and tests: which ones).
        self.recently_recorded: deque[str] = deque(maxlen=256)
        self._login_at: float | None = None  # clock seconds of the latest AMI login

    def start(self) -> None:
        self.ami.add_resync_hook(lambda _client: self._after_login())
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.db.reactor
        self._loop.start(self.interval_s, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._settling is not None and self._settling.active():
            self._settling.cancel()
        self._settling = None

    def _after_login(self) -> None:
        self._login_at = self.clock()
        # Not awaited: the sweep needs AMI ready and the hooks run before it is.
        self.ami.when_ready().addCallback(lambda _: self._tick())

    def _tick(self) -> Any:
        from twisted.internet import defer

        d = defer.Deferred.fromCoroutine(self.sweep())
        d.addErrback(lambda f: _log.failure("call reconciliation sweep failed", f))
        return d

    async def sweep(self) -> int:
        """Write every settled summary whose call the finaliser is not writing; returns how many
        keys were settled (written or found already written) and deleted."""
        if self._sweeping or not self.ami.ready:
            return 0
        self._sweeping = True
        try:
            return await self._sweep()
        finally:
            self._sweeping = False

    async def _sweep(self) -> int:
        try:
            reply = await self.ami.action("DBGetTree", Family=FAMILY)
        except AMIError:
            return 0  # an empty family is an error to Asterisk
        entries = [m for m in (reply if isinstance(reply, list) else [reply])
                   if m.get("Event") == "DBGetTreeResponse"]
        settled = 0
        now = self.clock()
        unsettled: list[float] = []
        due: list[CallSummary] = []
        for entry in entries:
            key = (entry.get("Key") or "").rsplit("/", 1)[-1]
            value = entry.get("Val") or ""
            if not key or (self.finaliser.is_following(key)
                           and not self._missed_hangup(key, value)):
                continue
            try:
                summary = parse_summary(key, value)
            except ValueError as e:
                _log.error("AstDB {family}/{key}: {error}; left in place for a person to read",
                           family=FAMILY, key=key, error=e)
                continue
            if summary.ended_at.timestamp() > now - self.settle_s:
                # MixMonitor may still be closing its files: sweep again once they are, not
                # a whole interval later.
                unsettled.append(summary.ended_at.timestamp() + self.settle_s - now)
                continue
            due.append(summary)
        # Most summaries are of calls the finaliser already wrote: one read finds them all,
        # and only the others get a unit of work of their own.
        final = await self.db.run(_final_among, [s.uniqueid for s in due]) if due else set()
        for summary in due:
            key = summary.uniqueid
            if key not in final:
                if not await self.db.run(_write, summary, self.host_path):
                    self.recorded += 1
                    self.recently_recorded.append(key)
                    _log.info("call {uniqueid} recorded from the PBX's summary (the controller "
                              "did not see it)", uniqueid=key)
            await self.ami.action("DBDel", Family=FAMILY, Key=key)
            settled += 1
        if unsettled and self._loop is not None and (
                self._settling is None or not self._settling.active()):
            self._settling = self.db.reactor.callLater(max(unsettled) + 0.1, self._tick)
        return settled

    def _missed_hangup(self, uniqueid: str, value: str) -> bool:
        """Whether the finaliser follows ``uniqueid`` only because its Hangup never reached us:
        the PBX's summary says the call ended before our latest AMI login, so its Hangup came
        while the link was down and will never come. The finaliser then lets it go and the
        summary is the call's record (else it would wait for the Hangup for ever, and the call
        would never get a row)."""
        if self._login_at is None:
            return False
        try:
            ended = parse_summary(uniqueid, value).ended_at.timestamp()
        except ValueError:
            return False
        if ended >= self._login_at or not self.finaliser.forget(uniqueid):
            return False
        _log.warn("call {uniqueid} ended while the AMI link was down: recorded from the PBX's "
                  "summary", uniqueid=uniqueid)
        return True


def _final_among(session: Any, uniqueids: list[str]) -> set[str]:
    """Which of these calls already have a final row."""
    from sqlalchemy import select

    from db.models import Call

    final: set[str] = set()
    for start in range(0, len(uniqueids), 500):  # under every back end's parameter limit
        final.update(session.connection().execute(
            select(Call.uniqueid).where(Call.uniqueid.in_(uniqueids[start:start + 500]),
                                        Call.ended_at.is_not(None))).scalars())
    return final


def _write(session: Any, summary: CallSummary, host_path: Callable[[str], str]) -> bool:
    """Finalise the call from the summary; True if its row was already final. The files are
    looked at first, on the same database thread and before the unit's first statement, as
    the finaliser does (L{hotline.calls.finaliser})."""
    recordings = recording_files(summary.recording, host_path)
    return finalise_call(
        session, uniqueid=summary.uniqueid, linkedid=summary.linkedid,
        caller_number=summary.caller, started_at=summary.started_at,
        ended_at=summary.ended_at, answered_at=summary.answered_at,
        queue_wait_s=summary.queue_wait_s,
        talk_s=((summary.ended_at - summary.answered_at).total_seconds()
                if summary.answered_at else None),
        agent_code=summary.agent_code, hangup_cause=summary.hangup_cause,
        hungup_by=summary.hungup_by, recordings=recordings).already_final
