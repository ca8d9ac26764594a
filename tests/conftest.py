"""Test-wide fixtures: each support module starts and stops one real service (or keeps the
markers and time limits honest)."""

pytest_plugins: list[str] = [
    "tests.support.markers", "tests.support.timeouts", "tests.support.database",
    "tests.support.pbx", "tests.support.hotline", "tests.support.browser",
]
