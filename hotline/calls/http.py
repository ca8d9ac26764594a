# -*- test-case-name: tests.web.test_api -*-
"""The live calls' HTTP route: ``GET /api/calls`` (the calls and the wallboard figures)."""

from __future__ import annotations

from hotline.web.api import need
from hotline.web.roles import DESK
from hotline.web.routing import Ctx, Response, Router, json_response

__all__ = ["register"]


def register(router: Router) -> None:
    """Mount ``GET /api/calls``."""
    router.add("GET", "/api/calls", _calls, roles=DESK)


async def _calls(ctx: Ctx) -> Response:
    calls = need(ctx.console.calls, "the live call view")
    return json_response({"calls": calls.live_calls(), "wallboard": calls.wallboard()})


