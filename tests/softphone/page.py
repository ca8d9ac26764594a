"""A minimal desk page for the softphone's browser tests, until the console mounts it.

It serves ``/`` (the page), ``/softphone/`` (the real L{SoftphoneResource}) on a free loopback
port. "Who is signed in" is a test cookie, ``agent=<code>``: the console's real session check is
the console's to test; what is tested here is everything after it.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from hotline.softphone.plugin import Softphone

#: The desk page's markup for the softphone: what the console's desk template includes.
PAGE = b"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>softphone test desk</title>
<meta name="csrf-token" content="test-csrf"></head>
<body>
<section data-softphone data-credentials-url="/softphone/credentials"></section>
<script src="/softphone/softphone.js" defer></script>
</body></html>
"""


def csp(ws_url: str) -> bytes:
    """The console's Content-Security-Policy with the one addition the softphone needs: its
    WebSocket in connect-src (no inline script, no other origin)."""
    origin = ws_url.split("/ws")[0]
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {origin}; base-uri 'none'; frame-ancestors 'none'").encode()


class _Page(Resource):
    isLeaf = True

    def __init__(self, policy: bytes) -> None:
        super().__init__()
        self.policy = policy

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Content-Security-Policy", self.policy)
        return PAGE


def who(request: Any) -> str | None:
    """The test's session check: the ``agent`` cookie, and the page's CSRF token sent along."""
    value = request.getCookie(b"agent")
    if not value or request.getHeader(b"x-csrf-token") != b"test-csrf":
        return None
    return value.decode()


def serve(softphone: Softphone, holders: dict[str, str] | None = None) -> Any:
    """Listen on a free loopback port; returns the listening port. ``holders`` maps an agent
    code to the console session (token hash) its credentials are issued to, as the console's
    own check says: credentials held by no live session are revoked by the session watch."""
    root = Resource()
    root.putChild(b"", _Page(csp(softphone.service.ws_url)))
    sessions = holders or {}

    def check(request: Any) -> str | tuple[str, str] | None:
        code = who(request)
        return (code, sessions[code]) if code and code in sessions else code

    root.putChild(b"softphone", softphone.resource(check))
    return reactor.listenTCP(0, Site(root), interface="127.0.0.1")
