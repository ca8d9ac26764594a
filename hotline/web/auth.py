# -*- test-case-name: tests.web.test_auth -*-
"""Passwords, signed session cookies, CSRF tokens and login rate limiting.

Passwords are hashed with argon2id (memory-hard). A session cookie carries a random token and
its HMAC-SHA256 under the site's session key; the database keeps only the token's SHA-256, so
a cookie can be forged neither from the key alone nor from the table alone, and logging out
revokes it. A form's CSRF token is an HMAC of the session token, so it needs no storage and is
worthless without the cookie; the sign-in form, before any session, uses a double-submit
cookie signed the same way.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION

from hotline.config import Config, ConfigError

__all__ = ["PasswordPolicy", "hash_password", "verify_password", "needs_rehash",
           "SessionSigner", "new_token", "token_hash", "LoginRateLimiter", "attempt_limiter",
           "session_key", "WeakPassword", "PasswordCost", "password_cost", "COST_ENV", "MIN_COST"]

#: Where a site sets argon2id's cost: "memory_kib,passes,lanes" (e.g. "131072,4,4"). Unset,
#: the library's defaults (RFC 9106's second choice: 64 MiB, 3 passes, 4 lanes; ~160 ms of CPU
#: here). An environment variable, not a config key: the cost must be the same for every
#: process that hashes (the controller, ``hotline user``), whatever config file each was given.
COST_ENV = "HOTLINE_PASSWORD_COST"
#: OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane): nothing lower is accepted. The
#: test suite hashes at this cost (hundreds of accounts; the sign-in code is the same).
MIN_COST = (19_456, 2, 1)
_MAX_COST = (4 * 1024 * 1024, 64, 64)


@dataclass(frozen=True)
class PasswordCost:
    """argon2id's parameters for new hashes (old ones verify with their own, and are re-hashed
    at sign-in when weaker)."""

    memory_kib: int
    passes: int
    lanes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PasswordCost:
        """The cost ``HOTLINE_PASSWORD_COST`` asks for, or the library's default; a malformed
        or too low value is a L{ConfigError} naming the variable."""
        raw = environ.get(COST_ENV, "").strip()
        if not raw:
            default = PasswordHasher()
            return cls(default.memory_cost, default.time_cost, default.parallelism)
        try:
            values = tuple(int(part) for part in raw.split(","))
            if len(values) != 3:
                raise ValueError
        except ValueError:
            raise ConfigError([f"{COST_ENV}={raw!r} must be three whole numbers: "
                               "memory_kib,passes,lanes (e.g. 65536,3,4)"]) from None
        names = ("memory_kib", "passes", "lanes")
        for name, value, low, high in zip(names, values, MIN_COST, _MAX_COST, strict=True):
            if not low <= value <= high:
                raise ConfigError([f"{COST_ENV}: {name} {value} is outside {low}..{high} "
                                   f"(OWASP's minimum for argon2id is {MIN_COST})"])
        return cls(*values)


@functools.cache
def _hasher() -> tuple[PasswordHasher, str]:
    """The hasher at the process's cost, and a hash of a random password made with it:
    verifying against that when the user does not exist costs the same time as a real check,
    so response times do not tell which user names exist."""
    cost = PasswordCost.from_env()
    hasher = PasswordHasher(memory_cost=cost.memory_kib, time_cost=cost.passes,
                            parallelism=cost.lanes)
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def password_cost() -> PasswordCost:
    """The cost new hashes are made at; raises L{ConfigError} when the environment's is bad
    (the console asks at start, so a bad value stops it there, not at the first sign-in)."""
    hasher, _dummy = _hasher()
    return PasswordCost(hasher.memory_cost, hasher.time_cost, hasher.parallelism)


class WeakPassword(ValueError):
    """The password is refused; the message says why."""


class PasswordPolicy:
    """What a console password must be: long enough, not the user name."""

    MIN_LENGTH = 10

    @classmethod
    def check(cls, username: str, password: str) -> None:
        """Raise WeakPassword when ``password`` is not acceptable for ``username``."""
        if len(password) < cls.MIN_LENGTH:
            raise WeakPassword(f"a password needs at least {cls.MIN_LENGTH} characters")
        if password.strip().lower() == username.strip().lower():
            raise WeakPassword("the password cannot be the user name")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted, parameters inside)."""
    return _hasher()[0].hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; ``None`` (no such user) costs the same time
    and is never a match."""
    try:
        hasher, dummy = _hasher()
        return hasher.verify(stored_hash or dummy, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (a site that lowers the
    cost keeps its stronger hashes: they are not re-made weaker)."""
    hasher = _hasher()[0]
    if not hasher.check_needs_rehash(stored_hash):
        return False
    try:
        made = extract_parameters(stored_hash)
    except InvalidHashError:
        return True
    return (made.type is not Type.ID or made.version < ARGON2_VERSION
            or made.memory_cost < hasher.memory_cost or made.time_cost < hasher.time_cost
            or made.hash_len < hasher.hash_len or made.salt_len < hasher.salt_len)


