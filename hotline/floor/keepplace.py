# -*- test-case-name: tests.floor.test_keepplace -*-
"""Keep-my-place callbacks (virtual hold), as the controller records and shows them.

The PBX does the holding (``dialplan/keepplace.conf.j2``): a waiting caller who presses 1 is
replaced in the queue by a stand-in at the place their arrival time gives them, and when the
stand-in's turn comes the agent who takes it is connected to the citizen, dialled back. The
ordering rule, in one sentence: callers are served in the order they joined the queue, whether
they stayed on the line or kept their place (a kept place is neither overtaken by anyone who
came later nor put ahead of anyone who came earlier).

When the stand-in's turn comes and the timed-reply scheduler runs on this controller, the call
back is the scheduler's (L{KeepPlace._hand_over}): the agent who took the stand-in is paused
in the queue (reserved), the caller's ticket and a callback owned by that agent are filed
(L{scheduler.store.kept_place_promise}: the caller was never answered, so, as for an overflow
call, a ticket carries the promise), the stand-in is hung up and the scheduler dials the
callback at once (``dial_now``: its claim, attempt rows, outcome, and its one retry policy for
a citizen who does not answer). The agent is resumed when that first attempt ends. Without a
scheduler here (or with the controller away) the dialplan dials the citizen itself after
``queue.keep_place_handover_s``, as a place once kept must be kept.

This module follows the dialplan's reports (L{KeepPlaceProgress}) and the queue's own events
(the agent who took a stand-in) into one ``kept_place`` row per kept place: waiting, calling,
then reached or not_reached. Supervisors list them (``GET /api/floor/kept``, the floor view,
``hotline floor kept``) and may cancel one still waiting (its stand-in leaves the queue).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.internet import defer
from twisted.logger import Logger

from db.models import Call, Callback, CallbackStatus, KeptPlace, KeptPlaceStatus, Ticket
from hotline.calls.events import CallAnswered, KeepPlaceProgress
from hotline.naming import agent_code
from hotline.phone import mask

if TYPE_CHECKING:
    from db.session import Database
    from hotline.agents.service import AgentService
    from hotline.ami.client import AMIClient
    from hotline.bus import EventBus
    from hotline.calls.tracker import CallTracker
    from scheduler.service import CallbackScheduler

__all__ = ["KeepPlace", "KeepPlaceError", "kept_to_dict", "kept_places", "STAND_IN_PREFIX", "ORDERING"]

_log = Logger(namespace="hotline.floor.keepplace")

#: A stand-in's channel: ``Local/kp<key>@hotline-keep-hold;2``.
STAND_IN_PREFIX = "Local/kp"
#: AstDB family the dialplan reads at a stand-in's turn: a key in it means "the controller's
#: scheduler calls this one back; wait for it to take the agent's leg".
SCHEDULER_FAMILY = "hotline_kps"
#: The queue pause reason that reserves an agent for a kept place's call back.
RESERVED_REASON = "keep-place"
#: The rule, as the API and the floor view state it.
ORDERING = ("callers are served in the order they joined the queue, whether they stayed on "
            "the line or kept their place")

#: The statuses under their short names here (L{db.models.KeptPlaceStatus}).
WAITING, CALLING, REACHED, NOT_REACHED, CANCELLED = (
    KeptPlaceStatus.WAITING, KeptPlaceStatus.CALLING, KeptPlaceStatus.REACHED,
    KeptPlaceStatus.NOT_REACHED, KeptPlaceStatus.CANCELLED)


class KeepPlaceError(Exception):
    """A kept place cannot be changed as asked; nothing was changed."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.error_id = error_id
        self.message = message


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def kept_to_dict(row: KeptPlace, *, masked: bool = True,
                 callback_id: int | None = None) -> dict[str, Any]:
    """A kept place as the API and the floor view show it (the number masked by default);
    ``callback``: the scheduler's callback that calls it back, if it was handed over."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None
    return {"id": row.id, "key": row.uniqueid, "callback": callback_id,
            "caller": mask(row.caller_number) if masked else row.caller_number,
            "queue": row.queue, "joined_at": iso(row.joined_at), "kept_at": iso(row.kept_at),
            "position": row.position, "status": row.status, "agent": row.agent_code,
            "called_at": iso(row.called_at), "reached_at": iso(row.reached_at),
            "ended_at": iso(row.ended_at), "outcome": row.outcome}


class KeepPlace:
    """Records kept places from the PBX's reports; lists and cancels them."""

    def __init__(self, *, ami: AMIClient, tracker: CallTracker, bus: EventBus,
                 db: Database, scheduler: CallbackScheduler | None = None,
                 agents: AgentService | None = None, timezone: str = "Asia/Shanghai") -> None:
        """@param scheduler: the timed-reply scheduler that calls kept places back (None, or
            not running: the dialplan dials them itself).
        @param agents: pauses the agent a kept place's turn reserved until the call back."""
        self.ami = ami
        self.tracker = tracker
        self.bus = bus
        self.db = db
        self.scheduler = scheduler
        self.agents = agents
        self.timezone = timezone
        self._subs: list[Any] = []
        #: Kept places whose stand-in an agent took: key → (agent code, stand-in channel).
        self._taken: dict[str, tuple[str, str]] = {}
        #: Kept places whose dialplan waits for the hand-over (stage ``handover``).
        self._waiting_handover: set[str] = set()
        #: Kept places being handed to the scheduler right now (one hand-over each).
        self._handing: set[str] = set()

    @property
    def scheduled(self) -> bool:
        """Whether kept places are called back by the scheduler here."""
        return self.scheduler is not None and self.agents is not None \
            and self.scheduler.running

    def subscribe(self) -> None:
        if not self._subs:
            self._subs = self.bus.subscribe_all({KeepPlaceProgress: self._progress,
                                                 CallAnswered: self._answered})

    def stop(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []

    def listing(self, *, limit: int = 50) -> defer.Deferred[list[dict[str, Any]]]:
        """The newest kept places first (waiting ones included)."""
        return self.db.run(kept_places, limit)

    async def cancel(self, key: str) -> dict[str, Any]:
        """Give up a place still waiting: its stand-in leaves the queue, the row says so."""
        row = await self.db.run(_by_key, key)
        if row is None:
            raise KeepPlaceError(404, "no-such-place", f"no kept place {key!r}")
        if row["status"] != WAITING:
            raise KeepPlaceError(409, "not-waiting",
                                 f"kept place {key} is {row['status']}, not waiting")
        try:
            await self.ami.action("DBDel", Family=SCHEDULER_FAMILY, Key=key)
        except Exception:  # noqa: BLE001 - not marked (no scheduler here): nothing to drop
            pass
        for call in list(self.tracker.calls.values()):
            if call.channel.startswith(f"{STAND_IN_PREFIX}{key}@"):
                try:
                    await self.ami.action("Hangup", Channel=call.channel)
                except Exception as e:  # noqa: BLE001 - it may have gone meanwhile
                    _log.debug("stand-in of {key}: {why}", key=key, why=e)
        return await self.db.run(_set, key, status=CANCELLED,
                                 ended_at=dt.datetime.now(dt.UTC))

    # -- the PBX's reports ------------------------------------------------------------------

    def _progress(self, event: KeepPlaceProgress) -> defer.Deferred[Any]:
        at = _at(event.at)
        if event.stage == "kept":
            joined = _at(event.joined_at) if event.joined_at else at
            _log.info("{caller} keeps their place in {queue} (joined {joined}, position "
                      "{position})", caller=mask(event.caller), queue=event.queue,
                      joined=joined.isoformat(), position=event.position)
            d = self.db.run(_kept, event.key, caller=event.caller, queue=event.queue,
                            joined_at=joined, kept_at=at, position=event.position)
            if self.scheduled:
                d.addCallback(lambda _: defer.Deferred.fromCoroutine(self.ami.action(
                    "DBPut", Family=SCHEDULER_FAMILY, Key=event.key, Val="scheduler")))
                d.addErrback(lambda f: _log.failure(
                    "kept place {key}: the dialplan will call it back itself", f,
                    key=event.key))
            return d
        if event.stage == "turn":
            return self.db.run(_set, event.key, status=CALLING, called_at=at)
        if event.stage == "handover":
            self._waiting_handover.add(event.key)
            return self._maybe_hand_over(event.key)
        if event.stage == "citizen":
            return self.db.run(_set, event.key, reached_at=at)
        if event.stage == "end":
            return self.db.run(_ended, event.key, at, event.dial_status.lower() or None)
        return defer.succeed(None)

    def _answered(self, event: CallAnswered) -> defer.Deferred[Any] | None:
        call = self.tracker.calls.get(event.uniqueid)
        if call is None or not call.channel.startswith(STAND_IN_PREFIX):
            return None
        key = call.channel[len(STAND_IN_PREFIX):].split("@", 1)[0]
        code = event.agent_code or agent_code(event.agent_interface)
        _log.info("kept place {key}: agent {code} takes it", key=key, code=code)
        d = self.db.run(_set, key, agent_code=code)
        if code:
            self._taken[key] = (code, call.channel)
            d.addCallback(lambda _: self._maybe_hand_over(key))
        return d

    def _maybe_hand_over(self, key: str) -> defer.Deferred[Any] | None:
        """Hand kept place ``key`` to the scheduler once both are known: the agent who took
        its stand-in (the queue) and that its dialplan waits for the hand-over (it read the
        AstDB mark; without the mark it dials the citizen itself and nothing is done here)."""
        if key not in self._waiting_handover or key not in self._taken \
                or key in self._handing or not self.scheduled:
            return None
        self._waiting_handover.discard(key)
        code, stand_in = self._taken.pop(key)
        self._handing.add(key)
        d = defer.Deferred.fromCoroutine(self._hand_over(key, code, stand_in))
        d.addErrback(lambda f: _log.failure("kept place {key}: hand-over failed", f, key=key))
        d.addBoth(lambda _: self._handing.discard(key))
        return d

    async def _hand_over(self, key: str, code: str, stand_in: str) -> None:
        """The stand-in's turn came and agent ``code`` took it: reserve the agent, file the
        promise, end the stand-in and have the scheduler dial the citizen now. Until the
        stand-in is hung up nothing is lost: on a failure before that the dialplan dials the
        citizen itself (after ``queue.keep_place_handover_s``)."""
        from scheduler.store import DialRefused

        assert self.scheduler is not None and self.agents is not None
        await self.agents.pause(code, RESERVED_REASON)
        try:
            row = await self.db.run(_by_key, key)
            if row is None:
                raise KeepPlaceError(404, "no-such-place", f"no kept place {key!r}")
            callback_id = await self.db.run(
                _promised, key, caller=row["caller_raw"], agent=code,
                now=dt.datetime.now(dt.UTC), timezone=self.timezone)
            # The stand-in's end is no outcome now (the row has its callback: _ended skips).
            await self.ami.action("Hangup", Channel=stand_in)
        except BaseException:
            await self.agents.resume(code)
            raise
        _log.info("kept place {key}: callback {cb} handed to the scheduler, agent {code}",
                  key=key, cb=callback_id, code=code)
        try:
            started = await self.scheduler.dial_now(callback_id, code)
        except DialRefused as e:
            # E.g. quiet hours: the callback stays pending and the scheduler places it when
            # its policy allows; the agent goes back to the queue.
            _log.warn("kept place {key}: callback {cb} left to the schedule ({why})", key=key,
                      cb=callback_id, why=e)
            await self.agents.resume(code)
            return
        try:
            outcome = await started.ended
        finally:
            await self.agents.resume(code)
        _log.info("kept place {key}: first call back {outcome}", key=key,
                  outcome=outcome.outcome)
        await self.db.run(_refresh, key)


# -- units of work -------------------------------------------------------------------------

def _by_key(session: Session, key: str) -> dict[str, Any] | None:
    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).first()
    if row is None:
        return None
    return {**kept_to_dict(row, callback_id=_callback_id(session, row)),
            "caller_raw": row.caller_number}


