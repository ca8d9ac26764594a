# -*- test-case-name: tests.web.test_console -*-
"""Console accounts, their sessions, Open311 API keys and ticket drafts: units of work that take
the caller's session (the command line and the console share them)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ApiKey, ConsoleSession, ConsoleUser, Department, TicketDraft, utcnow
from hotline.channels import CHANNELS
from hotline.web.auth import (
    PasswordPolicy,
    hash_password,
    needs_rehash,
    token_hash,
    verify_password,
)
from hotline.web.roles import Role, parse_role

__all__ = ["AccountError", "Principal", "create_user", "set_password", "set_active",
           "list_users", "authenticate", "stored_hash", "open_session", "resolve_session", "revoke_session",
           "live_sessions", "seats_signed_in",
           "create_api_key", "resolve_api_key", "list_api_keys", "revoke_api_key",
           "get_draft", "save_draft", "delete_draft", "ensure_demo_accounts"]

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,49}$")
_DRAFT_KEY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_DRAFT_BYTES = 20_000


class AccountError(Exception):
    """The account change is refused; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user as a request sees them: plain data, safe across threads."""

    user_id: int
    username: str
    display_name: str
    role: str
    agent_code: str | None
    department_id: int | None
    department_code: str | None
    department_name: str | None
    token: str


def create_user(session: Session, username: str, *, role: str, password: str,
                display_name: str | None = None, agent_code: str | None = None,
                department: str | None = None,
                known_agents: tuple[str, ...] | None = None) -> ConsoleUser:
    """Add a console account. A liaison needs a department code; an agent an agent code
    (one of ``known_agents`` when given). Raises AccountError, WeakPassword."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise AccountError(f"user name {username!r}: 2-50 lower-case letters, digits, . _ - "
                           "(starting with a letter or digit)")
    try:
        parsed = parse_role(role)
    except ValueError as e:
        raise AccountError(str(e)) from None
    PasswordPolicy.check(username, password)
    if session.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).first():
        raise AccountError(f"user {username!r} already exists")
    dept = None
    if parsed == Role.LIAISON:
        if not department:
            raise AccountError("a liaison account needs --department CODE")
    if department:
        dept = session.scalars(select(Department).where(Department.code == department)).first()
        if dept is None:
            raise AccountError(f"no department with code {department!r}")
    if parsed == Role.AGENT and not agent_code:
        raise AccountError("an agent account needs --agent CODE (its queue seat)")
    if agent_code and known_agents is not None and agent_code not in known_agents:
        raise AccountError(f"no agent seat {agent_code!r}: the configured seats are "
                           f"{', '.join(known_agents)}")
    user = ConsoleUser(username=username, display_name=display_name or username,
                       role=parsed.value, password_hash=hash_password(password),
                       agent_code=agent_code or None, department=dept, active=True,
                       created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def _user(session: Session, username: str) -> ConsoleUser:
    user = session.scalars(select(ConsoleUser).where(
        ConsoleUser.username == username.strip().lower())).first()
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """Change a password; every open session of the user is ended."""
    user = _user(session, username)
    PasswordPolicy.check(user.username, password)
    user.password_hash = hash_password(password)
    _revoke_all(session, user.id)


def set_active(session: Session, username: str, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions at once."""
    user = _user(session, username)
    user.active = active
    if not active:
        _revoke_all(session, user.id)


def _revoke_all(session: Session, user_id: int) -> None:
    now = utcnow()
    for s in session.scalars(select(ConsoleSession).where(ConsoleSession.user_id == user_id,
                                                          ConsoleSession.revoked_at.is_(None))):
        s.revoked_at = now


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))


def authenticate(session: Session, username: str, password: str) -> ConsoleUser | None:
    """The active user whose password this is, else None (the same work either way)."""
    user = session.scalars(select(ConsoleUser).where(
        ConsoleUser.username == username.strip().lower())).first()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def stored_hash(session: Session, username: str) -> tuple[int, str] | None:
    """The id and password hash of the active user ``username``, or None. The hash is checked
    by the caller off the database threads (``WebConsole.check_password``)."""
    user = session.scalars(select(ConsoleUser).where(
        ConsoleUser.username == username.strip().lower())).first()
    if user is None or not user.active:
        return None
    return user.id, user.password_hash


def open_session(session: Session, user_id: int, token: str, *, hours: float,
                 ip: str | None) -> None:
    """Record a new signed-in session for ``token``."""
    now = utcnow()
    session.add(ConsoleSession(token_hash=token_hash(token), user_id=user_id, created_at=now,
                               expires_at=now + dt.timedelta(hours=hours), ip=ip))
    user = session.get(ConsoleUser, user_id)
    if user is not None:
        user.last_login_at = now


def resolve_session(session: Session, token: str) -> Principal | None:
    """The user of a live session (not expired, not revoked, account active), else None."""
    row = session.execute(
        select(ConsoleSession, ConsoleUser).join(ConsoleUser)
        .where(ConsoleSession.token_hash == token_hash(token))).first()
    if row is None:
        return None
    s, user = row
    if s.revoked_at is not None or s.expires_at <= utcnow() or not user.active:
        return None
    dept = user.department
    return Principal(user.id, user.username, user.display_name, user.role, user.agent_code,
                     user.department_id, dept.code if dept else None,
                     dept.name if dept else None, token)


def live_sessions(session: Session, hashes: set[str]) -> set[str]:
    """Which of these session token hashes still sign someone in (not expired, not revoked,
    account active): what the console's open streams and softphones are checked against."""
    if not hashes:
        return set()
    rows = session.execute(
        select(ConsoleSession.token_hash).join(ConsoleUser)
        .where(ConsoleSession.token_hash.in_(sorted(hashes)),
               ConsoleSession.revoked_at.is_(None), ConsoleSession.expires_at > utcnow(),
               ConsoleUser.active.is_(True)))
    return {h for (h,) in rows}


def seats_signed_in(session: Session) -> set[str]:
    """The agent seats some live session is signed in to."""
    rows = session.execute(
        select(ConsoleUser.agent_code).join(ConsoleSession)
        .where(ConsoleUser.agent_code.is_not(None), ConsoleUser.active.is_(True),
               ConsoleSession.revoked_at.is_(None), ConsoleSession.expires_at > utcnow()))
    return {code for (code,) in rows}


def revoke_session(session: Session, token: str) -> None:
    """End the session of ``token`` (logging out twice is harmless)."""
    s = session.scalars(select(ConsoleSession).where(
        ConsoleSession.token_hash == token_hash(token))).first()
    if s is not None and s.revoked_at is None:
        s.revoked_at = utcnow()


def ensure_demo_accounts(session: Session, agent_codes: tuple[str, ...] | list[str]
                         ) -> dict[str, str]:
    """Accounts for a demonstration (``make run``): one agent per seat code, a supervisor, an
    admin, a dispatcher (派单员) and a district leader (区领导), each with a fresh random password (an existing account
    gets a new one, its sessions ended). Returns user name → password, to be shown once on the
    terminal."""
    wanted = [(f"agent{code}", "agent", code) for code in agent_codes]
    wanted += [("supervisor", "supervisor", None), ("admin", "admin", None),
               ("dispatcher", "dispatcher", None), ("leader", "leader", None)]
    passwords: dict[str, str] = {}
    for username, role, code in wanted:
        password = secrets.token_urlsafe(9)
        existing = session.scalars(select(ConsoleUser).where(
            ConsoleUser.username == username)).first()
        if existing is None:
            create_user(session, username, role=role, password=password, agent_code=code,
                        display_name=f"演示坐席 {code}" if code else None)
        else:
            set_password(session, username, password)
            existing.active = True
        passwords[username] = password
    return passwords


# -- API keys -------------------------------------------------------------------------------------

def create_api_key(session: Session, name: str, *, channel: str) -> tuple[ApiKey, str]:
    """A new key for an intake channel; returns the row and the key itself, shown only once."""
    name = name.strip()
    if not name or len(name) > 50:
        raise AccountError("an API key needs a name of 1-50 characters")
    if channel not in CHANNELS or channel == "hotline":
        usable = ", ".join(c for c in CHANNELS if c != "hotline")
        raise AccountError(f"channel {channel!r} cannot file tickets over Open311 "
                           f"(one of {usable})")
    if session.scalars(select(ApiKey).where(ApiKey.name == name)).first():
        raise AccountError(f"an API key named {name!r} already exists")
    raw = "hk_" + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=raw[:10], key_hash=token_hash(raw), channel=channel,
                 active=True, created_at=utcnow())
    session.add(key)
    session.flush()
    return key, raw


def resolve_api_key(session: Session, raw: str) -> ApiKey | None:
    """The active key ``raw`` is, marking it used; None for an unknown or revoked key."""
    if not raw or len(raw) > 200:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == token_hash(raw))).first()
    if key is None or not key.active:
        return None
    key.last_used_at = utcnow()
    return key


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke_api_key(session: Session, name: str) -> None:
    key = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
    if key is None:
        raise AccountError(f"no API key named {name!r}")
    key.active = False


