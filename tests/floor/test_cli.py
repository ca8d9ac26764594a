"""Tests for L{hotline.cli.floor}: the command's arguments, checked before anything is dialled."""

from __future__ import annotations

import pytest

from hotline.cli.main import main


def test_spy_needs_a_seat_and_a_known_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --seat, or with a mode other than listen, whisper or barge, the command stops
    with a usage error naming what is wrong."""
    with pytest.raises(SystemExit) as err:
        main(["floor", "spy", "1700000000.1"])
    assert err.value.code == 2 and "--seat" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["floor", "spy", "1700000000.1", "--seat", "1004", "--mode", "shout"])
    assert err.value.code == 2 and "shout" in capsys.readouterr().err
