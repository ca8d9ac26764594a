"""Tests for L{hotline.floor.http} on a console without a PBX link: who may reach the floor's
routes, and that they answer 503 rather than pretend when nothing follows calls."""

from __future__ import annotations

import pytest_twisted

from tests.web.conftest import PASSWORDS, console  # noqa: F401 - the fixture
from tests.web.support import HTTP, sign_in


@pytest_twisted.ensureDeferred
async def test_agents_cannot_listen_and_supervisors_get_503_without_pbx(console):  # noqa: F811
    """An agent asking to listen is refused (403, and nothing rings); a supervisor is told the
    PBX link is missing (503); the agent's own wrap-up end without a PBX is 503 too."""
    agent = HTTP(console.port)
    await sign_in(agent, "agent1", PASSWORDS["agent1"])
    csrf = await agent.csrf()
    refused = await agent.post("/api/floor/spy", json={"call": "1.1", "mode": "listen"},
                               headers={"X-CSRF-Token": csrf})
    assert refused.status == 403
    assert (await agent.get("/api/floor/spy")).status == 403
    ended = await agent.post("/api/floor/wrapup/end", headers={"X-CSRF-Token": csrf})
    assert ended.status == 503
    boss = HTTP(console.port)
    await sign_in(boss, "boss", PASSWORDS["boss"])
    reply = await boss.post("/api/floor/spy", json={"call": "1.1", "mode": "listen"},
                            headers={"X-CSRF-Token": await boss.csrf()})
    assert reply.status == 503 and reply.json()["error_id"] == "not-available"


@pytest_twisted.ensureDeferred
async def test_listening_needs_the_csrf_token(console):  # noqa: F811
    """A state change without the CSRF token is refused before anything is tried."""
    boss = HTTP(console.port)
    await sign_in(boss, "boss", PASSWORDS["boss"])
    reply = await boss.post("/api/floor/spy", json={"call": "1.1", "mode": "listen"})
    assert reply.status == 403
