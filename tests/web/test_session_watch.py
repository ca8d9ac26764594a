"""What a console session opened ends with it: event streams (desk and wall board) close at
sign-out, revocation (`user disable`, `user passwd`) and expiry, and a user may hold only so many
streams at once. The softphone side is in ``tests/softphone/test_session_end.py``."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy import update
from twisted.internet import reactor

from db.models import ConsoleSession
from hotline.plugins import web_console
from hotline.web import accounts
from hotline.web.app import WebConsole
from tests.support.waiting import until
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, EventReader, sign_in


@pytest_twisted.async_yield_fixture
async def live_console(db, tmp_path):
    """A console whose streams open (as with a PBX link), users, a 0.5 s session check."""
    add_users(db)
    web = web_console(config=web_config(tmp_path, session_check_s=0.5, max_streams_per_user=2),
                      db=db, reactor=reactor)
    web.events.live = True  # as if the live calls fed it: streams open
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


async def _open_stream(console: WebConsole, user: str, path: str = "/api/events"):
    client = HTTP(console.port)
    await sign_in(client, user, PASSWORDS[user])
    reader = EventReader(console.port, client.cookies, path).start()
    await until(lambda: reader.named("hello"), timeout=10)
    return client, reader


def _ended(reader: EventReader) -> bool:
    return not reader._thread.is_alive()


def _expire(session, username: str) -> None:
    from sqlalchemy import select

    from db.models import ConsoleUser

    user_id = session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username))
    session.execute(update(ConsoleSession).where(ConsoleSession.user_id == user_id)
                    .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


@pytest.mark.parametrize("how", ["sign-out", "user disable", "user passwd", "expiry"])
@pytest_twisted.ensureDeferred
async def test_streams_end_with_their_session(live_console, how):
    """A desk stream and a wall board stream close when their session ends, however it ends;
    another user's stream stays open."""
    agent, desk = await _open_stream(live_console, "agent1")
    _, board = await _open_stream(live_console, "boss", "/reports/wallboard/events")
    _, other = await _open_stream(live_console, "root")
    db = live_console.db
    if how == "sign-out":
        csrf = await agent.csrf()
        await agent.post("/logout", form={"_csrf": csrf})
        ended = [desk]
    elif how == "user disable":
        await db.run(accounts.set_active, "agent1", False)
        await db.run(accounts.set_active, "boss", False)
        ended = [desk, board]
    elif how == "user passwd":
        await db.run(accounts.set_password, "agent1", "a-new-pass-1001")
        await db.run(accounts.set_password, "boss", "a-new-pass-0001")
        ended = [desk, board]
    else:
        await db.run(_expire, "agent1")
        await db.run(_expire, "boss")
        ended = [desk, board]
    try:
        for reader in ended:
            await until(lambda r=reader: _ended(r), timeout=10)
        assert not _ended(other)
        left = sorted(c.username for c in live_console.events.clients)
        assert left == (["boss", "root"] if how == "sign-out" else ["root"])
    finally:
        for reader in (desk, board, other):
            reader.close()


@pytest_twisted.ensureDeferred
async def test_streams_per_user_are_capped(live_console):
    """A user holds at most max_streams_per_user streams; one more is refused with 429 and a
    clear reason, and closing one makes room again."""
    client, first = await _open_stream(live_console, "agent1")
    second = EventReader(live_console.port, client.cookies).start()
    await until(lambda: second.named("hello"), timeout=10)
    third = EventReader(live_console.port, client.cookies).start()
    try:
        await until(lambda: third.status is not None, timeout=10)
        assert third.status == 429
        first.close()
        await until(lambda: len(live_console.events.clients) == 1, timeout=10)
        fourth = EventReader(live_console.port, client.cookies).start()
        await until(lambda: fourth.named("hello"), timeout=10)
        fourth.close()
    finally:
        for reader in (first, second, third):
            reader.close()


@pytest_twisted.ensureDeferred
async def test_worklist_stream_counts_towards_the_cap_and_ends_with_its_session(live_console):
    """The worklists' push stream (/api/tickets/stream) is one of the user's streams: it counts
    towards max_streams_per_user and closes at sign-out, like the desk's."""
    client, desk = await _open_stream(live_console, "agent1")
    worklist = EventReader(live_console.port, client.cookies, "/api/tickets/stream").start()
    await until(lambda: worklist.named("hello"), timeout=10)
    third = EventReader(live_console.port, client.cookies, "/api/tickets/stream").start()
    try:
        await until(lambda: third.status is not None, timeout=10)
        assert third.status == 429
        csrf = await client.csrf()
        await client.post("/logout", form={"_csrf": csrf})
        for reader in (desk, worklist):
            await until(lambda r=reader: _ended(r), timeout=10)
        assert live_console.ticket_life.stream.listeners == []
        assert live_console.events.clients == []
    finally:
        for reader in (desk, worklist, third):
            reader.close()
