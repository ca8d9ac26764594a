# -*- test-case-name: tests.floor.test_keepplace -*-
"""Keep-my-place callbacks (virtual hold), as the controller records and shows them.

The PBX does the holding (``dialplan/keepplace.conf.j2``): a waiting caller who presses 1 is
replaced in the queue by a stand-in at the place their arrival time gives them, and when the
stand-in's turn comes the agent who takes it is connected to the citizen, dialled back. The
ordering rule, in one sentence: callers are served in the order they joined the queue, whether
they stayed on the line or kept their place (a kept place is neither overtaken by anyone who
came later nor put ahead of anyone who came earlier).

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

from db.models import KeptPlace, KeptPlaceStatus
from hotline.calls.events import CallAnswered, KeepPlaceProgress
from hotline.naming import agent_code
from hotline.phone import mask

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.bus import EventBus
    from hotline.calls.tracker import CallTracker

__all__ = ["KeepPlace", "KeepPlaceError", "kept_to_dict", "STAND_IN_PREFIX", "ORDERING"]

_log = Logger(namespace="hotline.floor.keepplace")

#: A stand-in's channel: ``Local/kp<key>@hotline-keep-hold;2``.
STAND_IN_PREFIX = "Local/kp"
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


def kept_to_dict(row: KeptPlace, *, masked: bool = True) -> dict[str, Any]:
    """A kept place as the API and the floor view show it (the number masked by default)."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None
    return {"id": row.id, "key": row.uniqueid,
            "caller": mask(row.caller_number) if masked else row.caller_number,
            "queue": row.queue, "joined_at": iso(row.joined_at), "kept_at": iso(row.kept_at),
            "position": row.position, "status": row.status, "agent": row.agent_code,
            "called_at": iso(row.called_at), "reached_at": iso(row.reached_at),
            "ended_at": iso(row.ended_at), "outcome": row.outcome}


class KeepPlace:
    """Records kept places from the PBX's reports; lists and cancels them."""

    def __init__(self, *, ami: AMIClient, tracker: CallTracker, bus: EventBus,
                 db: Database) -> None:
        self.ami = ami
        self.tracker = tracker
        self.bus = bus
        self.db = db
        self._subs: list[Any] = []

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
        return self.db.run(lambda s: [kept_to_dict(r) for r in s.scalars(
            select(KeptPlace).order_by(KeptPlace.id.desc()).limit(limit))])

    async def cancel(self, key: str) -> dict[str, Any]:
        """Give up a place still waiting: its stand-in leaves the queue, the row says so."""
        row = await self.db.run(_by_key, key)
        if row is None:
            raise KeepPlaceError(404, "no-such-place", f"no kept place {key!r}")
        if row["status"] != WAITING:
            raise KeepPlaceError(409, "not-waiting",
                                 f"kept place {key} is {row['status']}, not waiting")
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
            return self.db.run(_kept, event.key, caller=event.caller, queue=event.queue,
                               joined_at=joined, kept_at=at, position=event.position)
        if event.stage == "turn":
            return self.db.run(_set, event.key, status=CALLING, called_at=at)
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
        return self.db.run(_set, key, agent_code=code)


# -- units of work -------------------------------------------------------------------------

def _by_key(session: Session, key: str) -> dict[str, Any] | None:
    row = session.scalars(select(KeptPlace).where(KeptPlace.uniqueid == key)).first()
    return kept_to_dict(row) if row is not None else None


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
    if row is None or row.status == CANCELLED:
        return
    row.ended_at = at
    row.outcome = (dial_status or "none")[:16]
    row.status = REACHED if row.reached_at is not None else NOT_REACHED
