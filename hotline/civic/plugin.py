# -*- test-case-name: tests.civic.test_http -*-
"""Wire hearings and projects into the console: their templates (beside the console's), the
tickets' attachment store for progress photos, and their routes (L{hotline.civic.http})."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from hotline import phone
from hotline.civic import http

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["CivicPages", "load"]

#: Room for a multipart form's own bytes around its photos.
_FORM_OVERHEAD = 64 * 1024


class CivicPages:
    """What the civic routes share on one console.

    @param store: the tickets' attachment store (progress photos keep its limits).
    @param local: formats a time in the site's zone.
    """

    def __init__(self, *, store: Any, local: Any) -> None:
        self.store = store
        self.templates = Environment(
            loader=ChoiceLoader([PackageLoader("hotline.civic", "templates"),
                                 PackageLoader("hotline.web", "templates")]),
            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.templates.filters["local"] = local
        #: Public pages pass free text through this as well: a number typed into minutes
        #: shows masked even where no linked ticket had it.
        self.templates.filters["redact"] = phone.redact_numbers

    def progress_limit(self, photos: int) -> int:
        """The largest body of a progress report with ``photos`` photos."""
        return self.store.max_bytes * photos + _FORM_OVERHEAD


def load(deps: Dependencies) -> CivicPages | None:
    """Register the civic pages and calls on the console (after the tickets' plugin, whose
    attachment store it shares)."""
    console = deps.console
    if console is None:
        return None
    pages = CivicPages(store=console.ticket_life.actions.attachments, local=console.local_time)
    console.civic = pages
    http.register(console.router, pages)
    return pages
