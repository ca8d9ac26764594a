"""Fixtures of the softphone tests: the softphone attached to the test controller, served with a
minimal desk page, and the worker's headless Chromium, whose fake microphone plays a tone."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from hotline.softphone.resource import bundle_path
from tests.softphone import page
from tests.support.browser import BROWSER_HZ, Browser, BrowserSession

#: The tone the simulated citizen plays (the browser's microphone plays BROWSER_HZ).
CITIZEN_HZ = 500
__all__ = ["BROWSER_HZ", "CITIZEN_HZ", "softphone", "browser"]


@pytest_twisted.async_yield_fixture
async def softphone(controller):
    """The controller's own softphone (started with it); its HTTP side served with the test
    desk page."""
    if not (Path(bundle_path()) / "softphone.js").exists():
        pytest.fail("the softphone bundle is not built: `make softphone` (make test does it)")
    phone = controller.softphone
    port = page.serve(phone, await controller.db.run(_console_sessions, list(phone.service.agents)))
    try:
        yield phone, f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()
        # A controller stop leaves browsers registered; the next test starts from desk phones.
        await phone.service.revoke_all()


@pytest_twisted.async_yield_fixture
async def browser(chromium: Browser):
    """The worker's Chromium (its fake microphone plays BROWSER_HZ, media permitted) for one
    test, obeying the page's own CSP: the console's policy is part of what these tests check."""
    session = BrowserSession(chromium, obey_csp=True)
    try:
        yield session
    finally:
        await session.close()


def _console_sessions(session, codes: list[str]) -> dict[str, str]:
    """A live console session per agent code (one test user), by token hash: the browser's
    credentials are issued to it, as the console issues them to the signed-in agent's."""
    from sqlalchemy import select

    from db.models import ConsoleUser
    from hotline.web import accounts
    from hotline.web.auth import new_token, token_hash

    user = session.scalars(select(ConsoleUser).where(ConsoleUser.username == "softphone-test")).first()
    if user is None:
        accounts.create_user(session, "softphone-test", role="supervisor",
                             password="softphone-test-pass-1")
        session.flush()
        user = session.scalars(select(ConsoleUser)
                               .where(ConsoleUser.username == "softphone-test")).one()
    holders = {}
    for code in codes:
        token = new_token()
        accounts.open_session(session, user.id, token, hours=2, ip="127.0.0.1")
        holders[code] = token_hash(token)
    return holders