def new_token() -> str:
    """A fresh random session token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a session token or API key."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionSigner:
    """Signs session tokens into cookie values and derives CSRF tokens, under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._key = key

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, token: str) -> str:
        """The cookie value for ``token``."""
        return f"{token}.{self._mac('session', token)}"

    def unsign(self, value: str | None) -> str | None:
        """The token inside a cookie value, or None when it is missing or was not signed here."""
        if not value or value.count(".") != 1:
            return None
        token, mac = value.split(".")
        if not token or not hmac.compare_digest(mac, self._mac("session", token)):
            return None
        return token

    def csrf_token(self, token: str) -> str:
        """The CSRF token that goes with session ``token`` (and with a sign-in form's nonce)."""
        return self._mac("csrf", token)

    def check_csrf(self, token: str | None, offered: str | None) -> bool:
        """Whether ``offered`` is the CSRF token of ``token``."""
        if not token or not offered:
            return False
        return hmac.compare_digest(offered, self.csrf_token(token))


class LoginRateLimiter:
    """Slows down guessing one user's password, without refusing anyone else.

    Each key (a user name) has ``attempts`` free tries; after that every further try must wait
    a delay that doubles with each failure (``delay_s``, 2 ``delay_s`` ... up to
    ``max_delay_s``) after the previous one. The failures are forgotten once ``window_s`` passes
    without one, and a right password forgets them at once. Nothing here counts per address: a
    call centre's agents behind one proxy must not lock each other out.

    An attempt is counted when it is let through (L{acquire}), before the password is checked,
    so concurrent attempts cannot all pass the check; L{succeeded} takes it back.
    ``clock`` returns seconds (``reactor.seconds`` in the console, a ``Clock`` in tests).
    Memory stays bounded: keys without recent failures are forgotten.
    """

    MAX_KEYS = 100_000

    def __init__(self, *, attempts: int, window_s: float, delay_s: float = 2.0,
                 max_delay_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self.clock = clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        failures = self._failures.get(key)
        if failures and failures[-1] <= now - self.window_s:
            del self._failures[key]
            return []
        return failures or []

    def retry_after(self, key: str) -> float | None:
        """Seconds until an attempt for ``key`` is allowed; None: allowed now."""
        now = self.clock()
        failures = self._recent(key, now)
        over = len(failures) - self.attempts
        if over < 0:
            return None
        delay = min(self.delay_s * 2 ** min(over, 30), self.max_delay_s)
        wait = failures[-1] + delay - now
        return wait if wait > 0 else None

    def acquire(self, key: str) -> float | None:
        """Let one attempt for ``key`` through, counting it as failed until it succeeds;
        returns None when let through, else the seconds to wait (nothing counted)."""
        wait = self.retry_after(key)
        if wait is not None:
            return wait
        self.failed(key)
        return None

    def failed(self, key: str) -> None:
        """Count a failed attempt (L{acquire} already did, for attempts it let through)."""
        now = self.clock()
        if len(self._failures) > self.MAX_KEYS:
            for k in list(self._failures):
                self._recent(k, now)
        self._failures.setdefault(key, []).append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a right password ends a run of typos)."""
        self._failures.pop(key, None)


def attempt_limiter(web: Mapping[str, Any], *, attempts: int | None = None,
                    window_s: float | None = None,
                    clock: Callable[[], float] = time.monotonic) -> LoginRateLimiter:
    """A L{LoginRateLimiter} on the ``[web]`` login settings (sign-ins, the status line's
    misses per ticket), or with its own allowance and window and the same delays."""
    return LoginRateLimiter(
        attempts=int(web["login_attempts"] if attempts is None else attempts),
        window_s=float(web["login_window_s"] if window_s is None else window_s),
        delay_s=float(web["login_delay_s"]), max_delay_s=float(web["login_max_delay_s"]),
        clock=clock)


def session_key(config: Config) -> bytes:
    """The key sessions are signed with: HOTLINE_SESSION_KEY, else (sandbox mode only) a key
    generated once and kept in the state directory with mode 0600.

    Raises ConfigError in production mode without the variable, or when it is too short.
    """
    secret = config.secret("web.session_key")
    if secret:
        if len(secret) < 32:
            raise ConfigError(["HOTLINE_SESSION_KEY must be at least 32 characters "
                               "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"],
                              config.source)
        return secret.encode()
    if config["site"]["mode"] != "sandbox":
        raise ConfigError(["the web console needs HOTLINE_SESSION_KEY in production mode"],
                          config.source)
    path = Path(config.state_dir) / "web-session.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip().encode()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text("ascii").strip().encode()