def kept_places(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The ``limit`` newest kept places as the API shows them; a place handed to the scheduler
    is brought up to date with its callback first (reached or not, once it has ended)."""
    rows = list(session.scalars(select(KeptPlace).order_by(KeptPlace.id.desc()).limit(limit)))
    for row in rows:
        if row.status == CALLING:
            _follow_callback(session, row)
    return [kept_to_dict(r, callback_id=_callback_id(session, r)) for r in rows]


def _callback_of(session: Session, row: KeptPlace) -> Callback | None:
    """The scheduler's callback of a kept place handed over: the one promised on the ticket
    filed for the caller's call (``kept_place.call_id`` → ``call.ticket_id``)."""
    if row.call_id is None:
        return None
    return session.scalars(
        select(Callback).join(Ticket, Ticket.id == Callback.ticket_id)
        .join(Call, Call.ticket_id == Ticket.id)
        .where(Call.id == row.call_id).order_by(Callback.id)).first()


def _callback_id(session: Session, row: KeptPlace) -> int | None:
    cb = _callback_of(session, row)
    return cb.id if cb is not None else None


def _promised(session: Session, key: str, *, caller: str, agent: str, now: dt.datetime,
              timezone: str) -> int:
    """File the ticket and the callback of kept place ``key`` (owned by ``agent``), and link
    the place to the caller's call; returns the callback's id."""
    from scheduler.store import kept_place_promise

    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).one()
    call = session.scalars(select(Call).where(Call.uniqueid == key)).first()
    if call is None:
        # The caller's call row is written when that call ends; without it there is no
        # ticket to link: the dialplan calls this one back itself.
        raise KeepPlaceError(409, "no-call-row", f"the call of kept place {key} is not "
                                                 "recorded yet")
    callback_id = kept_place_promise(session, uniqueid=key, caller=caller, agent_code=agent,
                                     now=now, timezone=timezone)
    row.call_id = call.id
    row.agent_code = agent
    row.status = CALLING
    row.called_at = row.called_at or now
    session.flush()
    return callback_id


