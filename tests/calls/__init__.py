"""Tests for the live call state (hotline.calls)."""
