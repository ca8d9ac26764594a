"""Test-wide fixtures: each support module starts and stops one real service (or keeps the
markers and time limits honest)."""

import os

# Accounts are hashed at OWASP's minimum argon2id cost (the library's default costs ~160 ms of a
# core per hash, and the suite makes and checks hundreds): the same code, a cheaper parameter.
# Set before anything hashes; subprocesses (the demo, the faults' controllers) inherit it.
os.environ.setdefault("HOTLINE_PASSWORD_COST", "19456,2,1")

pytest_plugins: list[str] = [
    "tests.support.markers", "tests.support.ordering", "tests.support.timeouts",
    "tests.support.passwords", "tests.support.database", "tests.support.pbx",
    "tests.support.hotline", "tests.support.browser",
]
