"""Tests for L{hotline.agi.variables}: the names the dialplan reads are what scripts set."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hotline.agi import variables


class VariableNameTests(SynchronousTestCase):
    """Channel variable constants."""

    def test_names_are_their_values(self) -> None:
        """Each variable constant's value is its own name, so grep finds both sides."""
        for name in variables.__all__:
            value = getattr(variables, name)
            if name.startswith("HOTLINE_") or name in ("QUEUE_PRIO", "AGISTATUS"):
                self.assertEqual(value, name)

    def test_statuses(self) -> None:
        """The AGI status values are distinct, short, upper-case words."""
        statuses = [getattr(variables, n) for n in variables.__all__
                    if n.startswith("AGI_STATUS_")]
        self.assertEqual(len(set(statuses)), len(statuses))
        self.assertEqual(set(statuses), variables.AGI_STATUSES)
        for status in statuses:
            self.assertTrue(status.isupper() and status.isalpha())
