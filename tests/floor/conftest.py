"""The floor's tests share the speech tests' loaded Korean model (live captions)."""

from tests.stt.conftest import registry, stt_state  # noqa: F401 - the fixtures
