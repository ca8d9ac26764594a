"""Test-wide fixtures: each support module starts and stops one real service."""

pytest_plugins: list[str] = ["tests.support.database", "tests.support.pbx",
                           "tests.support.hotline"]
