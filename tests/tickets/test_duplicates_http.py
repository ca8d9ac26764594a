"""Possible duplicates and co-reporters over the JSON API, the ticket page and the command line
(no PBX), on SQLite and PostgreSQL: what the desk calls while the agent types, the attach, the
role and CSRF refusals, and the OpenAPI document naming the calls."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import AuditEntry, Grid, TicketReporter
from hotline.cli.main import main
from hotline.openapi import document
from hotline.tickets.service import TicketService
from tests.tickets.test_http import post, signed_in


def two_tickets(db) -> tuple[int, str]:
    """A burst pipe in G001 and a noise complaint in the same grid; the pipe's id and number."""
    with db.begin() as s:
        s.add(Grid(code="G001", name="第1网格", level=1))
        s.flush()
        service = TicketService()
        pipe = service.intake(s, {"channel": "hotline", "kind": "complaint", "grid": "G001",
                                  "category": "供水", "phone": "13812345678",
                                  "description": "胜利路自来水管爆裂，路面积水"}, actor="agent1")
        service.intake(s, {"channel": "hotline", "kind": "complaint", "grid": "G001",
                           "category": "供水", "phone": "13812345679",
                           "description": "水压偏低"}, actor="agent1")
        return pipe.id, pipe.number


@pytest_twisted.ensureDeferred
async def test_desk_checks_duplicates_and_attaches_the_call(life_console, db):
    """The desk's check ranks the burst pipe first with no phone number in it; attaching the
    caller makes them a co-reporter (audited), shown on the ticket page masked."""
    pipe, number = two_tickets(db)
    agent, csrf = await signed_in(life_console, "agent1")
    status, found = await post(agent, csrf, "/api/tickets/duplicates",
                               {"category": "供水", "grid": "G001",
                                "description": "胜利路水管爆了，到处是水"})
    assert status == 200, found
    assert [c["number"] for c in found["candidates"]][0] == number
    assert "13812345678" not in json.dumps(found)
    status, view = await post(agent, csrf, f"/api/tickets/{pipe}/reporters",
                              {"phone": "13700000002", "text": "我家楼下也在冒水"})
    assert status == 200 and view["added"] is True
    assert [r["masked_phone"] for r in view["reporters"]] == ["137****0002"]
    page = (await agent.get(f"/tickets/{pipe}")).text
    assert "137****0002" in page and "13700000002" not in page and "共同反映人" in page
    dupes = (await agent.get(f"/api/tickets/{pipe}/duplicates")).json()
    assert number not in [c["number"] for c in dupes["candidates"]]
    with db.begin() as s:
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "ticket.co_report")) == "ticket.co_report"


@pytest_twisted.ensureDeferred
async def test_bad_input_roles_and_csrf_are_refused(life_console, db):
    """A bad phone is a 400 naming the field and adds nobody; a liaison gets 403; no CSRF
    token gets 403."""
    pipe, _ = two_tickets(db)
    agent, csrf = await signed_in(life_console, "agent1")
    status, error = await post(agent, csrf, f"/api/tickets/{pipe}/reporters", {"phone": "12"})
    assert status == 400 and "phone" in error["details"]["fields"]
    status, error = await post(agent, csrf, "/api/tickets/duplicates", {"grid": "G999",
                                                                       "category": "供水"})
    assert status == 400 and "grid" in error["details"]["fields"]
    water, water_csrf = await signed_in(life_console, "water")
    status, _ = await post(water, water_csrf, "/api/tickets/duplicates", {"category": "供水"})
    assert status == 403
    reply = await agent.post(f"/api/tickets/{pipe}/reporters", json={"phone": "13700000002"})
    assert reply.status == 403
    with db.begin() as s:
        assert s.scalar(select(TicketReporter)) is None


def test_openapi_names_the_duplicate_and_incident_calls():
    """The OpenAPI document describes the duplicate check, the attach and the incident calls."""
    paths = document()["paths"]
    for path in ("/api/tickets/duplicates", "/api/tickets/{ticket_id}/duplicates",
                 "/api/tickets/{ticket_id}/reporters", "/api/incidents",
                 "/api/incidents/{incident_id}", "/api/incidents/{incident_id}/dispatch",
                 "/api/incidents/{incident_id}/reply"):
        assert path in paths


@pytest.fixture
def cli_env(db_url, db, monkeypatch, tmp_path):
    from hotline.web import accounts

    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    with db.begin() as s:
        accounts.create_user(s, "agent1", role="agent", password="agent1-password-1",
                             agent_code="1001")
        accounts.create_user(s, "disp", role="dispatcher", password="disp-password-1")
    return two_tickets(db)


def test_duplicates_and_attach_from_the_command_line(cli_env, db, capsys):
    """`hotline ticket duplicates` lists the candidates; `hotline ticket attach` adds the
    co-reporter once; a dispatcher is refused."""
    pipe, number = cli_env
    assert main(["ticket", "duplicates", "--as", "agent1", "--category", "供水", "--grid",
                 "G001", "--description", "胜利路水管爆了"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[1] == number
    assert main(["ticket", "attach", number, "--as", "agent1", "--phone", "13700000002"]) == 0
    assert "co-reporter added" in capsys.readouterr().out
    assert main(["ticket", "attach", number, "--as", "agent1", "--phone", "13700000002"]) == 0
    assert "already" in capsys.readouterr().out
    assert main(["ticket", "attach", number, "--as", "disp", "--phone", "13700000003"]) != 0
    assert main(["ticket", "duplicates", number, "--as", "agent1"]) == 0
    assert number not in capsys.readouterr().out.split("\n", 2)[-1]
    with db.begin() as s:
        assert len(s.scalars(select(TicketReporter)).all()) == 1


@pytest_twisted.ensureDeferred
async def test_open311_intake_answers_with_possible_duplicates(life_console, db):
    """A second Open311 request about the same burst pipe in the same grid is answered with
    the first one's number among its possible duplicates, and no phone number."""
    from hotline.web import accounts
    from tests.web.support import HTTP

    pipe, number = two_tickets(db)
    with db.begin() as s:
        _, raw = accounts.create_api_key(s, "wechat-dup", channel="wechat")
    client = HTTP(life_console.port)
    reply = await client.post("/open311/v2/requests.json", form={
        "api_key": raw, "service_code": "complaint", "description": "胜利路水管爆了，路面积水",
        "address_string": "胜利路 3 号", "phone": "13700001111",
        "attribute[category]": "供水", "attribute[grid]": "G001"})
    assert reply.status == 201, reply.text
    (answer,) = reply.json()
    assert answer["possible_duplicates"][0] == number
    assert "1381234567" not in reply.text
