"""Signing in and out, roles, CSRF and the audit log, over HTTP against a served console."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import AuditEntry, ConsoleSession, TicketDraft
from hotline.plugins import web_console
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, form_csrf, sign_in


def _audit(db, **where):
    with db.begin() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for k, v in where.items():
            query = query.where(getattr(AuditEntry, k) == v)
        return [(e.actor, e.action, e.outcome) for e in s.scalars(query)]


@pytest_twisted.ensureDeferred
async def test_sign_in_sets_guarded_cookie_and_sign_out_ends_session(console, db):
    """A right password gives an HttpOnly, SameSite=Strict session cookie; logging out revokes
    it in the database, so the same cookie no longer works."""
    client = HTTP(console.port)
    reply = await sign_in(client, "agent1", PASSWORDS["agent1"])
    assert reply.status == 303 and reply.headers["Location"] == "/desk"
    cookie = reply.cookie_header("hl_session")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # sandbox over plain loopback HTTP
    me = (await client.get("/api/me")).json()
    assert (me["username"], me["role"], me["agent_code"]) == ("agent1", "agent", "1001")
    stolen = dict(client.cookies)
    desk = await client.get("/desk")
    assert desk.status == 200 and "坐席台" in desk.text
    out = await client.post("/logout", form={"_csrf": form_csrf(desk.text)})
    assert out.status == 303
    replay = HTTP(console.port)
    replay.cookies = stolen
    assert (await replay.get("/api/me")).status == 401
    with db.begin() as s:
        assert s.scalars(select(ConsoleSession)).one().revoked_at is not None
    assert ("agent1", "login", "ok") in _audit(db) and ("agent1", "logout", "ok") in _audit(db)


@pytest_twisted.ensureDeferred
async def test_secure_cookie_when_configured(db, tmp_path):
    """With secure cookies on (always in production) the session cookie is HTTPS-only."""
    from twisted.internet import reactor

    from hotline.plugins import web_console
    from tests.web.conftest import add_users, web_config

    add_users(db)
    web = web_console(config=web_config(tmp_path, secure_cookies=True), db=db, reactor=reactor)
    await web.start()
    try:
        reply = await sign_in(HTTP(web.port), "boss", PASSWORDS["boss"])
        assert "Secure" in reply.cookie_header("hl_session")
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_wrong_passwords_are_rate_limited_and_audited(console, db):
    """Five wrong passwords, then even the right one is refused with 429 and Retry-After."""
    client = HTTP(console.port)
    for _ in range(5):
        reply = await sign_in(client, "agent1", "wrong-password-x")
        assert reply.status == 401 and "用户名或密码错误" in reply.text
    reply = await sign_in(client, "agent1", PASSWORDS["agent1"])
    assert reply.status == 429 and int(reply.headers["Retry-After"]) > 0
    assert "hl_session" not in client.cookies
    entries = _audit(db, actor="agent1")
    assert entries.count(("agent1", "login", "failed")) == 5
    assert ("agent1", "login", "denied") in entries
    # Colleagues behind the same address are not locked out by one person's typos.
    other = await sign_in(HTTP(console.port), "boss", PASSWORDS["boss"])
    assert other.status == 303


@pytest_twisted.ensureDeferred
async def test_unknown_user_and_disabled_account_are_refused(console, db):
    """No such user and a disabled user get the same answer as a wrong password."""
    from hotline.web import accounts

    client = HTTP(console.port)
    assert (await sign_in(client, "nobody", "whatever-pass")).status == 401
    with db.begin() as s:
        accounts.set_active(s, "boss", False)
    assert (await sign_in(client, "boss", PASSWORDS["boss"])).status == 401


@pytest_twisted.ensureDeferred
async def test_login_form_without_token_is_refused(console, db):
    """A sign-in posted without the form's token (cross-site login) is refused with 403."""
    client = HTTP(console.port)
    await client.get("/login")
    reply = await client.post("/login", form={"username": "agent1",
                                              "password": PASSWORDS["agent1"]})
    assert reply.status == 403 and "安全令牌" in reply.text
    assert "hl_session" not in client.cookies


