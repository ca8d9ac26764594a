"""What an agent may reach through the API beyond their own work: paging through tickets (and
the citizens' numbers on them) is bounded, and a new ticket links only a call the agent's own
seat took, never moving a call off the ticket it belongs to."""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from sqlalchemy import select

from db.models import Agent, Call, Ticket
from hotline.tickets.http import AGENT_PAGE_DEPTH
from tests.web.conftest import PASSWORDS
from tests.web.support import HTTP, sign_in


async def _signed_in(console, user: str) -> tuple[HTTP, str]:
    client = HTTP(console.port)
    await sign_in(client, user, PASSWORDS[user])
    return client, await client.csrf()


def _calls(db) -> None:
    with db.begin() as s:
        now = dt.datetime.now(dt.UTC)
        for code, uniqueid in (("1001", "pbx-1.1"), ("1002", "pbx-1.2")):
            agent = Agent(code=code, name=code)
            s.add(agent)
            s.flush()
            s.add(Call(uniqueid=uniqueid, linkedid=uniqueid, direction="inbound",
                       caller_number="13812345678", started_at=now, ended_at=now,
                       status="completed", agent_id=agent.id))


def _ticket_of(db, uniqueid: str) -> int | None:
    with db.begin() as s:
        return s.scalar(select(Call.ticket_id).where(Call.uniqueid == uniqueid))


_BODY = {"kind": "help", "phone": "13812345678", "description": "停水了"}


@pytest_twisted.ensureDeferred
async def test_agent_links_only_calls_of_their_own_seat(console, db):
    """Another seat's call is refused (403, audited); the agent's own call is linked; a call
    already on a ticket stays there when a second ticket names it."""
    _calls(db)
    agent, csrf = await _signed_in(console, "agent1")
    headers = {"X-CSRF-Token": csrf}
    refused = await agent.post("/api/tickets", json={**_BODY, "call_uniqueid": "pbx-1.2"},
                               headers=headers)
    assert refused.status == 403 and refused.json()["error_id"] == "not-your-call"
    assert _ticket_of(db, "pbx-1.2") is None
    own = await agent.post("/api/tickets", json={**_BODY, "call_uniqueid": "pbx-1.1"},
                           headers=headers)
    assert own.status == 201
    first = own.json()["id"]
    assert _ticket_of(db, "pbx-1.1") == first

    again = await agent.post("/api/tickets", json={**_BODY, "description": "路灯也坏了",
                                                   "call_uniqueid": "pbx-1.1"},
                             headers=headers)
    assert again.status == 201 and again.json()["id"] != first
    assert _ticket_of(db, "pbx-1.1") == first
    boss, boss_csrf = await _signed_in(console, "boss")
    moved = await boss.post("/api/tickets", json={**_BODY, "call_uniqueid": "pbx-1.1"},
                            headers={"X-CSRF-Token": boss_csrf})
    assert moved.status == 201 and _ticket_of(db, "pbx-1.1") == first
    with db.begin() as s:
        assert s.scalar(select(Ticket.id).where(Ticket.id == first)) == first


@pytest_twisted.ensureDeferred
async def test_agent_paging_is_bounded_supervisor_is_not(console):
    """An agent pages through the newest tickets only (400 beyond, naming the bound); a
    supervisor may page deeper."""
    agent, _ = await _signed_in(console, "agent1")
    deep = await agent.get(f"/api/tickets?offset={AGENT_PAGE_DEPTH}&limit=50")
    assert deep.status == 400 and deep.json()["details"]["max"] == AGENT_PAGE_DEPTH
    assert (await agent.get("/api/tickets?offset=100&limit=100")).status == 200
    boss, _ = await _signed_in(console, "boss")
    assert (await boss.get("/api/tickets?offset=5000&limit=200")).status == 200


@pytest_twisted.ensureDeferred
async def test_agent_worklist_paging_is_bounded_as_the_ticket_list(console):
    """The worklists keep the same bound for an agent (400 naming it, before the list is read);
    a supervisor pages a worklist deeper."""
    agent, _ = await _signed_in(console, "agent1")
    deep = await agent.get(f"/api/worklists/mine?offset={AGENT_PAGE_DEPTH}&limit=50")
    assert deep.status == 400 and deep.json()["details"]["max"] == AGENT_PAGE_DEPTH
    assert (await agent.get("/api/worklists/mine?offset=100&limit=100")).status == 200
    boss, _ = await _signed_in(console, "boss")
    assert (await boss.get("/api/worklists/dispatch?offset=5000&limit=200")).status == 200


@pytest_twisted.ensureDeferred
async def test_the_agent_who_promises_a_call_back_owns_it(console, db):
    """A promise made at the desk belongs to the agent who made it (it heads their 我的回拨);
    one made by a supervisor without a seat is anyone's to take."""
    from db.models import Callback

    _calls(db)  # agents 1001 and 1002
    promised = (dt.datetime.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    agent, csrf = await _signed_in(console, "agent1")
    mine = await agent.post("/api/tickets", json={**_BODY, "promised_reply_at": promised},
                            headers={"X-CSRF-Token": csrf})
    assert mine.status == 201, mine.text
    boss, boss_csrf = await _signed_in(console, "boss")
    theirs = await boss.post("/api/tickets", json={**_BODY, "promised_reply_at": promised},
                             headers={"X-CSRF-Token": boss_csrf})
    assert theirs.status == 201, theirs.text
    with db.begin() as s:
        owners = {cb.ticket_id: (cb.owner_agent.code if cb.owner_agent else None)
                  for cb in s.scalars(select(Callback))}
    assert owners == {mine.json()["id"]: "1001", theirs.json()["id"]: None}
