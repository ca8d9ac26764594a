# -*- test-case-name: tests.web.test_api -*-
"""The hotline directory's HTTP route: ``GET /api/directory`` (search, open now)."""

from __future__ import annotations

from db.models import utcnow
from hotline.web.api import int_param
from hotline.web.roles import DESK
from hotline.web.routing import Ctx, Response, Router, json_response

__all__ = ["register"]


def register(router: Router) -> None:
    """Mount ``GET /api/directory``."""
    router.add("GET", "/api/directory", _directory, roles=DESK)


async def _directory(ctx: Ctx) -> Response:
    q = (ctx.query("q") or "")[:100]
    category = ctx.query("category") or None
    open_now = (ctx.query("open_now") or "").lower() in ("1", "true", "yes")
    limit = int_param(ctx, "limit", 20, 1, 100)
    hits = ctx.console.directory.search(q, category=category, open_now=open_now, limit=limit)
    now = utcnow()
    local = now.astimezone(ctx.console.zone)
    minute = local.hour * 60 + local.minute
    return json_response({"query": q, "bridge": ctx.console.bridge is not None,
                          "entries": [{**e.as_dict(), "pinyin_initials": e.pinyin_initials,
                                       "open_now": e.hours.is_open_local(local.weekday(),
                                                                         minute)}
                                      for e in hits]})
