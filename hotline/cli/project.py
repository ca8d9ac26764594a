# -*- test-case-name: tests.civic.test_cli -*-
"""``hotline project ...``: proposals (申领制), applications (申报制) and organisations; built
in L{hotline.cli.civic} with ``hotline council``, which shares its plumbing."""

from hotline.cli.civic import register_project as register

__all__ = ["register"]