@pytest_twisted.ensureDeferred
async def test_sign_in_upgrades_a_hash_made_with_weaker_parameters(console, db):
    """A password hashed with weaker argon2 parameters than today's is re-hashed when its user
    signs in on the console (the only moment the password is at hand); the new hash verifies,
    and a wrong password changes nothing."""
    from argon2 import PasswordHasher

    from db.models import ConsoleUser
    from hotline.web.auth import needs_rehash, verify_password

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORDS["boss"])
    assert needs_rehash(weak)

    def stored() -> str:
        with db.begin() as s:
            return s.scalars(select(ConsoleUser.password_hash)
                             .where(ConsoleUser.username == "boss")).one()
    with db.begin() as s:
        s.scalars(select(ConsoleUser).where(ConsoleUser.username == "boss")).one() \
            .password_hash = weak
    wrong = await sign_in(HTTP(console.port), "boss", "not-the-one-1")
    assert wrong.status == 401 and stored() == weak
    first = HTTP(console.port)
    await sign_in(first, "boss", PASSWORDS["boss"])
    assert (await first.get("/api/me")).status == 200
    upgraded = stored()
    assert upgraded != weak and not needs_rehash(upgraded)
    assert verify_password(upgraded, PASSWORDS["boss"])
    again = HTTP(console.port)
    await sign_in(again, "boss", PASSWORDS["boss"])
    assert (await again.get("/api/me")).status == 200 and stored() == upgraded


@pytest_twisted.ensureDeferred
async def test_state_change_without_csrf_token_is_refused_and_changes_nothing(console, db):
    """A draft PUT and a logout form without the CSRF token are refused and audited; with the
    token the same call works."""
    client = HTTP(console.port)
    await sign_in(client, "agent1", PASSWORDS["agent1"])
    body = {"data": {"description": "路灯不亮"}}
    refused = await client.request("PUT", "/api/drafts/new", json=body)
    assert refused.status == 403 and refused.json()["error_id"] == "csrf-token-invalid"
    bad = await client.request("PUT", "/api/drafts/new", json=body,
                               headers={"X-CSRF-Token": "forged"})
    assert bad.status == 403
    with db.begin() as s:
        assert s.scalars(select(TicketDraft)).all() == []
    logout = await client.post("/logout", form={})
    assert logout.status == 403
    assert (await client.get("/api/me")).status == 200  # still signed in
    token = await client.csrf()
    ok = await client.request("PUT", "/api/drafts/new", json=body,
                              headers={"X-CSRF-Token": token})
    assert ok.status == 200
    assert (await client.get("/api/drafts/new")).json()["data"] == body["data"]
    assert ("agent1", "csrf", "denied") in _audit(db)


@pytest_twisted.ensureDeferred
async def test_supervisor_page_refuses_an_agent(console, db):
    """An agent gets a 403 page on the supervisor view (and the refusal is audited); a
    supervisor sees it with the audit log."""
    agent = HTTP(console.port)
    await sign_in(agent, "agent1", PASSWORDS["agent1"])
    refused = await agent.get("/supervisor")
    assert refused.status == 403 and "无权访问" in refused.text
    assert (await agent.get("/api/audit")).status == 403
    boss = HTTP(console.port)
    await sign_in(boss, "boss", PASSWORDS["boss"])
    page = await boss.get("/supervisor")
    assert page.status == 200 and "操作审计" in page.text
    assert "access" in page.text and "denied" in page.text
    assert ("agent1", "access", "denied") in _audit(db)


@pytest_twisted.ensureDeferred
async def test_pages_need_sign_in_and_redirect_only_locally(console):
    """Without a session a page redirects to sign-in, the API says 401, and ``next`` cannot
    send the user to another site."""
    client = HTTP(console.port)
    page = await client.get("/desk")
    assert page.status == 303 and page.headers["Location"] == "/login?next=/desk"
    assert (await client.get("/api/tickets")).status == 401
    login = await client.get("/login?next=//evil.example/")
    reply = await client.post("/login", form={"_csrf": form_csrf(login.text),
                                              "username": "boss", "password": PASSWORDS["boss"],
                                              "next": "//evil.example/"})
    assert reply.headers["Location"] == "/desk"
    tampered = HTTP(console.port)
    tampered.cookies = {"hl_session": client.cookies["hl_session"][:-2] + "xx"}
    assert (await tampered.get("/api/me")).status == 401


@pytest_twisted.ensureDeferred
async def test_security_headers_on_pages(console):
    """Every page forbids framing and inline scripts."""
    reply = await HTTP(console.port).get("/login")
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


