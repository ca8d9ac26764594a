"""Console accounts are made with one real argon2id hash per password per test worker.

The suite creates over a thousand accounts (three or four per console test, on both back ends),
and each argon2id hash costs a few tens of milliseconds of a core even at OWASP's minimum: about
a minute of CPU a run for hashes that differ only in their salt. Here the first account made with
a password is hashed for real (``hotline.web.auth.hash_password``, at the suite's cost) and later
accounts with the same password get that same hash: a valid argon2id hash of their own password,
so signing in verifies it the way production does. Only the salt is shared, which no test reads.

Hashing itself (salts, parameters, re-hashing at sign-in) is tested on ``hotline.web.auth``,
which this leaves alone; CLI and controller subprocesses hash for real as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline.web import accounts, auth

__all__ = ["shared_password_hashes"]

_hashes: dict[tuple[str, auth.PasswordCost], str] = {}


def _hash_once(password: str) -> str:
    key = (password, auth.password_cost())
    if key not in _hashes:
        _hashes[key] = auth.hash_password(password)
    return _hashes[key]


@pytest.fixture(autouse=True, scope="session")
def shared_password_hashes() -> Iterator[None]:
    """Accounts made in this worker share one real hash per password (see the module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hash_password", _hash_once)
        yield