def _follow_callback(session: Session, row: KeptPlace) -> None:
    """A kept place handed to the scheduler ends as its callback ends."""
    cb = _callback_of(session, row)
    if cb is None or cb.status in (CallbackStatus.PENDING, CallbackStatus.IN_PROGRESS):
        return
    row.ended_at = cb.reached_at or dt.datetime.now(dt.UTC)
    row.reached_at = cb.reached_at
    row.outcome = (cb.outcome or cb.status)[:16]
    row.status = REACHED if cb.reached_at is not None else NOT_REACHED


def _refresh(session: Session, key: str) -> None:
    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).first()
    if row is not None and row.status == CALLING:
        _follow_callback(session, row)


def _kept(session: Session, key: str, *, caller: str, queue: str, joined_at: dt.datetime,
          kept_at: dt.datetime, position: int | None) -> None:
    if session.scalars(select(KeptPlace.id).where(KeptPlace.uniqueid == key)).first():
        return
    session.add(KeptPlace(uniqueid=key, caller_number=caller[:20], queue=queue[:64],
                          joined_at=joined_at, kept_at=kept_at, position=position,
                          status=WAITING))


def _set(session: Session, key: str, **values: Any) -> dict[str, Any] | None:
    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).first()
    if row is None:
        return None
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    return kept_to_dict(row)


def _ended(session: Session, key: str, at: dt.datetime, dial_status: str | None) -> None:
    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).first()
    if row is None or row.status == CANCELLED or _callback_of(session, row) is not None:
        return  # cancelled, or the scheduler calls it back (its outcome: _refresh)
    row.ended_at = at
    row.outcome = (dial_status or "none")[:16]
    row.status = REACHED if row.reached_at is not None else NOT_REACHED
