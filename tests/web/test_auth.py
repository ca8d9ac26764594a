"""Passwords, signed cookies, CSRF tokens, the login rate limit and the session key."""

from __future__ import annotations

import os
import stat

import pytest
from twisted.internet.task import Clock

from hotline import config as config_mod
from hotline.config import ConfigError
from hotline.web.auth import (
    LoginRateLimiter,
    PasswordPolicy,
    SessionSigner,
    WeakPassword,
    hash_password,
    needs_rehash,
    session_key,
    verify_password,
)
from hotline.web.roles import DESK, SUPERVISION, Role, parse_role


def test_password_hash_is_argon2id_and_verifies_only_the_right_password():
    """The stored hash is argon2id; the right password matches, a wrong one and no user don't."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not a hash", "x")


def test_password_cost_comes_from_the_environment_and_has_a_floor():
    """HOTLINE_PASSWORD_COST sets argon2id's memory, passes and lanes; unset gives the library's
    default; malformed or under OWASP's minimum is a configuration error naming the variable."""
    from hotline.web.auth import MIN_COST, PasswordCost

    assert PasswordCost.from_env({"HOTLINE_PASSWORD_COST": "131072, 4, 2"}) == \
        PasswordCost(131072, 4, 2)
    assert PasswordCost.from_env({}) == PasswordCost(65536, 3, 4)
    assert PasswordCost.from_env({"HOTLINE_PASSWORD_COST": ",".join(map(str, MIN_COST))}) == \
        PasswordCost(*MIN_COST)
    for bad, says in (("65536,3", "three whole numbers"), ("lots", "three whole numbers"),
                      ("8192,3,4", "memory_kib 8192"), ("65536,1,4", "passes 1"),
                      ("65536,3,0", "lanes 0")):
        with pytest.raises(ConfigError, match="HOTLINE_PASSWORD_COST") as caught:
            PasswordCost.from_env({"HOTLINE_PASSWORD_COST": bad})
        assert says in str(caught.value)


def test_hashes_carry_the_processs_cost_and_only_weaker_ones_are_remade():
    """New hashes are made at the process's cost (the suite's: OWASP's minimum); a weaker hash
    needs re-hashing, a stronger one (a site that lowered its cost) does not."""
    from argon2 import PasswordHasher, extract_parameters

    from hotline.web.auth import password_cost

    cost = password_cost()
    made = extract_parameters(hash_password("correct horse battery"))
    assert (made.memory_cost, made.time_cost, made.parallelism) == \
        (cost.memory_kib, cost.passes, cost.lanes)
    assert not needs_rehash(hash_password("correct horse battery"))
    weaker = PasswordHasher(memory_cost=8192, time_cost=1, parallelism=1).hash("x" * 12)
    stronger = PasswordHasher(memory_cost=cost.memory_kib * 2, time_cost=cost.passes + 1,
                              parallelism=cost.lanes).hash("x" * 12)
    assert needs_rehash(weaker) and not needs_rehash(stronger)
    assert verify_password(stronger, "x" * 12)


def test_password_policy_refuses_short_and_name_passwords():
    """Short passwords and the user name as password are refused with a reason."""
    with pytest.raises(WeakPassword, match="at least"):
        PasswordPolicy.check("li", "short")
    with pytest.raises(WeakPassword, match="user name"):
        PasswordPolicy.check("agentname1", "AgentName1")
    PasswordPolicy.check("li", "long enough pass")


def test_signed_cookie_round_trip_and_tampering():
    """A cookie signed here unsigns to its token; a changed token or MAC, or another key, fails."""
    signer = SessionSigner(b"k" * 32)
    value = signer.sign("tok123")
    assert signer.unsign(value) == "tok123"
    assert signer.unsign("tok124." + value.split(".")[1]) is None
    assert signer.unsign(value + "x") is None
    assert signer.unsign(None) is None and signer.unsign("") is None
    assert SessionSigner(b"j" * 32).unsign(value) is None


