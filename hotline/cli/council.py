# -*- test-case-name: tests.civic.test_cli -*-
"""``hotline council list|show|create|notice|meeting|report``: residents' hearings (听证议事);
built in L{hotline.cli.civic} with ``hotline project``, which shares its plumbing."""

from hotline.cli.civic import register_council as register

__all__ = ["register"]
