"""Agents in and out of the real PBX's queue through the controller, every change on record."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Agent, AgentSession, AgentStateChange
from hotline.agents import AgentError
from hotline.controller import Controller

pytestmark = pytest.mark.pbx


async def _members(ami) -> dict[str, dict]:
    status = await ami.action("QueueStatus", Queue="hotline")
    return {m["Name"]: m for m in status if m.get("Event") == "QueueMember"}


def _history(db, code):
    with db.begin() as s:
        agent = s.scalars(select(Agent).where(Agent.code == code)).one()
        changes = [(c.state, c.reason) for c in s.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
            .order_by(AgentStateChange.id))]
        sessions = [(x.login_at, x.logout_at) for x in s.scalars(
            select(AgentSession).where(AgentSession.agent_id == agent.id))]
        return agent.state, changes, sessions


@pytest_twisted.ensureDeferred
async def test_login_pause_resume_logout_reach_the_queue_and_the_records(controller):
    agents = controller.agents
    await agents.login("1002", name="王芳")
    try:
        member = (await _members(controller.ami))["agent 1002"]
        assert member["Paused"] == "0"
        paused = await agents.pause("1002", "培训")
        assert paused.state == "paused" and paused.reason == "培训"
        member = (await _members(controller.ami))["agent 1002"]
        assert member["Paused"] == "1" and member["PausedReason"] == "培训"
        await agents.resume("1002")
        assert (await _members(controller.ami))["agent 1002"]["Paused"] == "0"
        # Logging in twice changes nothing.
        again = await agents.login("1002")
        assert again.state == "available"
    finally:
        await agents.logout("1002")
    assert "agent 1002" not in await _members(controller.ami)
    state, changes, sessions = _history(controller.db, "1002")
    assert state == "offline"
    assert changes[-4:] == [("login", None), ("pause", "培训"), ("unpause", None),
                            ("logout", None)]
    assert sessions[-1][1] is not None and sessions[-1][1] >= sessions[-1][0]
    assert all(logout is not None for _login, logout in sessions)


@pytest_twisted.ensureDeferred
async def test_bad_requests_are_refused_and_change_nothing(controller):
    before = await _members(controller.ami)
    with pytest.raises(AgentError, match="no agent '9999'"):
        await controller.agents.login("9999")
    with pytest.raises(AgentError, match="not logged in"):
        await controller.agents.pause("1003", "午休")
    await controller.agents.login("1003")
    try:
        with pytest.raises(AgentError, match="needs a reason"):
            await controller.agents.pause("1003", "  ")
        with pytest.raises(AgentError, match="one line"):
            await controller.agents.pause("1003", "a\r\nAction: Hangup")
        assert (await _members(controller.ami))["agent 1003"]["Paused"] == "0"
    finally:
        await controller.agents.logout("1003")
    assert await _members(controller.ami) == before
    with controller.db.begin() as s:
        assert s.scalars(select(Agent).where(Agent.code == "9999")).first() is None


@pytest_twisted.ensureDeferred
async def test_logged_in_agents_are_put_back_when_the_pbx_forgot_them(pbx_sandbox, controller):
    """Asterisk keeps no dynamic members across a restart; the controller's records put them
    back (paused ones paused) at its next AMI login."""
    await controller.agents.login("1004")
    await controller.agents.pause("1004", "小休")
    await controller.stop()
    # What an Asterisk restart does to the queue, without restarting the shared sandbox.
    from tests.support.pbx import ami_client

    raw = ami_client(pbx_sandbox, "pbx")
    raw.start()
    try:
        await raw.when_ready()
        await raw.action("QueueRemove", Queue="hotline", Interface="PJSIP/agent-1004")
        assert "agent 1004" not in await _members(raw)
    finally:
        await raw.stop()
    returned = Controller(config=pbx_sandbox.config, reactor=reactor)
    await returned.start()
    try:
        member = (await _members(returned.ami))["agent 1004"]
        assert member["Paused"] == "1" and member["PausedReason"] == "小休"
    finally:
        await returned.agents.logout("1004")
        await returned.stop()
