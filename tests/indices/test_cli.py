"""Tests for L{hotline.cli.index}: the indices and warnings from the command line, over a
database with sample history and a spike (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import EarlyWarning, Ticket
from hotline.cli.main import main
from hotline.indices.history import Spike, generate_history
from hotline.web import accounts
from tests.indices.seed import TZ, recompute, small_district


@pytest.fixture
def env(db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Session:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    today = dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date()
    small_district(session)
    generate_history(session, first_day=today - dt.timedelta(days=35), days=35, per_day=40,
                     timezone=TZ, now=dt.datetime.now(dt.UTC), citizens=150,
                     spikes=[Spike(today - dt.timedelta(days=1), "G003", "供水", 12)])
    accounts.create_user(session, "boss", role="supervisor", password="boss-pass-0001")
    accounts.create_user(session, "chief", role="leader", password="chief-pass-0001")
    session.commit()
    return session


def test_update_show_and_task(env: Session, capsys: pytest.CaptureFixture[str]) -> None:
    """``index update`` folds the history and names the spiked warning; ``index show --format
    json`` equals recomputation from raw rows; a leader may not make a task, a supervisor
    makes exactly one."""
    assert main(["index", "update"]) == 0
    out = capsys.readouterr().out
    assert "G003 供水" in out and out.count("warning ") == 1
    today = dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date()
    first = today - dt.timedelta(days=10)
    assert main(["index", "show", "--by", "community", "--from", str(first), "--to",
                 str(today), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    env.rollback()
    want = recompute(env, first, today, "community")
    assert {r["code"]: {k: r[k] for k in want[r["code"]]} for r in rows} == want
    wid = env.scalar(select(EarlyWarning.id))
    env.rollback()
    assert main(["index", "task", str(wid), "--as", "chief"]) == 1
    assert "may not act" in capsys.readouterr().err
    assert main(["index", "task", str(wid), "--as", "boss"]) == 0
    assert main(["index", "task", str(wid), "--as", "boss"]) == 1
    assert "already tasked" in capsys.readouterr().err
    assert env.scalar(select(Ticket.status).where(Ticket.channel == "proactive")) == "received"
    assert main(["index", "warnings", "--status", "tasked"]) == 0
    assert "tasked" in capsys.readouterr().out
    month = f"{today:%Y-%m}"
    assert main(["index", "pick", month, "G003", "供水", "--as", "chief"]) == 0
    assert main(["index", "topics", "--month", month, "--format", "json"]) == 0
    chosen = json.loads(capsys.readouterr().out.split("\n", 1)[1])["topics"]
    assert [(t["grid"], t["category"]) for t in chosen] == [("G003", "供水")]


@pytest.mark.parametrize("argv, message", [
    (["index", "show", "--from", "2026-13-01"], "expected a day"),
    (["index", "show", "--from", "2026-11-08", "--to", "2026-11-01"], "before it starts"),
    (["index", "trend", "--grid", "G999"], "no level-1 grid"),
    (["index", "dismiss", "999999", "--as", "boss"], "no early warning 999999"),
])
def test_bad_input_is_one_clear_line(env: Session, capsys: pytest.CaptureFixture[str],
                                     argv: list[str], message: str) -> None:
    """A malformed day, a reversed period, an unknown grid or warning exits 1 saying why."""
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