def test_csrf_token_is_bound_to_the_session():
    """The CSRF token of one session is not accepted for another, nor an empty one."""
    signer = SessionSigner(b"k" * 32)
    token = signer.csrf_token("session-a")
    assert signer.check_csrf("session-a", token)
    assert not signer.check_csrf("session-b", token)
    assert not signer.check_csrf("session-a", None)
    assert not signer.check_csrf(None, token)


def test_rate_limiter_delays_grow_after_the_free_attempts_and_end_after_quiet():
    """Five free failures; then each try waits a delay doubling per failure, capped; a quiet
    window forgets them all, and other user names are never slowed."""
    clock = Clock()
    limiter = LoginRateLimiter(attempts=5, window_s=300, delay_s=2, max_delay_s=10,
                               clock=clock.seconds)
    for _ in range(5):
        assert limiter.acquire("user:li") is None
        clock.advance(1)
    assert limiter.acquire("user:li") == pytest.approx(1)  # 2 s after the last failure
    assert limiter.acquire("user:other") is None
    waits = []
    for _ in range(4):
        wait = limiter.retry_after("user:li")
        clock.advance(wait)
        assert limiter.acquire("user:li") is None
        waits.append(wait)
    assert waits == pytest.approx([1, 4, 8, 10])  # 2, 4, 8, then the 10 s cap
    clock.advance(301)
    assert limiter.acquire("user:li") is None


def test_rate_limiter_counts_an_attempt_before_its_password_is_checked():
    """Attempts let through count at once: of many concurrent tries only the free ones pass."""
    clock = Clock()
    limiter = LoginRateLimiter(attempts=5, window_s=300, clock=clock.seconds)
    passed = [limiter.acquire("user:li") is None for _ in range(20)]
    assert passed.count(True) == 5


def test_rate_limiter_success_forgets_the_users_failures():
    """A right password clears the run of typos for that user."""
    clock = Clock()
    limiter = LoginRateLimiter(attempts=2, window_s=60, clock=clock.seconds)
    limiter.failed("user:li")
    limiter.succeeded("user:li")
    limiter.failed("user:li")
    assert limiter.retry_after("user:li") is None


def test_session_key_sandbox_generates_private_file_once(tmp_path, monkeypatch):
    """Without HOTLINE_SESSION_KEY a sandbox keeps one generated key, readable by its owner only."""
    monkeypatch.delenv("HOTLINE_SESSION_KEY", raising=False)
    cfg = config_mod.loads("", source="t").with_overrides({"site": {"state_dir": str(tmp_path)}})
    first = session_key(cfg)
    assert len(first) >= 32 and session_key(cfg) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "web-session.key").st_mode)
    assert mode == 0o600


def test_session_key_from_environment_and_production_needs_it(tmp_path, monkeypatch):
    """The environment's key wins; production without it, or with a short one, is refused."""
    monkeypatch.setenv("HOTLINE_SESSION_KEY", "x" * 40)
    cfg = config_mod.loads("", source="t").with_overrides({"site": {"state_dir": str(tmp_path)}})
    assert session_key(cfg) == b"x" * 40
    monkeypatch.setenv("HOTLINE_SESSION_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        session_key(cfg)
    monkeypatch.delenv("HOTLINE_SESSION_KEY")
    data = dict(cfg.data)
    data["site"] = {**cfg.data["site"], "mode": "production"}
    prod = config_mod.Config(data=data, source="t", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="HOTLINE_SESSION_KEY"):
        session_key(prod)


def test_roles():
    """Supervision is for supervisors and admins; the desk not for liaisons; unknown roles named."""
    assert Role.AGENT not in SUPERVISION and Role.SUPERVISOR in SUPERVISION
    assert Role.LIAISON not in DESK
    with pytest.raises(ValueError, match="one of agent"):
        parse_role("boss")