@pytest_twisted.ensureDeferred
async def test_ticket_page_shows_transcript_and_escapes_text(console, db):
    """The ticket page lists the call's finished transcript; text from the call or the citizen
    that looks like HTML is shown as text."""
    import datetime as dt

    from db.models import Call, Transcript, TranscriptSegment
    from hotline.tickets.service import TicketService

    with db.begin() as s:
        ticket = TicketService().intake(s, {"channel": "hotline", "kind": "help",
                                            "description": "<i>门口</i>积水",
                                            "phone": "13800001234"}, actor="test")
        now = dt.datetime.now(dt.UTC)
        call = Call(uniqueid="u-1", linkedid="u-1", direction="inbound",
                    caller_number="13800001234", started_at=now, status="completed",
                    ticket=ticket)
        s.add(call)
        s.flush()
        transcript = Transcript(call_id=call.id, model="ko-small", language="ko",
                                status="done", kind="call")
        transcript.segments = [
            TranscriptSegment(speaker="citizen", start_s=0.5, end_s=2.0,
                              text="楼下<script>积水</script>"),
            TranscriptSegment(speaker="agent", start_s=2.5, end_s=3.0, text="马上登记")]
        s.add(transcript)
        ticket_id = ticket.id
    client = HTTP(console.port)
    await sign_in(client, "agent1", PASSWORDS["agent1"])
    page = await client.get(f"/tickets/{ticket_id}")
    assert page.status == 200
    assert "楼下&lt;script&gt;积水&lt;/script&gt;" in page.text and "马上登记" in page.text
    assert "&lt;i&gt;门口&lt;/i&gt;积水" in page.text and "<i>门口" not in page.text
    data = (await client.get(f"/api/tickets/{ticket_id}")).json()
    assert [seg["speaker"] for seg in data["transcripts"][0]["segments"]] == ["citizen", "agent"]


@pytest_twisted.ensureDeferred
async def test_concurrent_wrong_passwords_get_only_the_free_attempts(console, db, monkeypatch):
    """Twelve wrong passwords for one user sent at once: only the five free attempts reach the
    password check (401), the others wait (429); the hashing runs on its own threads, never on
    the database's."""
    from twisted.internet import defer

    import hotline.web.app as app_module

    threads_used: list[str] = []
    real = app_module.verify_password

    def spy(stored, password):
        import threading
        threads_used.append(threading.current_thread().name)
        return real(stored, password)

    monkeypatch.setattr(app_module, "verify_password", spy)
    clients = [HTTP(console.port) for _ in range(12)]
    pages = [await c.get("/login") for c in clients]

    def attempt(client, page):
        return client.request_blocking("POST", "/login", form={
            "_csrf": form_csrf(page.text), "username": "agent1",
            "password": "wrong-password-x", "next": "/"})

    from twisted.internet import threads
    replies = await defer.gatherResults(
        [threads.deferToThread(attempt, c, p) for c, p in zip(clients, pages, strict=True)])
    statuses = sorted(r.status for r in replies)
    assert statuses.count(401) == 5 and statuses.count(429) == 7
    assert len(threads_used) == 5
    assert all("hotline-hash" in name for name in threads_used), threads_used


@pytest_twisted.ensureDeferred
async def test_a_crowd_behind_one_address_does_not_lock_out_a_colleague(console):
    """Twenty failures by four users from one address (a call centre behind its proxy) slow
    those four only: a colleague from the same address signs in at once."""
    for user in ("nobody1", "nobody2", "nobody3", "agent1"):
        for _ in range(5):
            assert (await sign_in(HTTP(console.port), user, "wrong-password-x")).status == 401
    reply = await sign_in(HTTP(console.port), "boss", PASSWORDS["boss"])
    assert reply.status == 303


@pytest.mark.parametrize("trusted, expected", [(["127.0.0.1"], "203.0.113.7"),
                                               ([], "127.0.0.1")])
@pytest_twisted.ensureDeferred
async def test_client_address_from_a_trusted_proxy_only(db, tmp_path, trusted, expected):
    """Behind a trusted proxy the audit records the client X-Forwarded-For names; from anyone
    else the header is ignored."""
    add_users(db)
    web = web_console(config=web_config(tmp_path, trusted_proxies=trusted), db=db,
                      reactor=reactor)
    await web.start()
    try:
        client = HTTP(web.port)
        page = await client.get("/login")
        await client.post("/login", form={"_csrf": form_csrf(page.text), "username": "boss",
                                          "password": PASSWORDS["boss"], "next": "/"},
                          headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
        with db.begin() as s:
            ips = s.scalars(select(AuditEntry.ip).where(AuditEntry.action == "login")).all()
        assert ips == [expected]
    finally:
        await web.stop()
