# -*- test-case-name: tests.scheduler.test_placing -*-
"""Placing callback and survey calls through AMI Originate, and reading how each one ended.

A callback is one Originate: the agent's phone first (``PJSIP/agent-<code>``, ChannelId = the
attempt key); when the agent answers, the ``hotline-callback`` dialplan context dials the
citizen over the trunk and reports each stage as a ``UserEvent: HotlineCallback`` (agent up,
citizen answered, end with DIALSTATUS), and leaves the same facts in AstDB
(``hotline_cb/<key>``). A survey is one Originate to the citizen into ``hotline-survey``, which
reads one DTMF digit and reports ``UserEvent: HotlineSurvey``. A deadline reminder is the same
shape as a survey: one Originate to a department's duty number into ``hotline-reminder``, which
plays the composed message, reads one digit (1 confirms) and reports ``UserEvent:
HotlineReminder``.

The outcome is read from the calls' domain events (L{hotline.calls.events}: the Originate's
result, the dialplan's C{UserEvent}s as L{CallbackProgress}/L{SurveyAnswered}/
L{ReminderAnswered}, the leg's end),
which the live call tracker publishes; this module subscribes to no AMI event itself.

Why AstDB too: if the scheduler dies while a call is up, the next one (after a restart, or the
other node) asks Asterisk what became of the attempt instead of guessing, and never dials the
citizen a second time for the same attempt (``recover``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from hotline.agi import variables as v
from hotline.ami.actions import AMIError
from hotline.calls.events import (
    CallbackProgress,
    LegEnded,
    OriginateResult,
    ReminderAnswered,
    SurveyAnswered,
)
from hotline.naming import agent_interface
from scheduler.policy import AttemptOutcome, outcome_from_dialstatus, outcome_from_originate

if TYPE_CHECKING:
    from hotline.ami.client import AMIClient
    from hotline.bus import EventBus

__all__ = ["CallPlacer", "SurveyOutcome", "CALLBACK_FAMILY", "SURVEY_FAMILY", "REMINDER_FAMILY"]

_log = Logger(namespace="scheduler.placing")

CALLBACK_FAMILY = "hotline_cb"
SURVEY_FAMILY = "hotline_sv"
REMINDER_FAMILY = "hotline_rm"
#: Each leg kind's AstDB family; survey and reminder legs are answered by one key press.
_FAMILIES = {"callback": CALLBACK_FAMILY, "survey": SURVEY_FAMILY, "reminder": REMINDER_FAMILY}
_KEYPRESS = frozenset({"survey", "reminder"})


@dataclass(frozen=True)
class SurveyOutcome:
    """How a survey call ended: ``answered`` (the citizen picked up) and the digit read."""

    answered: bool
    score: int | None
    detail: str = ""


@dataclass
class _Leg:
    key: str
    kind: str  # "callback" | "survey" | "reminder"
    deferred: Deferred[Any]
    agent_code: str | None = None
    agent_up: bool = False
    #: Asterisk took the Originate (or the leg was found up): from then on a leg that is not
    #: up has ended. Before, its Originate may still be parked until the next login.
    sent: bool = False
    citizen_answered_at: dt.datetime | None = None
    hangup_timer: IDelayedCall | None = None
    guard: IDelayedCall | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _epoch(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(str(text)), dt.UTC)
    except (TypeError, ValueError):
        return None


def _score(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text in {"1", "2", "3", "4", "5"} else None


class CallPlacer:
    """Originates callback and survey legs and turns their domain events into one outcome per
    leg.

    ``settings`` is the ``[scheduler]`` section; ``now`` the clock; ``bus`` the live call
    tracker's event bus (what it hears of the PBX).
    """

    #: Seconds after the agent leg's Hangup to wait for the dialplan's last UserEvent.
    SETTLE_S = 1.5

    def __init__(self, *, ami: AMIClient, bus: EventBus, settings: dict[str, Any], reactor: Any,
                 now: Callable[[], dt.datetime]) -> None:
        self.ami = ami
        self.bus = bus
        self.settings = settings
        self.reactor = reactor
        self.now = now
        self._legs: dict[str, _Leg] = {}
        self._subs: list[Any] = []
        self._relinking = False

    def subscribe(self) -> None:
        """The domain events that tell how a leg ended, in one place; and, after every AMI
        login, a look at the legs whose end may have been missed (L{relink})."""
        if not self._relinking:
            self._relinking = True
            self.ami.add_resync_hook(self.relink)
        if not self._subs:
            self._subs = self.bus.subscribe_all({
                OriginateResult: self._originate_response,
                CallbackProgress: self._callback_progress,
                SurveyAnswered: self._survey_answered,
                ReminderAnswered: self._reminder_answered,
                LegEnded: self._hangup,
            })

    def unsubscribe(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []

    def abandon(self) -> None:
        """Stop following every leg (the scheduler stops; the next one recovers them)."""
        for leg in list(self._legs.values()):
            self._forget(leg)

    def following(self, key: str) -> bool:
        """Whether the leg ``key`` is being followed here."""
        return key in self._legs

    @property
    def in_flight(self) -> int:
        return len(self._legs)

    # -- placing ---------------------------------------------------------------------------

    async def place_callback(self, *, key: str, agent_code: str, citizen: str,
                             ticket_id: int, ticket_number: str,
                             callback_id: int) -> AttemptOutcome:
        """Ring the agent, then (dialplan) the citizen; returns when the attempt has ended."""
        s = self.settings
        leg = self._follow(key, "callback", agent_code=agent_code)
        variables = [
            f"{v.HOTLINE_CALLBACK_KEY}={key}", f"{v.HOTLINE_CALLBACK_ID}={callback_id}",
            f"{v.HOTLINE_TICKET_ID}={ticket_id}", f"{v.HOTLINE_TICKET_NUMBER}={ticket_number}",
            f"{v.HOTLINE_CITIZEN}={citizen}", f"{v.HOTLINE_TRUNK}={s['trunk']}",
            f"CB_RING={int(s['citizen_ring_s'])}", f"CB_MAXTALK={max(int(s['max_talk_s']), 1)}",
        ]
        try:
            await self.ami.action(
                "Originate", ActionID=key, ChannelId=key, Channel=agent_interface(agent_code),
                Context="hotline-callback", Exten="s", Priority="1", Async="true",
                Timeout=str(int(s["agent_ring_s"] * 1000)),
                CallerID=f"\"{ticket_number}\" <{citizen}>", Variable=variables)
            leg.sent = True
        except AMIError as e:
            self._done(leg, AttemptOutcome("agent_failed", f"Originate refused: {e}",
                                           agent_code=agent_code))
        except Exception as e:  # noqa: BLE001 - link lost: the outcome is learnt by recover()
            self._forget(leg)
            raise PlacementUnknown(key, str(e)) from e
        return await leg.deferred

    async def place_survey(self, *, key: str, citizen: str, ticket_number: str) -> SurveyOutcome:
        """Call the citizen and read one DTMF digit (1–5); returns when the call has ended."""
        return await self._place_keypress(
            key, "survey", citizen, "hotline-survey", self.settings["survey_ring_s"],
            [f"{v.HOTLINE_SURVEY_KEY}={key}", f"{v.HOTLINE_TICKET_NUMBER}={ticket_number}"])

    async def place_reminder(self, *, key: str, number: str, ticket_number: str,
                             say: list[str]) -> SurveyOutcome:
        """Call a department's duty number, play the prompts ``say`` and read one digit
        (``score`` 1: confirmed); returns when the call has ended."""
        return await self._place_keypress(
            key, "reminder", number, "hotline-reminder", self.settings["reminder_ring_s"],
            [f"{v.HOTLINE_REMINDER_KEY}={key}", f"{v.HOTLINE_TICKET_NUMBER}={ticket_number}",
             f"{v.REMINDER_SAY}={'&'.join(say)}"])

    async def _place_keypress(self, key: str, kind: str, number: str, context: str,
                              ring_s: float, variables: list[str]) -> SurveyOutcome:
        s = self.settings
        leg = self._follow(key, kind)
        try:
            await self.ami.action(
                "Originate", ActionID=key, ChannelId=key,
                Channel=f"PJSIP/{number}@{s['trunk']}", Context=context, Exten="s",
                Priority="1", Async="true", Timeout=str(int(ring_s * 1000)),
                CallerID=f"<{s['caller_id']}>", Variable=variables)
            leg.sent = True
        except AMIError as e:
            self._done(leg, SurveyOutcome(False, None, f"Originate refused: {e}"))
        except Exception as e:  # noqa: BLE001
            self._forget(leg)
            raise PlacementUnknown(key, str(e)) from e
        return await leg.deferred

    # -- after a restart -------------------------------------------------------------------

    async def recover(self, key: str, kind: str = "callback") -> AttemptOutcome | SurveyOutcome:
        """What became of a leg placed before a restart: follow it if it is still up, else
        read its trace in AstDB; no trace means the citizen was never dialled."""
        leg = self._follow(key, kind)
        leg.sent = True  # placed before; only whether it is still up is in question
        if key in await self._channels():
            _log.info("leg {key} is still up after the restart: following it", key=key)
            return await leg.deferred
        self._forget(leg)
        return await self._from_astdb(key, kind)

    async def relink(self, ami: Any = None) -> None:
        """After every AMI login (a resync hook): a leg followed here that ended while the
        link was down never hears its end (Asterisk replays no event), so it would stay open
        until its guard, minutes later, with its agent and callback held. Ask Asterisk: a leg
        still up is followed on; one that is gone is settled from its trace, as after a
        restart. A leg whose Originate is still parked (placed while the link was down; the
        client sends it once this login is ready) is not up yet and is left alone: settling
        it would record an attempt that is about to ring the citizen."""
        legs = [leg for leg in self._legs.values() if leg.sent]
        if not legs:
            return
        up = await self._channels()
        for leg in legs:
            if leg.key in up or self._legs.get(leg.key) is not leg:
                continue
            _log.warn("leg {key} ended while the AMI link was down: settling it from its "
                      "trace", key=leg.key)
            self._forget(leg)
            d = Deferred.fromCoroutine(self._from_astdb(leg.key, leg.kind))
            d.addBoth(leg.deferred.callback)

    async def _channels(self) -> set[str]:
        """The uniqueids of every channel up on this PBX now."""
        reply = await self.ami.action("CoreShowChannels")
        return {str(m.get("Uniqueid")) for m in (reply if isinstance(reply, list) else [])
                if m.get("Uniqueid") is not None}

    async def _from_astdb(self, key: str, kind: str) -> AttemptOutcome | SurveyOutcome:
        """How a leg no longer up ended, from its AstDB trace."""
        trace = await self._trace(key, kind)
        if kind in _KEYPRESS:
            if trace is None:
                return SurveyOutcome(False, None, "no trace after restart")
            parts = trace.split(":")
            return SurveyOutcome(True, _score(parts[1] if len(parts) > 2 else None),
                                 "recovered from AstDB")
        return self._from_trace(key, trace)

    async def holds(self, key: str, kind: str = "callback") -> bool:
        """Whether this PBX has leg ``key`` up or holds its trace (with several PBXs, the one
        to ask what became of it)."""
        if key in await self._channels():
            return True
        return await self._trace(key, kind) is not None

    def _from_trace(self, key: str, trace: str | None) -> AttemptOutcome:
        """``agent:<t>`` | ``citizen:<t>`` | ``end:<DIALSTATUS>:<citizen t or ->:<t>``."""
        if trace is None:
            return AttemptOutcome("agent_failed", "no trace after restart: citizen not dialled")
        parts = trace.split(":")
        stage = parts[0]
        if stage == "end" and len(parts) >= 4:
            answered = _epoch(parts[2])
            ended = _epoch(parts[3])
            return self._ended(parts[1], answered, ended, "recovered from AstDB", None)
        if stage == "citizen" and len(parts) > 1:
            return AttemptOutcome("answered", "citizen answered (recovered from AstDB)",
                                  _epoch(parts[1]))
        return AttemptOutcome("agent_hangup", f"ended at stage {stage} (recovered)")

    def _ended(self, status: str, answered: dt.datetime | None, ended: dt.datetime | None,
               how: str, agent_code: str | None) -> AttemptOutcome:
        talk = (ended - answered).total_seconds() if answered and ended else None
        if answered is not None and ended is None:
            talk = self.settings["min_talk_s"]  # answered, length unknown: count it reached
        outcome = outcome_from_dialstatus(status, talk, self.settings["min_talk_s"])
        return AttemptOutcome(outcome, f"DIALSTATUS={status or '-'} talk="
                                       f"{'-' if talk is None else f'{talk:.1f}'} ({how})",
                              answered if outcome == "answered" else None,
                              agent_code=agent_code)

    async def _trace(self, key: str, kind: str) -> str | None:
        family = _FAMILIES[kind]
        try:
            reply = await self.ami.action("DBGet", Family=family, Key=key)
        except AMIError:
            return None
        for m in reply if isinstance(reply, list) else [reply]:
            if m.get("Val") is not None:
                return str(m.get("Val"))
        return None

    async def forget_trace(self, key: str, kind: str) -> None:
        """Drop the leg's AstDB trace once its outcome is stored."""
        family = _FAMILIES[kind]
        try:
            await self.ami.action("DBDel", Family=family, Key=key)
        except Exception:  # noqa: BLE001 - a missing trace is fine; the row is the record
            pass

    # -- following legs --------------------------------------------------------------------

    def _follow(self, key: str, kind: str, agent_code: str | None = None) -> _Leg:
        leg = _Leg(key=key, kind=kind, deferred=Deferred(), agent_code=agent_code)
        s = self.settings
        if kind == "callback":
            guard_s = s["agent_ring_s"] + s["citizen_ring_s"] + s["max_talk_s"] + 120
        elif kind == "reminder":
            guard_s = s["reminder_ring_s"] + 180
        else:
            guard_s = s["survey_ring_s"] + 180
        leg.guard = self.reactor.callLater(guard_s, self._guard_expired, key)
        self._legs[key] = leg
        return leg

    def _forget(self, leg: _Leg) -> None:
        self._legs.pop(leg.key, None)
        for timer in (leg.guard, leg.hangup_timer):
            if timer is not None and timer.active():
                timer.cancel()

    def _done(self, leg: _Leg, result: Any) -> None:
        if self._legs.get(leg.key) is not leg:
            return
        self._forget(leg)
        leg.deferred.callback(result)

    def _guard_expired(self, key: str) -> None:
        leg = self._legs.get(key)
        if leg is None:
            return
        leg.guard = None
        _log.warn("leg {key}: no end seen in time; asking Asterisk", key=key)
        self._forget(leg)
        d = Deferred.fromCoroutine(self.recover(key, leg.kind))
        d.addBoth(leg.deferred.callback)

    def _originate_response(self, e: OriginateResult) -> None:
        leg = self._legs.get(e.action_id) or self._legs.get(e.uniqueid)
        if leg is None:
            return
        if e.success:
            leg.agent_up = True
            return
        reason = e.reason
        if leg.kind in _KEYPRESS:
            self._done(leg, SurveyOutcome(False, None, f"not answered (reason {reason})"))
        else:
            self._done(leg, AttemptOutcome(outcome_from_originate(reason),
                                           f"agent leg: reason {reason}",
                                           agent_code=leg.agent_code))

    def _survey_answered(self, e: SurveyAnswered) -> None:
        leg = self._legs.get(e.key)
        if leg is not None and leg.kind == "survey":
            self._done(leg, SurveyOutcome(True, _score(e.digits), f"digits {e.digits or '-'}"))

    def _reminder_answered(self, e: ReminderAnswered) -> None:
        leg = self._legs.get(e.key)
        if leg is not None and leg.kind == "reminder":
            self._done(leg, SurveyOutcome(True, _score(e.digits), f"digits {e.digits or '-'}"))

    def _callback_progress(self, e: CallbackProgress) -> None:
        leg = self._legs.get(e.key)
        if leg is None or leg.kind != "callback":
            return
        if e.stage == "agent":
            leg.agent_up = True
        elif e.stage == "citizen":
            leg.citizen_answered_at = _at(e.at)
        elif e.stage == "end":
            answered = leg.citizen_answered_at or (
                _at(e.citizen_at) if e.citizen_at is not None else None)
            self._done(leg, self._ended(e.dial_status, answered, _at(e.at), "from AMI",
                                        leg.agent_code))

    def _hangup(self, e: LegEnded) -> None:
        leg = self._legs.get(e.uniqueid)
        if leg is None or leg.hangup_timer is not None:
            return
        # The dialplan's hangup handler reports first; this is the fallback if it never does.
        leg.hangup_timer = self.reactor.callLater(
            self.SETTLE_S, self._after_hangup, leg.key,
            "" if e.cause is None else str(e.cause))

    def _after_hangup(self, key: str, cause: str) -> None:
        leg = self._legs.get(key)
        if leg is None:
            return
        leg.hangup_timer = None
        if leg.kind in _KEYPRESS:
            self._done(leg, SurveyOutcome(leg.agent_up, None, f"hung up (cause {cause})"))
        elif leg.citizen_answered_at is not None:
            self._done(leg, AttemptOutcome("answered", f"hung up (cause {cause})",
                                           leg.citizen_answered_at, agent_code=leg.agent_code))
        else:
            outcome = "agent_hangup" if leg.agent_up else "agent_failed"
            self._done(leg, AttemptOutcome(outcome, f"agent leg hung up (cause {cause})",
                                           agent_code=leg.agent_code))


class PlacementUnknown(Exception):
    """The Originate may or may not have reached Asterisk (the link dropped while sending);
    the attempt stays open and ``recover`` settles it once the link is back."""

    def __init__(self, key: str, why: str) -> None:
        self.key = key
        super().__init__(f"attempt {key}: placement unknown ({why})")


__all__ += ["PlacementUnknown"]
