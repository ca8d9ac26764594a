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

PAGE = b"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>softphone test desk</title></head>
<body>
<div id="phone"></div>
<script src="/softphone/softphone.js"></script>
<script>
  window.phone = HotlineSoftphone.mount(document.getElementById('phone'),
                                        {credentialsUrl: '/softphone/credentials'});
</script>
</body></html>
"""


class _Page(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return PAGE


def who(request: Any) -> str | None:
    value = request.getCookie(b"agent")
    return value.decode() if value else None


def serve(softphone: Softphone) -> Any:
    """Listen on a free loopback port; returns the listening port."""
    root = Resource()
    root.putChild(b"", _Page())
    root.putChild(b"softphone", softphone.resource(who))
    return reactor.listenTCP(0, Site(root), interface="127.0.0.1")
