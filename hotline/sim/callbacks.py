# -*- test-case-name: tests.sim.test_callbacks -*-
"""Timed replies seen from the city: which phones the hotline rang, and callbacks promised,
placed and counted while a fault strikes.

The scheduler's own tests and the fault suite (``tests/faults``, ``python -m bench.faults``)
share these: test-sized scheduler times (L{FAST}), a ring log kept from the city simulator's
AMI (L{CityWatch}: the city is the far end of every call the hotline places, so what it saw
is what citizens and agents saw), and L{CallbackRound}, which promises a few callbacks, lets
them be placed while a fault strikes and counts each one twice: the citizen's phone rang at
the city, and the attempts in the database. A callback that reached its citizen twice, or
rang the citizen more often than the database has attempts for it, is *placed twice*; one that
fell due and is neither reached nor failed once everything has settled is *lost*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

__all__ = ["FAST", "Ring", "CityWatch", "CallbackFigures", "CallbackRound", "count_callbacks",
           "promise_callbacks"]

#: Short, test-sized scheduler times: every wait is seconds, not minutes.
FAST = {
    "sync_interval_s": 0.3, "horizon_s": 600.0, "late_tolerance_s": 1.0, "sla_grace_s": 20.0,
    "max_attempts": 2, "retry_initial_s": 1.0, "retry_factor": 1.0, "retry_max_s": 5.0,
    "agent_retry_s": 1.0, "quiet_hours": "", "handover_after_s": 3.0,
    "remind_department_before_s": 1.0, "remind_agent_before_s": 1.0, "escalate_before_s": 1.0,
    "agent_ring_s": 8.0, "citizen_ring_s": 4.0, "max_talk_s": 3.0, "min_talk_s": 1.0,
    "agent_wait_s": 0.5, "survey_delay_s": 0.5, "survey_retry_s": 1.0, "survey_ring_s": 4.0,
    "leader_poll_s": 0.5,
}


@dataclass
class Ring:
    """A phone the hotline rang, as the city simulator saw the call arrive."""

    at: float
    who: str  # "agent <code>" or "number <digits>"
    channel: str
    #: When the city's leg hung up (None: still up, or hang-ups not watched).
    ended: float | None = None


@dataclass
class CityWatch:
    """Records every call the hotline places into the city (agent phones and numbers)."""

    rings: list[Ring] = field(default_factory=list)

    def on_newchannel(self, m: Any) -> None:
        from twisted.internet import reactor

        channel = str(m.get("Channel") or "")
        context = str(m.get("Context") or "")
        exten = str(m.get("Exten") or "")
        if channel.startswith("PJSIP/phone-"):
            code = channel[len("PJSIP/phone-"):].rsplit("-", 1)[0]
            self.rings.append(Ring(reactor.seconds(), f"agent {code}", channel))
        elif context == "from-hotline" and exten and exten != "s":
            self.rings.append(Ring(reactor.seconds(), f"number {exten}", channel))

    def on_hangup(self, m: Any) -> None:
        from twisted.internet import reactor

        channel = str(m.get("Channel") or "")
        for ring in reversed(self.rings):
            if ring.channel == channel and ring.ended is None:
                ring.ended = reactor.seconds()
                return

    def count(self, who: str) -> int:
        return sum(r.who == who for r in self.rings)

    def lasted(self, who: str, seconds: float, now: float) -> int:
        """Calls to ``who`` that were up at least ``seconds`` (one still up counts to now)."""
        return sum(1 for r in self.rings
                   if r.who == who and (now if r.ended is None else r.ended) - r.at >= seconds)

    def order(self) -> list[str]:
        return [r.who for r in self.rings]


@dataclass(frozen=True)
class CallbackFigures:
    """What a fault did to the callbacks due while it struck."""

    promised: int
    placed_twice: int
    lost: int
    #: Reached as the records say (status done).
    reached: int
    attempts: int
    citizen_rings: int
    #: Citizen calls at the city that lasted long enough to count as a conversation.
    citizen_talks: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Kept:
    """One callback as the database has it: status, attempts, attempts that reached."""

    callback_id: int
    status: str
    attempts: int
    answered: int


def promise_callbacks(session: Any, numbers: Sequence[str], due_in_s: float, *,
                      timezone: str) -> list[int]:
    """A sample ticket from each number with a reply promised ``due_in_s`` from now (read
    when the unit of work runs: a queued one must not promise a time already past); the
    callback ids."""
    from hotline.tickets.service import TicketService
    from scheduler.store import promise

    service = TicketService(timezone=timezone)
    ids = []
    for phone in numbers:
        ticket = service.intake(session, {
            "channel": "hotline", "kind": "complaint", "phone": phone,
            "description": "样例：故障演练中承诺的回拨 (sample: a callback promised in a fault drill)"},
            actor="faults")
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=due_in_s)
        ids.append(promise(session, ticket.id, at, owner_code=None, actor="faults",
                           timezone=timezone))
    return ids


def count_callbacks(session: Any, ids: Sequence[int]) -> list[_Kept]:
    """Each callback's status and attempts (all, and those that reached the citizen)."""
    from db.models import Callback, CallbackAttempt

    attempts = dict(session.execute(
        select(CallbackAttempt.callback_id, func.count(CallbackAttempt.id))
        .where(CallbackAttempt.callback_id.in_(ids))
        .group_by(CallbackAttempt.callback_id)).all())
    answered = dict(session.execute(
        select(CallbackAttempt.callback_id, func.count(CallbackAttempt.id))
        .where(CallbackAttempt.callback_id.in_(ids), CallbackAttempt.outcome == "answered")
        .group_by(CallbackAttempt.callback_id)).all())
    rows = session.execute(select(Callback.id, Callback.status)
                           .where(Callback.id.in_(ids))).all()
    return [_Kept(cid, str(status), attempts.get(cid, 0), answered.get(cid, 0))
            for cid, status in rows]


