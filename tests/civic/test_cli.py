"""``hotline council`` and ``hotline project``: the three flows from the command line as
console accounts, with the console's checks (a refused step is one line, audited)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEntry
from hotline.cli.main import main
from hotline.web import accounts
from tests.civic.support import courtyard_tickets


@pytest.fixture
def env(db_url: str, db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Accounts (staff, leader, two organisation accounts) and the courtyard's tickets."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    with db.begin() as s:
        for name, role in (("boss", "supervisor"), ("chief", "leader"),
                           ("acme", "organisation")):
            accounts.create_user(s, name, role=role, password=f"{name}-password-1")
        numbers = courtyard_tickets(s)
    return db, numbers


def test_the_three_flows_from_the_command_line(env, capsys, tmp_path, monkeypatch):
    """An organisation account added and organisations registered; a topic noticed, met and reported (each ticket told); a
    proposal claimed, progressed with a photo and finished, a second claim refused; an
    application reviewed twice and decided at 50 %."""
    db, numbers = env

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    boss = ["--as", "boss"]
    with monkeypatch.context() as m:
        m.setattr("sys.stdin", io.StringIO("hope-password-1\n"))
        run("user", "add", "hope", "--role", "organisation", "--password-stdin")
    run("project", "org-add", "ACME", "爱心建设公司", *boss)
    run("project", "org-add", "HOPE", "希望公益", *boss)
    run("project", "org-member", "ACME", "acme", *boss)
    assert "hope" in run("project", "org-member", "HOPE", "hope", *boss)
    out = run("council", "create", *numbers, "--title", "院落改造", "--category", "小区环境",
              "--level", "community", "--council", "幸福里社区议事会", "--summary", "杂物堆积",
              *boss)
    assert out.startswith("topic 1:") and "3 tickets" in out
    run("council", "notice", "1", "--days", "7", "--place", "活动室", *boss)
    run("council", "meeting", "1", "--participants", "代表5人", "--minutes", "讨论",
        "--decisions", "改建", *boss)
    out = run("council", "report", "1", "--text", "已开工", *boss)
    assert "reported" in out and out.count("told:") == 3
    run("project", "create", *numbers, "--title", "院落改造", "--category", "小区环境",
        "--area", "幸福里", "--summary", "清运", "--cost", "80000", *boss)
    run("project", "claim", "1", "--as", "acme")
    assert main(["project", "claim", "1", "--as", "hope"]) == 1
    assert "已被认领" in capsys.readouterr().err
    photo = tmp_path / "day1.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    out = run("project", "progress", "1", "--text", "清运完毕", "--photo", str(photo),
              "--as", "acme")
    assert "photos 1" in out
    assert "finished" in run("project", "finish", "1", "--result", "完工", "--as", "acme")
    run("project", "apply", "--title", "垃圾分类", "--summary", "宣传", "--budget", "50000",
        "--benefit", "3个小区", "--as", "hope")
    assert main(["project", "review", "1", "--score", "120", "--as", "chief"]) == 1
    assert "score" in capsys.readouterr().err
    run("project", "review", "1", "--score", "70", "--as", "chief")
    run("project", "review", "1", "--score", "90", "--as", "acme")
    out = run("project", "decide", "1", "--ratio", "50", *boss)
    assert "approved" in out and "50% (25000 yuan)" in out
    with db.begin() as s:
        refused = s.scalars(select(AuditEntry.action).where(AuditEntry.outcome != "ok")).all()
    assert sorted(refused) == ["application.review", "project.claim"]
