"""Softphone SIP credentials end with the console session they were issued to: at expiry, at
`hotline user disable` and `hotline user passwd` (which reach the controller through the
database), and a controller start drops the credentials of sessions that ended meanwhile."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy import select, update
from twisted.internet import reactor

from db.models import ConsoleSession, ConsoleUser
from hotline.ami.actions import AMIError
from hotline.controller import Controller
from hotline.softphone.service import HOLDER_FAMILY
from hotline.web import accounts
from hotline.web.auth import token_hash
from hotline.web.routing import SESSION_COOKIE
from tests.web.conftest import ensure_user
from tests.web.support import HTTP, sign_in

pytestmark = [pytest.mark.pbx]

SEAT = "1003"
PASSWORD = "softphone-pass-1003"


def _end_session(how: str, username: str):
    def end(session) -> None:
        if how == "user disable":
            accounts.set_active(session, username, False)
        elif how == "user passwd":
            accounts.set_password(session, username, PASSWORD)
        else:  # expiry
            user_id = session.scalar(select(ConsoleUser.id)
                                     .where(ConsoleUser.username == username))
            session.execute(update(ConsoleSession).where(ConsoleSession.user_id == user_id)
                            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1)))
    return end


async def _issue(controller: Controller, username: str) -> tuple[dict, str]:
    ensure_user(controller.db, username, role="agent", password=PASSWORD, agent_code=SEAT)
    await controller.db.run(accounts.set_active, username, True)
    client = HTTP(controller.web.port)
    await sign_in(client, username, PASSWORD)
    csrf = await client.csrf()
    reply = await client.post("/softphone/credentials", headers={"X-CSRF-Token": csrf})
    assert reply.status == 200, reply.text
    token = controller.web.signer.unsign(client.cookies[SESSION_COOKIE.decode()])
    return reply.json(), token_hash(token)


async def _held_by_pbx(controller: Controller) -> bool:
    try:
        await controller.ami.action("DBGet", Family="hotline-softphone/auth",
                                    Key=f"softphone-{SEAT}")
    except AMIError:
        return False
    return True


@pytest.mark.parametrize("how", ["user disable", "user passwd", "expiry"])
@pytest_twisted.ensureDeferred
async def test_credentials_end_with_their_session(controller, how):
    """Once the session is disabled, its password changed or expired, the next session check
    revokes the seat's credentials: the PBX no longer knows the browser's password."""
    username = f"sp-{how.split()[-1]}"
    creds, holder = await _issue(controller, username)
    service = controller.softphone.service
    try:
        assert service.holders[SEAT] == holder
        reply = await controller.ami.action("DBGet", Family=HOLDER_FAMILY, Key=SEAT)
        assert holder in [m.get("Val") for m in reply]
        assert await controller.web.session_watch.check() == (0, [])  # still signed in
        assert await _held_by_pbx(controller)

        await controller.db.run(_end_session(how, username))
        assert await controller.web.session_watch.check() == (0, [SEAT])
        assert SEAT not in service.active
        assert not await _held_by_pbx(controller)
    finally:
        await service.revoke(SEAT)
        await controller.db.run(accounts.set_active, username, True)


@pytest_twisted.ensureDeferred
async def test_controller_start_drops_credentials_of_ended_sessions(controller, pbx_sandbox):
    """Credentials a stopped controller left in the PBX are revoked when the next one starts
    if their session ended meanwhile (here: the user was disabled from the command line)."""
    username = "sp-restart"
    await _issue(controller, username)
    await controller.stop()  # browsers keep their registrations across a restart...
    assert await _held_by_pbx_raw(pbx_sandbox)
    await _disable(pbx_sandbox, username)
    again = Controller(config=pbx_sandbox.config, reactor=reactor)
    await again.start()  # ...unless their session is gone
    try:
        assert SEAT not in again.softphone.service.active
        assert not await _held_by_pbx(again)
    finally:
        await again.softphone.service.revoke(SEAT)
        await again.db.run(accounts.set_active, username, True)
        await again.stop()


async def _held_by_pbx_raw(pbx_sandbox) -> bool:
    from twisted.internet import threads

    out = await threads.deferToThread(pbx_sandbox.cli, "pbx",
                                      "database show hotline-softphone/auth")
    return f"softphone-{SEAT}" in out


async def _disable(pbx_sandbox, username: str) -> None:
    from db.session import Database

    db = Database.from_config(pbx_sandbox.config, reactor=reactor)
    db.start()
    try:
        await db.run(accounts.set_active, username, False)
    finally:
        db.stop()