# -- ticket drafts --------------------------------------------------------------------------------

def check_draft_key(key: str) -> str:
    """A draft key as stored; raises AccountError for one that is not."""
    if not _DRAFT_KEY.match(key or ""):
        raise AccountError("a draft key is 1-64 letters, digits, . _ -")
    return key


def get_draft(session: Session, user_id: int, key: str) -> dict[str, Any] | None:
    """The user's draft for ``key`` with its save time, or None."""
    draft = session.scalars(select(TicketDraft).where(
        TicketDraft.user_id == user_id, TicketDraft.key == check_draft_key(key))).first()
    if draft is None:
        return None
    return {"key": draft.key, "data": draft.data, "updated_at": draft.updated_at.isoformat()}


def save_draft(session: Session, user_id: int, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Keep what the form holds now (text fields only); returns the stored draft."""
    check_draft_key(key)
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 50 for k, v in data.items()):
        raise AccountError("a draft is an object of text fields")
    if sum(len(k) + len(v) for k, v in data.items()) > MAX_DRAFT_BYTES:
        raise AccountError(f"a draft holds at most {MAX_DRAFT_BYTES} characters")
    draft = session.scalars(select(TicketDraft).where(
        TicketDraft.user_id == user_id, TicketDraft.key == key)).first()
    now = utcnow()
    if draft is None:
        draft = TicketDraft(user_id=user_id, key=key, data=dict(data), updated_at=now)
        session.add(draft)
    else:
        draft.data = dict(data)
        draft.updated_at = now
    session.flush()
    return {"key": key, "data": draft.data, "updated_at": now.isoformat()}


def delete_draft(session: Session, user_id: int, key: str) -> bool:
    """Drop a draft (the ticket was saved); returns whether there was one."""
    draft = session.scalars(select(TicketDraft).where(
        TicketDraft.user_id == user_id, TicketDraft.key == check_draft_key(key))).first()
    if draft is None:
        return False
    session.delete(draft)
    return True
