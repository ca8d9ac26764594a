"""``hotline ticket|calendar|department``: a ticket's life from the command line, acting as a
console account with the same checks and audit as the console."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEntry, Department, Ticket, TicketAttachment, WorkCalendarDay
from hotline.cli.main import main
from hotline.tickets.service import TicketService
from hotline.web import accounts


@pytest.fixture
def env(db_url: str, db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A database with two departments and one account per role, and the command's env."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    with db.begin() as s:
        s.add_all([Department(code="W01", name="区水务局"), Department(code="P01", name="供电公司")])
        s.flush()
        for name, role, dept, code in (("agent1", "agent", None, "1001"),
                                       ("disp", "dispatcher", None, None),
                                       ("boss", "supervisor", None, None),
                                       ("water", "liaison", "W01", None)):
            accounts.create_user(s, name, role=role, password=f"{name}-password-1",
                                 department=dept, agent_code=code)
        t = TicketService().intake(s, {"channel": "hotline", "kind": "complaint",
                                       "phone": "13812345678", "description": "停水两天"},
                                   actor="agent1")
        number = t.number
    return db, number


def test_a_whole_life_from_the_command_line(env, capsys, tmp_path):
    """Dispatch, accept, ask and get an extension, reply with a file, follow up unsatisfied
    (reopened), reply again, follow up satisfied (closed); show and list print it."""
    db, number = env
    photo = tmp_path / "现场.png"
    photo.write_bytes(b"\x89PNG fake")

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    assert number in run("ticket", "list", "--as", "disp")
    out = run("ticket", "dispatch", number, "--as", "disp", "--department", "W01", "--co", "P01",
              "--instruction", "请尽快恢复供水")
    assert "dispatched" in out and "W01" in out
    assert "accept" in run("ticket", "show", number, "--as", "water")
    run("ticket", "accept", number, "--as", "water")
    run("ticket", "extend", number, "--as", "water", "--days", "3", "--reason", "管网抢修")
    with db.begin() as s:
        extension = s.scalars(select(Ticket).where(Ticket.number == number)).one() \
            .extensions[0].id
    assert str(extension) in run("ticket", "list", "--list", "supervise", "--as", "boss")
    run("ticket", "extend", number, "--as", "boss", "--approve", str(extension), "--note", "同意")
    run("ticket", "reply", number, "--as", "water", "--text", "已恢复供水",
        "--attach", str(photo))
    out = run("ticket", "follow-up", number, "--as", "agent1", "--not-satisfied",
              "--text", "水压仍低")
    assert "reopened" in out
    run("ticket", "reply", number, "--as", "water", "--text", "已加压")
    assert "closed" in run("ticket", "follow-up", number, "--as", "agent1", "--satisfied")
    shown = run("ticket", "show", number, "--as", "boss")
    assert "reopened 1x" in shown and "现场.png" in shown and "approved" in shown
    with db.begin() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.status == "closed" and ticket.reopen_count == 1
        assert s.scalars(select(TicketAttachment)).one().filename == "现场.png"
        assert {e.actor for e in s.scalars(select(AuditEntry))} >= {"disp", "water", "boss",
                                                                     "agent1"}


def test_refusals_are_one_clear_line_and_audited(env, capsys):
    """Acting without --as, as a role that may not, from a wrong status, or with a stale
    version: exit 1 with one line, nothing changed, the refusal in the audit log."""
    db, number = env
    assert main(["ticket", "accept", number]) == 1
    assert "--as USER" in capsys.readouterr().err
    assert main(["ticket", "dispatch", number, "--as", "agent1", "--department", "W01"]) == 1
    assert "may not dispatch" in capsys.readouterr().err
    assert main(["ticket", "show", number, "--as", "water"]) == 1  # not their department's
    assert f"no ticket {number}" in capsys.readouterr().err
    assert main(["ticket", "dispatch", number, "--as", "disp", "--department", "X9"]) == 1
    assert "no department with code 'X9'" in capsys.readouterr().err
    assert main(["ticket", "close", number, "--as", "agent1"]) == 1
    assert "cannot close" in capsys.readouterr().err
    assert main(["ticket", "dispatch", number, "--as", "disp", "--department", "W01",
                 "--version", "7"]) == 1
    assert "version 7" in capsys.readouterr().err
    with db.begin() as s:
        assert s.scalars(select(Ticket)).one().status == "received"
        denied = [(e.actor, e.action, e.outcome) for e in s.scalars(
            select(AuditEntry).order_by(AuditEntry.id))]
    assert ("agent1", "ticket.dispatch", "denied") in denied
    assert ("agent1", "ticket.close", "failed") in denied


def test_calendar_and_duty_numbers(env, capsys):
    """A supervisor adds a local holiday (listed as the site's) and a duty number; an agent
    may not."""
    db, _ = env
    assert main(["calendar", "add", "2024-11-19", "--holiday", "--note", "区运动会",
                 "--as", "boss"]) == 0
    assert main(["calendar", "list", "--from", "2024-11-18", "--to", "2024-11-20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("2024-11-19") and "off" in line and "site" in line
               and "区运动会" in line for line in lines)
    assert any(line.startswith("2024-11-18") and "national" in line for line in lines)
    assert main(["calendar", "add", "2024-11-23", "--workday", "--as", "agent1"]) == 1
    assert main(["department", "duty", "W01", "0411-8888 1234", "--as", "boss"]) == 0
    assert main(["department", "list"]) == 0
    assert "041188881234" in capsys.readouterr().out
    with db.begin() as s:
        assert s.get(WorkCalendarDay, "2024-11-19").workday is False