class CallbackRound:
    """A few callbacks promised around one fault, and what became of them.

    Agents log in through the hotline's own L{hotline.agents.AgentService} (on a link of the
    round's own), so the controller puts them back after a PBX restart as it would a real
    floor's; the city answers agents and citizens after ``answer_s``.
    """

    def __init__(self, *, numbers: Sequence[str], agents: Sequence[str], reactor: Any,
                 timezone: str, answer_s: float = 0.3, min_talk_s: float = 1.0) -> None:
        """
        @param min_talk_s: the scheduler's ``min_talk_s``: a citizen call at the city up
            longer than ``answer_s`` + this was a conversation (the citizen was reached).
        """
        self.numbers = list(numbers)
        self.agents = list(agents)
        self.reactor = reactor
        self.timezone = timezone
        self.answer_s = answer_s
        self.talk_s = answer_s + min_talk_s
        self.watch = CityWatch()
        self.ids: list[int] = []
        #: callback id → the citizen's number it rings
        self.phones: dict[int, str] = {}
        self._next = 0

    async def arm(self, city: Any) -> None:
        """Set how the city answers, and start recording what it is rung for."""
        city.ami.subscribe("Newchannel", self.watch.on_newchannel)
        city.ami.subscribe("Hangup", self.watch.on_hangup)
        for code in self.agents:
            await city.set_agent(code, delay_s=self.answer_s)
        for number in self.numbers:
            await city.set_number(number, mode="answer", delay_s=self.answer_s)

    async def promise(self, db: Any, count: int, due_in_s: float) -> list[int]:
        """Promise the next ``count`` numbers a reply due ``due_in_s`` from now."""
        numbers = self.numbers[self._next:self._next + count]
        if len(numbers) < count:
            raise ValueError(f"only {len(self.numbers) - self._next} numbers left")
        self._next += count
        ids = await db.run(promise_callbacks, numbers, due_in_s, timezone=self.timezone)
        self.ids.extend(ids)
        self.phones.update(zip(ids, numbers, strict=True))
        return ids

    def rang(self, number: str) -> int:
        return self.watch.count(f"number {number}")

    async def in_talk(self, count: int, timeout_s: float) -> bool:
        """Wait until ``count`` of the citizens promised so far have been rung (their calls
        are being placed); whether they were within ``timeout_s``."""
        deadline = self.reactor.seconds() + timeout_s
        while self.reactor.seconds() < deadline:
            if sum(1 for n in self.numbers[:self._next] if self.rang(n)) >= count:
                return True
            await _sleep(self.reactor, 0.1)
        return False

    async def settle(self, db: Any, timeout_s: float) -> CallbackFigures:
        """Wait until every callback is reached or failed (or ``timeout_s`` passes); count."""
        deadline = self.reactor.seconds() + timeout_s
        while True:
            try:
                kept = await db.run(count_callbacks, self.ids)
            except Exception:  # noqa: BLE001 - the database is still coming back: ask again
                kept = None
            if kept is not None and (_all_settled(kept, len(self.ids))
                                     or self.reactor.seconds() > deadline):
                return self.figures(kept)
            if kept is None and self.reactor.seconds() > deadline:
                raise TimeoutError("the callbacks' database did not answer")
            await _sleep(self.reactor, 0.5)

    def figures(self, kept: list[_Kept]) -> CallbackFigures:
        """The figures from the records (L{count_callbacks}) and the city's ring log. Placed
        twice: the records say it reached the citizen twice, or the city was rung for it more
        often than it has attempts (a dial nobody recorded), or the citizen talked twice (a
        call the records count as not reached was a conversation, and was tried again)."""
        now = self.reactor.seconds() if self.reactor is not None else 0.0
        talks = {cid: self.watch.lasted(f"number {n}", self.talk_s, now)
                 for cid, n in self.phones.items()}
        twice = sum(1 for k in kept
                    if k.answered > 1 or self.rang(self.phones[k.callback_id]) > k.attempts
                    or talks[k.callback_id] > 1)
        # A callback not on record at all (its promise vanished) is lost too.
        lost = len(self.ids) - sum(1 for k in kept if k.status in ("done", "failed"))
        return CallbackFigures(
            promised=len(self.ids), placed_twice=twice, lost=lost,
            reached=sum(1 for k in kept if k.status == "done"),
            attempts=sum(k.attempts for k in kept),
            citizen_rings=sum(self.rang(n) for n in self.phones.values()),
            citizen_talks=sum(talks.values()))


def _all_settled(kept: list[_Kept], promised: int) -> bool:
    """Every promised callback is on record and reached or failed."""
    return len(kept) == promised and all(k.status in ("done", "failed") for k in kept)


async def _sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)
