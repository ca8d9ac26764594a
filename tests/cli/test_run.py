"""Tests for L{hotline.cli.run}: the demo's command line."""

from __future__ import annotations

from hotline.cli.main import build_parser


def test_demo_loads_history_unless_told_not_to() -> None:
    """``hotline demo`` loads the SAMPLE history by default and ``--no-history`` turns it off."""
    parser = build_parser()
    assert parser.parse_args(["demo"]).history is True
    assert parser.parse_args(["demo", "--no-history"]).history is False
