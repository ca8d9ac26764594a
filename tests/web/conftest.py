"""Fixtures of the console tests: a console served on a free port over a fresh database."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor

from hotline import config as config_mod
from hotline.plugins import web_console
from hotline.web import accounts

PASSWORDS = {"agent1": "agent-pass-1001", "boss": "boss-pass-0001", "water": "water-pass-001",
             "root": "root-pass-00001"}


def web_config(tmp_path, **web):
    return config_mod.loads("", source="tests").with_overrides(
        {"site": {"state_dir": str(tmp_path)}, "web": {"port": 0, **web}})


def add_users(db, department: str | None = None) -> None:
    with db.begin() as s:
        accounts.create_user(s, "agent1", role="agent", password=PASSWORDS["agent1"],
                             display_name="李娜", agent_code="1001")
        accounts.create_user(s, "boss", role="supervisor", password=PASSWORDS["boss"],
                             display_name="王班长")
        accounts.create_user(s, "root", role="admin", password=PASSWORDS["root"])
        if department:
            accounts.create_user(s, "water", role="liaison", password=PASSWORDS["water"],
                                 display_name="水务联络员", department=department)


@pytest_twisted.async_yield_fixture
async def console(db, tmp_path):
    """A console without a PBX link (calls, agents None) on the fresh database, with users."""
    add_users(db)
    web = web_console(config=web_config(tmp_path), db=db, reactor=reactor)
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


def ensure_user(db, username: str, **kw) -> None:
    """Create a console user once per sandbox database (the session's sandbox is shared).

    A unit of work (SQLite's write lock taken first, retried if refused): this reads and then
    writes while the controller writes too, which a deferred transaction loses at once with
    "database is locked"."""
    from sqlalchemy import select

    from db.models import ConsoleUser

    def ensure(s) -> None:
        if s.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).first():
            return
        accounts.create_user(s, username, **kw)
    db.unit(ensure)


def seed_directory(db) -> None:
    """The sample grids, departments and directory (once per sandbox database)."""
    from hotline.sample import AlreadySeeded, seed_sample

    try:
        db.unit(seed_sample)  # reads, then writes: see ensure_user
    except AlreadySeeded:
        pass


@pytest_twisted.async_yield_fixture
async def web_controller(pbx_sandbox):
    """A started Controller on the test sandbox with the console attached on a free port,
    the sample directory loaded; both stopped after the test, even on failure."""
    from hotline.controller import Controller

    ctl = Controller(config=pbx_sandbox.config, reactor=reactor)
    await ctl.start()
    try:
        seed_directory(ctl.db)
        await ctl.db.run(ctl.web.directory.refresh)  # the console loaded it before the seed
        yield ctl
    finally:
        await ctl.stop()
