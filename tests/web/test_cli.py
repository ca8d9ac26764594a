"""``hotline user``: accounts and API keys from the command line, bad input refused."""

from __future__ import annotations

import io

from sqlalchemy import select

from db.models import ApiKey, AuditEntry, ConsoleUser
from db.session import make_engine, make_session_factory
from hotline.cli.main import main
from hotline.web.auth import verify_password


def _rows(url, model):
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            return list(s.scalars(select(model)))
    finally:
        engine.dispose()


def test_user_add_list_and_refusals(db_url, monkeypatch, capsys):
    """`hotline user add` stores an argon2 hash (never the password) and audits; a short
    password, an unknown seat or a duplicate name is refused and adds nothing."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["user", "add", "lina", "--role", "agent", "--agent", "1001",
                 "--display-name", "李娜", "--password-stdin"]) == 0
    users = _rows(db_url, ConsoleUser)
    assert [(u.username, u.role, u.agent_code) for u in users] == [("lina", "agent", "1001")]
    assert verify_password(users[0].password_hash, "a-long-password")
    assert "a-long-password" not in users[0].password_hash
    for argv, stdin, why in (
            (["user", "add", "bob", "--role", "admin"], "short\n", "at least"),
            (["user", "add", "bob", "--role", "agent", "--agent", "9999"], "a-long-password\n",
             "no agent seat"),
            (["user", "add", "lina", "--role", "admin"], "a-long-password\n", "already exists"),
            (["user", "add", "water", "--role", "liaison"], "a-long-password\n", "department")):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        assert main([*argv, "--password-stdin"]) == 1
        assert why in capsys.readouterr().err
    assert len(_rows(db_url, ConsoleUser)) == 1
    assert main(["user", "list"]) == 0
    assert "lina" in capsys.readouterr().out
    assert [(a.action, a.target) for a in _rows(db_url, AuditEntry)] == [("user.add", "lina")]


def test_apikey_add_shows_key_once_and_keeps_its_hash(db_url, monkeypatch, capsys):
    """The key is printed once; only its hash is stored; the hotline channel is refused."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    assert main(["user", "apikey-add", "wechat-bridge", "--channel", "wechat"]) == 0
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("hk_")
    (key,) = _rows(db_url, ApiKey)
    assert key.channel == "wechat" and raw not in key.key_hash and key.prefix == raw[:10]
    assert main(["user", "apikey-add", "phone", "--channel", "hotline"]) == 1
    assert main(["user", "apikey-revoke", "wechat-bridge"]) == 0
    assert not _rows(db_url, ApiKey)[0].active


def test_demo_accounts_get_fresh_passwords_each_run(session):
    """The demo's accounts are created once and get a new random password on every run."""
    from hotline.web import accounts

    first = accounts.ensure_demo_accounts(session, ["1001", "1002"])
    session.flush()
    assert set(first) == {"agent1001", "agent1002", "supervisor", "admin", "dispatcher",
                          "leader"}
    second = accounts.ensure_demo_accounts(session, ["1001", "1002"])
    users = {u.username: u for u in accounts.list_users(session)}
    assert len(users) == 6 and users["agent1002"].agent_code == "1002"
    assert first["admin"] != second["admin"]
    assert accounts.authenticate(session, "admin", second["admin"]) is not None
    assert accounts.authenticate(session, "admin", first["admin"]) is None
