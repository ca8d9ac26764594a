# -*- test-case-name: tests.agents.test_service -*-
"""Agents joining and leaving the hotline queue, pausing and resuming, with every change on record.

The PBX is told first (AMI ``QueueAdd``/``QueueRemove``/``QueuePause``); only when it agreed is
the change written (``AgentSession`` for log in/out, ``AgentStateChange`` for every change). If
the write fails the PBX is put back as it was, so the queue and the records never disagree about
who may be rung. Asterisk forgets dynamic members when it restarts: after every AMI login the
service puts the agents the database says are logged in back into the queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.logger import Logger

from db.models import Agent, AgentSession, AgentStateChange
from hotline.ami.actions import AMIError
from hotline.calls.model import WRAPUP_REASON
from hotline.naming import agent_interface

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient

__all__ = ["AgentService", "AgentError", "AgentStatus", "interface_of", "member_name_of"]

_log = Logger(namespace="hotline.agents")

#: States an agent is in, as the records and the console show them; WRAPUP is after-call work
#: (话后整理, 整理中): paused by the controller when a call ends, until the time is up or the
#: agent ends it early (L{hotline.floor.wrapup}).
OFFLINE, AVAILABLE, PAUSED, WRAPUP = "offline", "available", "paused", "wrapup"


class AgentError(Exception):
    """The change cannot be made; the message says why in one line. Nothing was changed."""


@dataclass(frozen=True)
class AgentStatus:
    """An agent as the records show them."""

    code: str
    name: str
    state: str
    since: dt.datetime | None
    reason: str | None


def interface_of(code: str) -> str:
    """The queue member interface of agent ``code``'s softphone endpoint
    (L{hotline.naming.agent_interface})."""
    return agent_interface(code)


def member_name_of(code: str) -> str:
    """The member name the queue logs and AMI events carry ("agent 1001")."""
    return f"agent {code}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AgentService:
    """Log agents in and out of one queue and pause them, over AMI, recorded in the database."""

    def __init__(self, *, ami: AMIClient, db: Database, queue: str, agents: Sequence[str],
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        """
        @param agents: the agent codes that have a softphone endpoint (``queue.agents``);
            any other code is refused before anything is sent.
        """
        self.ami = ami
        self.db = db
        self.queue = queue
        self.agents = tuple(agents)
        self.clock = clock

    def start(self) -> None:
        """Restore the queue after every AMI login (Asterisk restarted, or the link came back)."""
        self.ami.add_resync_hook(self._restore)

    # -- the four changes -----------------------------------------------------------------------

    async def login(self, code: str, *, name: str | None = None) -> AgentStatus:
        """Put the agent in the queue (unpaused) and open a session; a second login is a no-op."""
        self._check(code)
        current = await self.db.run(_status, code)
        if current is not None and current.state != OFFLINE:
            return current
        added = await self._queue_add(code)
        try:
            return await self.db.run(_record_login, code, name, self.clock())
        except Exception:
            if added:
                await self._queue_remove(code, quiet=True)
            raise

    async def logout(self, code: str) -> AgentStatus:
        """Take the agent out of the queue and close the session; logging out twice is a no-op."""
        self._check(code)
        current = await self.db.run(_status, code)
        if current is None or current.state == OFFLINE:
            await self._queue_remove(code, quiet=True)  # a stray member from an older run
            return current or AgentStatus(code, code, OFFLINE, None, None)
        await self._queue_remove(code)
        try:
            return await self.db.run(_record_logout, code, self.clock())
        except Exception:
            await self._queue_add(code, paused=current.state == PAUSED, reason=current.reason)
            raise

    async def pause(self, code: str, reason: str) -> AgentStatus:
        """Stop ringing the agent, with a reason (break, training, after-call work...)."""
        self._check(code)
        reason = (reason or "").strip()
        if not reason:
            raise AgentError("a pause needs a reason")
        if len(reason) > 100 or any(c in reason for c in "\r\n"):
            raise AgentError("a pause reason is one line of at most 100 characters")
        if reason == WRAPUP_REASON:
            raise AgentError(f"{WRAPUP_REASON!r} is the after-call work's own reason; give "
                             "another")
        current = await self._logged_in(code)
        await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                              Paused="true", Reason=reason)
        try:
            return await self.db.run(_record_state, code, PAUSED, reason, self.clock())
        except Exception:
            if current.state != PAUSED:
                await self.ami.action("QueuePause", Queue=self.queue,
                                      Interface=interface_of(code), Paused="false")
            raise

    async def resume(self, code: str) -> AgentStatus:
        """Ring the agent again after a pause."""
        self._check(code)
        current = await self._logged_in(code)
        await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                              Paused="false")
        try:
            return await self.db.run(_record_state, code, AVAILABLE, None, self.clock())
        except Exception:
            if current.state == PAUSED:
                await self.ami.action("QueuePause", Queue=self.queue,
                                      Interface=interface_of(code), Paused="true",
                                      Reason=current.reason or "")
            raise

    async def wrap_up(self, code: str) -> AgentStatus | None:
        """Start after-call work: the queue rings the agent no more (a pause with the reason
        L{WRAPUP_REASON}) until L{end_wrap_up}. Only an available agent starts one; for any
        other (paused during the call, logged out) nothing changes and None is returned."""
        self._check(code)
        current = await self.db.run(_status, code)
        if current is None or current.state != AVAILABLE:
            return None
        await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                              Paused="true", Reason=WRAPUP_REASON)
        try:
            return await self.db.run(_record_state, code, WRAPUP, None, self.clock())
        except Exception:
            await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                                  Paused="false")
            raise

    async def end_wrap_up(self, code: str) -> AgentStatus:
        """End after-call work (its time is up, or the agent is ready early): the queue may ring
        the agent again. An agent not in wrap-up is refused with L{AgentError}."""
        self._check(code)
        current = await self._logged_in(code)
        if current.state != WRAPUP:
            raise AgentError(f"agent {code} is not in after-call work (整理中) but {current.state}")
        await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                              Paused="false")
        try:
            return await self.db.run(_record_state, code, AVAILABLE, None, self.clock())
        except Exception:
            await self.ami.action("QueuePause", Queue=self.queue, Interface=interface_of(code),
                                  Paused="true", Reason=WRAPUP_REASON)
            raise

    async def status(self) -> list[AgentStatus]:
        """Every agent with a record, logged in or not."""
        return await self.db.run(_all_status)

    # -- internals ------------------------------------------------------------------------------

    def _check(self, code: str) -> None:
        if code not in self.agents:
            known = ", ".join(self.agents) or "none"
            raise AgentError(f"no agent {code!r}: the configured agents are {known}")

    async def _logged_in(self, code: str) -> AgentStatus:
        current = await self.db.run(_status, code)
        if current is None or current.state == OFFLINE:
            raise AgentError(f"agent {code} is not logged in")
        return current

    async def _queue_add(self, code: str, *, paused: bool = False,
                         reason: str | None = None) -> bool:
        """QueueAdd; False when the member was already there (it is then left as it is)."""
        headers: dict[str, Any] = {"Queue": self.queue, "Interface": interface_of(code),
                                   "MemberName": member_name_of(code),
                                   "Paused": "true" if paused else "false"}
        if paused and reason:
            headers["Reason"] = reason
        try:
            await self.ami.action("QueueAdd", **headers)
        except AMIError as e:
            if "already there" in str(e).lower():
                return False
            raise AgentError(f"the PBX refused to add agent {code} to queue "
                             f"{self.queue}: {e.message.get('Message', e)}") from None
        return True

    async def _queue_remove(self, code: str, *, quiet: bool = False) -> None:
        try:
            await self.ami.action("QueueRemove", Queue=self.queue, Interface=interface_of(code))
        except AMIError as e:
            if quiet or "not there" in str(e).lower():
                return
            raise AgentError(f"the PBX refused to remove agent {code} from queue "
                             f"{self.queue}: {e.message.get('Message', e)}") from None

    async def _restore(self, ami: AMIClient) -> None:
        """Re-add the agents the records say are logged in (dynamic members die with Asterisk)."""
        logged_in = [s for s in await self.db.run(_all_status) if s.state != OFFLINE]
        for agent in logged_in:
            if agent.code not in self.agents:
                continue
            added = await self._queue_add(
                agent.code, paused=agent.state in (PAUSED, WRAPUP),
                reason=WRAPUP_REASON if agent.state == WRAPUP else agent.reason)
            if added:
                _log.info("agent {code} put back in queue {queue} ({state})", code=agent.code,
                          queue=self.queue, state=agent.state)


# -- units of work (run on the database's pool) --------------------------------------------------

def _agent(session: Session, code: str, name: str | None = None) -> Agent:
    agent = session.scalars(select(Agent).where(Agent.code == code)).one_or_none()
    if agent is None:
        agent = Agent(code=code, name=name or f"坐席 {code}", state=OFFLINE)
        session.add(agent)
        session.flush()
    elif name and agent.name != name:
        agent.name = name
    return agent


def _as_status(session: Session, agent: Agent) -> AgentStatus:
    last = session.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
                           .order_by(AgentStateChange.id.desc()).limit(1)).first()
    return AgentStatus(agent.code, agent.name, agent.state, last.at if last else None,
                       last.reason if last and agent.state == PAUSED else None)


def _status(session: Session, code: str) -> AgentStatus | None:
    agent = session.scalars(select(Agent).where(Agent.code == code)).one_or_none()
    return _as_status(session, agent) if agent is not None else None


def _all_status(session: Session) -> list[AgentStatus]:
    return [_as_status(session, a) for a in session.scalars(select(Agent).order_by(Agent.code))]


def _record_login(session: Session, code: str, name: str | None, now: dt.datetime) -> AgentStatus:
    agent = _agent(session, code, name)
    session.add(AgentSession(agent_id=agent.id, login_at=now))
    session.add(AgentStateChange(agent_id=agent.id, at=now, state="login"))
    agent.state = AVAILABLE
    session.flush()
    return _as_status(session, agent)


def _record_logout(session: Session, code: str, now: dt.datetime) -> AgentStatus:
    agent = _agent(session, code)
    for open_session in session.scalars(select(AgentSession).where(
            AgentSession.agent_id == agent.id, AgentSession.logout_at.is_(None))):
        open_session.logout_at = now
    session.add(AgentStateChange(agent_id=agent.id, at=now, state="logout"))
    agent.state = OFFLINE
    session.flush()
    return _as_status(session, agent)


def _record_state(session: Session, code: str, state: str, reason: str | None,
                  now: dt.datetime) -> AgentStatus:
    agent = _agent(session, code)
    change = {PAUSED: "pause", WRAPUP: "wrapup"}.get(
        state, "wrapup_end" if agent.state == WRAPUP else "unpause")
    session.add(AgentStateChange(agent_id=agent.id, at=now, state=change, reason=reason))
    agent.state = state
    session.flush()
    return _as_status(session, agent)
