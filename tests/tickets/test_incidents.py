"""Incidents (同类事件批量处理) over the JSON API, the console's pages and ``hotline incident``
(no PBX), on SQLite and PostgreSQL: a supervisor confirms a proposal, a dispatcher sends it to
one department, its liaison replies once, every citizen is owed one callback and the page
counts them; roles, CSRF and bad input are refused and audited."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import AuditEntry, Callback, Grid, Ticket
from hotline.cli.main import main
from hotline.tickets.service import TicketService
from tests.tickets.test_http import post, signed_in
from tests.web.support import form_csrf


def burst_pipe(db, n: int = 4) -> list[str]:
    """``n`` complaints about one burst pipe in G001 from different citizens; their numbers."""
    with db.begin() as s:
        s.add(Grid(code="G001", name="第1网格", level=1))
        s.flush()
        service = TicketService()
        return [service.intake(s, {"channel": "hotline", "kind": "complaint", "grid": "G001",
                                   "category": "供水", "phone": f"1380000000{i}",
                                   "description": f"胜利路水管爆裂 {i}"}, actor="agent1").number
                for i in range(n)]


@pytest_twisted.ensureDeferred
async def test_confirm_dispatch_reply_once_over_the_api(life_console, db):
    """The proposal lists the four tickets; confirmed without one (split), dispatched to W01,
    replied once by W01's liaison: three tickets replied, three callbacks owed, progress 0 of 3;
    P01's liaison cannot see or reply to it."""
    numbers = burst_pipe(db)
    boss, boss_csrf = await signed_in(life_console, "boss")
    overview = (await boss.get("/api/incidents")).json()
    assert [[t["number"] for t in p["tickets"]] for p in overview["proposals"]] == [numbers]
    assert "13800000000" not in str(overview)
    status, incident = await post(boss, boss_csrf, "/api/incidents",
                                  {"tickets": numbers[:3], "title": "胜利路爆管"})
    assert status == 201, incident
    iid = incident["id"]
    disp, disp_csrf = await signed_in(life_console, "disp")
    status, _ = await post(disp, disp_csrf, "/api/incidents", {"tickets": numbers})
    assert status == 403
    status, incident = await post(disp, disp_csrf, f"/api/incidents/{iid}/dispatch",
                                  {"department": "W01", "instruction": "请抢修"})
    assert status == 200 and incident["departments"] == ["W01"]
    power, power_csrf = await signed_in(life_console, "power")
    assert (await power.get(f"/api/incidents/{iid}")).status == 404
    status, _ = await post(power, power_csrf, f"/api/incidents/{iid}/reply", {"text": "已修"})
    assert status == 404
    water, water_csrf = await signed_in(life_console, "water")
    status, error = await post(water, water_csrf, f"/api/incidents/{iid}/reply", {"text": " "})
    assert status == 400 and "text" in error["details"]["fields"]
    status, incident = await post(water, water_csrf, f"/api/incidents/{iid}/reply",
                                  {"text": "已关阀抢修，今晚恢复供水"})
    assert status == 200, incident
    assert {t["status"] for t in incident["tickets"]} == {"replied"}
    assert incident["progress"] == {"total": 3, "reached": 0, "not_reached": 0, "pending": 3}
    page = (await water.get(f"/incidents/{iid}")).text
    assert "已联系 0 / 3 位市民" in page and "13800000000" not in page
    with db.begin() as s:
        assert len(s.scalars(select(Callback)).all()) == 3
        left = s.scalars(select(Ticket).where(Ticket.number == numbers[3])).one()
        assert left.incident_id is None and left.status == "received"
        actions = set(s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("incident.%"))))
    assert actions == {"incident.confirm", "incident.dispatch", "incident.reply"}


def form(fields: dict) -> dict:
    """A urlencoded body with repeated fields (the proposal's checkboxes)."""
    return {"body": urlencode(fields, doseq=True).encode(),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


@pytest_twisted.ensureDeferred
async def test_pages_confirm_and_dispatch_with_forms(life_console, db):
    """The supervisor's page offers the proposal; its form (CSRF token) confirms it; the
    incident's page dispatches it; an unknown department comes back as the page's error; a
    form without the token is refused."""
    numbers = burst_pipe(db, 2)
    boss, _ = await signed_in(life_console, "boss")
    page = (await boss.get("/incidents")).text
    assert numbers[0] in page and "确认为同一事件" in page
    token = form_csrf(page)
    refused = await boss.post("/incidents/confirm", **form({"tickets": numbers}))
    assert refused.status == 403
    reply = await boss.post("/incidents/confirm", **form({"_csrf": token, "tickets": numbers,
                                                          "title": "胜利路爆管"}))
    assert reply.status == 303, reply.text
    where = reply.headers["Location"].split("?")[0]
    page = (await boss.get(where)).text
    assert "胜利路爆管" in page and 'id="incident-dispatch"' in page
    reply = await boss.post(where + "/do/dispatch",
                            **form({"_csrf": form_csrf(page), "department": "X99"}))
    assert reply.status == 303 and "error=" in reply.headers["Location"]
    reply = await boss.post(where + "/do/dispatch",
                            **form({"_csrf": form_csrf(page), "department": "W01"}))
    assert reply.status == 303 and "done=dispatch" in reply.headers["Location"]
    page = (await boss.get(where)).text
    assert page.count('data-status="dispatched"') == 2


@pytest.fixture
def cli_env(db_url, db, monkeypatch, tmp_path):
    from db.models import Department
    from hotline.web import accounts

    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    with db.begin() as s:
        s.add(Department(code="W01", name="区水务局"))
        s.flush()
        for name, role, dept, seat in (("boss", "supervisor", None, None),
                                       ("disp", "dispatcher", None, None),
                                       ("water", "liaison", "W01", None),
                                       ("agent1", "agent", None, "1001")):
            accounts.create_user(s, name, role=role, password=f"{name}-password-1",
                                 department=dept, agent_code=seat)
    return burst_pipe(db, 3)


def test_incident_from_the_command_line(cli_env, db, capsys):
    """`hotline incident list|confirm|dispatch|reply|show` take an incident through its steps;
    an agent may not confirm."""
    numbers = cli_env

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    assert " ".join(numbers) in run("incident", "list", "--as", "boss")
    assert main(["incident", "confirm", *numbers, "--as", "agent1"]) != 0
    out = run("incident", "confirm", *numbers, "--as", "boss", "--title", "胜利路爆管")
    iid = out.split(":")[0].split()[1]
    run("incident", "dispatch", iid, "--as", "disp", "--department", "W01")
    out = run("incident", "reply", iid, "--as", "water", "--text", "已抢修")
    assert "reached 0 of 3" in out
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["replied"] * 3
    assert "reached 0 of 3" in run("incident", "show", iid, "--as", "boss")
    with db.begin() as s:
        assert len(s.scalars(select(Callback)).all()) == 3
