# -*- test-case-name: tests.floor.test_spy -*-
"""A supervisor listening to a live call (监听), whispering to the agent (耳语) or barging in
(强插), from the supervisor's own phone: the browser phone or the desk phone of their seat.

One AMI Originate rings the supervisor's phone (ChannelId ``sp-...``, so the tracker knows the
leg); once it answers, the ``hotline-spy`` dialplan runs ``ChanSpy`` on the agent's channel,
quietly (no beep, no name: the agent and the citizen are told nothing), with the mode as the
extension. Switching mode is an AMI Redirect of the supervisor's leg to the other extension:
the phone keeps its call. On a desk phone the keys 4, 5, 6 switch too (ChanSpy's ``d``).
The spy leg ends by itself when the call does (``E``).

Every start, switch, stop and refusal is written to the audit log with who did it, on which
call and from which phone; the agent's desk shows nothing of it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from hotline.agi import variables as v
from hotline.calls.events import LegAnswered, LegEnded, LegKind
from hotline.calls.model import CallState
from hotline.errors import DomainError
from hotline.naming import agent_interface, spy_leg_id
from hotline.web import audit

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.bus import EventBus
    from hotline.calls.tracker import CallTracker

__all__ = ["SpyMode", "MODE_LABELS", "SpyError", "SpySession", "SpyService", "SPY_CONTEXT"]

_log = Logger(namespace="hotline.floor.spy")

#: The dialplan context (dialplan/spy.conf.j2) whose extensions are the modes.
SPY_CONTEXT = "hotline-spy"


class SpyMode(enum.StrEnum):
    """How the supervisor is in the call (the dialplan extension of the same name)."""

    LISTEN = "listen"    # hears citizen and agent; nobody hears them
    WHISPER = "whisper"  # the agent hears them too; the citizen does not
    BARGE = "barge"      # citizen and agent both hear them


MODE_LABELS = {SpyMode.LISTEN: "监听", SpyMode.WHISPER: "耳语", SpyMode.BARGE: "强插"}


class SpyError(DomainError):
    """The supervisor cannot listen (or switch, or stop) as asked; nothing was changed."""

    def __init__(self, status: int, error_id: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.status_code = status
        self.error_id = error_id


@dataclass
class SpySession:
    """One supervisor's phone on one call.

    @ivar id: the supervisor leg's ChannelId (``sp-...``), the session's id everywhere.
    @ivar state: C{ringing} (the supervisor's phone rings), C{up}, C{ended}.
    """

    id: str
    supervisor: str
    seat: str
    call: str
    agent_channel: str
    mode: SpyMode
    started: float
    state: str = "ringing"
    channel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "supervisor": self.supervisor, "seat": self.seat,
                "call": self.call, "agent_channel": self.agent_channel, "mode": self.mode.value,
                "mode_label": MODE_LABELS[self.mode], "started": self.started,
                "state": self.state, "channel": self.channel}


class SpyService:
    """Starts, switches and stops supervisors' listening legs; keeps the live ones."""

    def __init__(self, *, ami: AMIClient, tracker: CallTracker, bus: EventBus, db: Database,
                 clock: IReactorTime, ring_s: float = 30.0, caller_id: str = "8365") -> None:
        self.ami = ami
        self.tracker = tracker
        self.bus = bus
        self.db = db
        self.clock = clock
        self.ring_s = ring_s
        self.caller_id = caller_id
        self.sessions: dict[str, SpySession] = {}
        self._subs: list[Any] = []

    def subscribe(self) -> None:
        """Follow the supervisor legs (answered, ended) on the bus."""
        if not self._subs:
            self._subs = self.bus.subscribe_all({LegAnswered: self._answered,
                                                 LegEnded: self._ended})

    def stop(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []

    def live(self) -> list[dict[str, Any]]:
        """The supervisors' legs now, oldest first."""
        return [s.to_dict() for s in sorted(self.sessions.values(), key=lambda s: s.started)]

    async def start(self, *, supervisor: str, seat: str, call: str, mode: str,
                    ip: str | None = None, role: str | None = None) -> SpySession:
        """Ring supervisor C{supervisor}'s phone (seat C{seat}) into live call C{call} (the
        citizen's uniqueid, as the live view shows it) in C{mode}."""
        who = {"actor": supervisor, "role": role, "ip": ip}
        try:
            spy_mode = _mode(mode)
            live = self.tracker.calls.get(call)
            if live is None or live.state == CallState.ENDED:
                raise SpyError(404, "no-such-call", f"no live call {call!r}")
            if live.state != CallState.TALKING or not live.agent_channel:
                raise SpyError(409, "call-not-talking",
                               f"call {call} is {live.state.value}: only a call talking with "
                               "an agent can be listened to")
            if not seat or not seat.isdigit():
                raise SpyError(409, "no-seat", "this account has no seat (坐席号) whose phone "
                               "could ring; ask an admin")
            if live.agent_interface == agent_interface(seat):
                raise SpyError(409, "own-call", "that is your own call")
            if any(s.seat == seat for s in self.sessions.values()):
                raise SpyError(409, "phone-busy", f"seat {seat}'s phone is already listening")
        except SpyError as e:
            await self._audit(who, "spy.start", call, "refused",
                              {"why": e.error_id, "mode": mode, "seat": seat})
            raise
        session = SpySession(id=spy_leg_id(), supervisor=supervisor, seat=seat, call=call,
                             agent_channel=live.agent_channel, mode=spy_mode,
                             started=self.clock.seconds())
        self.sessions[session.id] = session
        try:
            await self.ami.action(
                "Originate", Channel=agent_interface(seat), Context=SPY_CONTEXT,
                Exten=spy_mode.value, Priority="1", Async="true", ChannelId=session.id,
                Timeout=str(int(self.ring_s * 1000)), CallerID=f"班长台 <{self.caller_id}>",
                Variable=[f"{v.HOTLINE_SPY_TARGET}={live.agent_channel}"])
        except Exception as e:
            self.sessions.pop(session.id, None)
            await self._audit(who, "spy.start", call, "failed",
                              {"why": str(e), "mode": spy_mode.value, "seat": seat})
            raise SpyError(503, "pbx-unavailable", f"the PBX did not ring the phone: {e}") \
                from None
        _log.info("{who} {mode} on call {call} from seat {seat} ({id})", who=supervisor,
                  mode=spy_mode.value, call=call, seat=seat, id=session.id)
        await self._audit(who, "spy.start", call, "ok",
                          {"mode": spy_mode.value, "seat": seat, "session": session.id,
                           "agent": live.agent_interface})
        return session

    async def switch(self, session_id: str, mode: str, *, actor: str, ip: str | None = None,
                     role: str | None = None) -> SpySession:
        """Change a live session's mode; the supervisor's phone keeps its call."""
        who = {"actor": actor, "role": role, "ip": ip}
        session = self._own(session_id)
        spy_mode = _mode(mode)
        if session.state != "up" or not session.channel:
            raise SpyError(409, "not-answered", "the supervisor's phone has not answered yet")
        if spy_mode != session.mode:
            try:
                await self.ami.action("Redirect", Channel=session.channel, Context=SPY_CONTEXT,
                                      Exten=spy_mode.value, Priority="1")
            except Exception as e:
                await self._audit(who, "spy.switch", session.call, "failed",
                                  {"why": str(e), "mode": spy_mode.value})
                raise SpyError(503, "pbx-unavailable", f"the PBX did not switch: {e}") \
                    from None
            session.mode = spy_mode
        await self._audit(who, "spy.switch", session.call, "ok",
                          {"mode": spy_mode.value, "session": session.id})
        return session

    async def hang_up(self, session_id: str, *, actor: str, ip: str | None = None,
                      role: str | None = None) -> SpySession:
        """End a session: the supervisor's leg hangs up; the call goes on."""
        session = self._own(session_id)
        target = session.channel or session.id
        try:
            await self.ami.action("Hangup", Channel=target)
        except Exception as e:  # already gone: the leg's end will be reported anyway
            _log.debug("hangup of {id}: {why}", id=session.id, why=e)
        await self._audit({"actor": actor, "role": role, "ip": ip}, "spy.stop", session.call,
                          "ok", {"session": session.id})
        return session

    # -- the legs ---------------------------------------------------------------------------

    def _answered(self, event: LegAnswered) -> None:
        session = self.sessions.get(event.uniqueid)
        if event.kind is not LegKind.SUPERVISOR or session is None:
            return
        session.state = "up"
        session.channel = event.channel

    def _ended(self, event: LegEnded) -> None:
        if event.kind is not LegKind.SUPERVISOR:
            return
        session = self.sessions.pop(event.uniqueid, None)
        if session is not None:
            session.state = "ended"
            _log.info("supervisor leg {id} on call {call} ended", id=session.id,
                      call=session.call)

    # -- helpers ----------------------------------------------------------------------------

    def _own(self, session_id: str) -> SpySession:
        session = self.sessions.get(session_id)
        if session is None:
            raise SpyError(404, "no-such-session", f"no live listening session {session_id!r}")
        return session

    def _audit(self, who: dict[str, Any], action: str, call: str, outcome: str,
               details: dict[str, Any]) -> defer.Deferred[Any]:
        return self.db.run(lambda s: audit.record(
            s, actor=who["actor"], role=who["role"], ip=who["ip"], action=action,
            target=f"call {call}", outcome=outcome, details=details) and None)


def _mode(text: str) -> SpyMode:
    try:
        return SpyMode(text)
    except ValueError:
        raise SpyError(400, "invalid-mode", f"no mode {text!r} (one of "
                       f"{', '.join(m.value for m in SpyMode)})",
                       {"fields": {"mode": "listen, whisper or barge"}}) from None
