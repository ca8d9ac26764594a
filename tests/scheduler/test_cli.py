"""``hotline callbacks promise | list``: promises from the command line, the report with
masked numbers, and clear errors that change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from db import migrate
from db.models import Callback
from db.session import make_engine, make_session_factory
from hotline.cli.main import main
from tests.scheduler.support import ensure_agents, new_ticket


def _setup(tmp_path, monkeypatch) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as s:
        ensure_agents(s, "1001")
        from db.models import Ticket
        number = s.get(Ticket, new_ticket(s, "13912345678")).number
    engine.dispose()
    return url, number


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(Callback)).scalar_one()
    engine.dispose()
    return n


def test_promise_then_list(tmp_path, monkeypatch, capsys):
    """A promise by ticket number with an owner shows in the list, phone masked."""
    url, number = _setup(tmp_path, monkeypatch)
    assert main(["callbacks", "promise", number, "--in", "3600", "--owner", "1001"]) == 0
    assert "promised by" in capsys.readouterr().out
    assert main(["callbacks", "list"]) == 0
    out = capsys.readouterr().out
    assert number in out and "139****5678" in out and "13912345678" not in out
    assert "1001" in out and "pending" in out


def test_bad_promises_are_refused_and_change_nothing(tmp_path, monkeypatch, capsys):
    """Unknown ticket, unknown agent, a past or malformed time: exit 1, one clear line, no row."""
    url, number = _setup(tmp_path, monkeypatch)
    for argv, needle in (
            (["RX20000101-000001", "--in", "60"], "RX20000101-000001"),
            ([number, "--in", "60", "--owner", "9999"], "no agent"),
            ([number, "--at", "2001-01-01T08:00"], "past"),
            ([number, "--at", "tomorrow"], "not an ISO time"),
            ([number, "--in", "-5"], "positive")):
        assert main(["callbacks", "promise", *argv]) == 1
        assert needle in capsys.readouterr().err
    assert _count(url) == 0


def test_run_refuses_bad_scheduler_settings(tmp_path, capsys):
    """`hotline callbacks run` with quiet hours it cannot read: the configuration is refused
    (exit 2) with the reason, nothing starts."""
    config = tmp_path / "site.toml"
    config.write_text(f'[site]\nstate_dir = "{tmp_path}"\n[scheduler]\n'
                      'quiet_hours = "25:00-08:00"\n')
    assert main(["--config", str(config), "callbacks", "run"]) == 2
    assert "quiet hours" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()
