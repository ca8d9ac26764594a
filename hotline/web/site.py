# -*- test-case-name: tests.web.test_console -*-
"""Signing in and out, the start page and the supervisor's floor view."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from db.models import ConsoleUser
from hotline.web import accounts, audit
from hotline.web.auth import needs_rehash, new_token, token_hash
from hotline.web.roles import ALL_ROLES, SUPERVISION, home_page
from hotline.web.routing import (
    SESSION_COOKIE,
    Ctx,
    HTTPError,
    Response,
    Router,
    html_response,
    redirect,
)

__all__ = ["register"]

LOGIN_COOKIE = b"hl_login"


def register(router: Router) -> None:
    router.add("GET", "/", _home, roles=ALL_ROLES, page=True)
    router.add("GET", "/login", _login_form, roles=None, page=True)
    router.add("POST", "/login", _login, roles=None, page=True)
    router.add("POST", "/logout", _logout, roles=ALL_ROLES, page=True)
    router.add("GET", "/supervisor", _supervisor, roles=SUPERVISION, page=True)


def _safe_next(target: str | None) -> str:
    """Only a local path: a sign-in link must not bounce the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


async def _home(ctx: Ctx) -> Response:
    assert ctx.user is not None
    return redirect(home_page(ctx.user.role))


def _login_page(ctx: Ctx, *, error: str | None = None, status: int = 200,
                username: str = "") -> Response:
    """The sign-in form with a fresh double-submit nonce (there is no session to tie it to)."""
    nonce = secrets.token_urlsafe(24)
    body = ctx.console.render_page("login.html", ctx, login_csrf=ctx.console.signer.csrf_token(
        "login:" + nonce), error=error, username=username,
        next=_safe_next(ctx.query("next")))
    resp = html_response(body, status)
    resp.cookies.append((LOGIN_COOKIE, nonce.encode(),
                         ctx.console.cookie_options(max_age=3600)))
    return resp


async def _login_form(ctx: Ctx) -> Response:
    return _login_page(ctx)


async def _login(ctx: Ctx) -> Response:
    console = ctx.console
    nonce = ctx.request.getCookie(LOGIN_COOKIE)
    if not console.signer.check_csrf("login:" + nonce.decode("ascii", "replace")
                                     if nonce else None, ctx.form("_csrf")):
        await console.audit(ctx, "login", outcome="denied", details={"why": "csrf"})
        raise HTTPError(403, "csrf-token-invalid", "登录表单已过期或缺少安全令牌，请刷新页面后重试")
    username = (ctx.form("username") or "").strip().lower()[:50]
    password = ctx.form("password") or ""
    key = "user:" + username
    # Counted now, before the password is checked: concurrent guesses cannot all slip through.
    wait = console.limiter.acquire(key)
    if wait is not None:
        await console.audit(ctx, "login", actor=username or "-", outcome="denied",
                            details={"why": "rate-limited"})
        resp = _login_page(ctx, error=f"登录失败次数过多，请 {int(wait) + 1} 秒后再试",
                           status=429, username=username)
        resp.headers[b"Retry-After"] = str(int(wait) + 1).encode()
        return resp
    token = new_token()
    record = await console.db.run(accounts.stored_hash, username)
    # The same argon2 work whether or not the user exists (no timing tells user names apart).
    matches = await console.check_password(record[1] if record else None, password)
    # A hash made with weaker parameters than today's is replaced while the password is at
    # hand (the only moment it is), off the reactor like the check.
    rehashed = await console.rehash_password(password) \
        if record and matches and needs_rehash(record[1]) else None

    def finish(session: Session) -> str | None:
        user = session.get(ConsoleUser, record[0]) if record and matches else None
        if user is None or not user.active:
            audit.record(session, actor=username or "-", action="login", outcome="failed",
                         ip=ctx.ip)
            return None
        if rehashed is not None and user.password_hash == record[1]:
            user.password_hash = rehashed  # not if the password changed meanwhile
        accounts.open_session(session, user.id, token, hours=console.session_hours, ip=ctx.ip)
        audit.record(session, actor=user.username, role=user.role, action="login", ip=ctx.ip)
        return user.role

    role = await console.db.run(finish)
    if role is None:
        return _login_page(ctx, error="用户名或密码错误", status=401, username=username)
    console.limiter.succeeded(key)
    target = _safe_next(ctx.form("next"))
    if target == "/":
        target = home_page(role)
    resp = redirect(target)
    resp.cookies.append((SESSION_COOKIE, console.signer.sign(token).encode(),
                         console.cookie_options(max_age=int(console.session_hours * 3600))))
    resp.cookies.append((LOGIN_COOKIE, b"", console.cookie_options(max_age=0)))
    return resp


async def _logout(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user = ctx.user

    def end(session: Session) -> None:
        accounts.revoke_session(session, user.token)
        audit.record(session, actor=user.username, role=user.role, action="logout", ip=ctx.ip)

    await ctx.console.db.run(end)
    ended = token_hash(user.token)
    ctx.console.events.end(lambda client: client.session == ended)
    softphone = ctx.console.softphone
    if softphone is not None and user.agent_code and user.agent_code in softphone.service.active:
        # The browser stops being this seat's phone: the desk phone takes the queue's calls.
        await softphone.service.revoke(user.agent_code)
    resp = redirect("/login")
    resp.cookies.append((SESSION_COOKIE, b"", ctx.console.cookie_options(max_age=0)))
    return resp


async def _supervisor(ctx: Ctx) -> Response:
    console = ctx.console
    board = console.calls.wallboard() if console.calls is not None else None
    live_agents = console.calls.agents() if console.calls is not None else []
    live_calls = console.calls.live_calls() if console.calls is not None else []
    floor = console.deps.floor
    kept = await floor.keep_place.listing(limit=20) if floor is not None else []
    records = await console.agents.status() if console.agents is not None else []
    entries = await console.db.run(lambda s: [audit.entry_to_dict(e)
                                              for e in audit.recent(s, limit=100)])
    await console.audit(ctx, "view", target="/supervisor")
    return html_response(console.render_page(
        "supervisor.html", ctx, board=board, live_agents=live_agents, records=records,
        entries=entries, live_calls=live_calls, state_labels=_AGENT_STATE_LABELS, kept=kept,
        kept_labels=_KEPT_LABELS, kept_ordering="按进入队列的先后回电或接听"))


#: Kept places' states (hotline/floor/keepplace.py) as the floor view names them.
_KEPT_LABELS = {"waiting": "排队中", "calling": "回拨中", "reached": "已回电",
                "not_reached": "未接通", "cancelled": "已取消"}

#: The agents' recorded states as the floor view names them.
_AGENT_STATE_LABELS = {"offline": "未签入", "available": "空闲", "paused": "小休",
                       "wrapup": "整理中"}

