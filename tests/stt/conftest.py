"""Fixtures of the speech-to-text tests: one loaded Korean model for the whole run (loading
costs seconds and ~500 MB), its configuration, and speech clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline import config as config_mod
from hotline.stt.models import ModelRegistry

#: Modules that decode speech run on one pytest-xdist worker: the model (~500 MB, seconds to
#: load) is loaded there once, and decoding, which keeps a core busy, does not fight over the
#: two cores with itself.
DECODES = pytest.mark.xdist_group("vosk")


def stt_config(state_dir: Path, **stt: object) -> config_mod.Config:
    """Configuration with the shipped Korean model, Korean calls and quick polling."""
    settings = {"model": "ko-small", "call_language": "ko", "workers": 2, "retries": 2,
                "retry_delay_s": 0.0, "poll_s": 0.2}
    settings.update(stt)
    return config_mod.loads("", source="tests").with_overrides(
        {"site": {"state_dir": str(state_dir)}, "stt": settings})


@pytest.fixture(scope="session")
def stt_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stt-state")


@pytest.fixture(scope="session")
def registry(stt_state: Path) -> ModelRegistry:
    """The shipped Korean model, prepared (dither off) and loaded once."""
    reg = ModelRegistry(stt_config(stt_state))
    reg.get()
    return reg


@pytest.fixture(scope="session")
def model(registry: ModelRegistry):
    return registry.get()


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")
