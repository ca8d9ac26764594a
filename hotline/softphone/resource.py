# -*- test-case-name: tests.softphone.test_resource -*-
"""The softphone's HTTP side: the JavaScript bundle, and credentials for the signed-in agent.

The console mounts one L{SoftphoneResource} (e.g. at ``/softphone``) and passes the check that
says who is signed in: ``who(request) -> agent code | (agent code, session) | None`` (sync or
awaitable), the session naming who holds the credentials (they are revoked when it ends). The
check owns sessions and CSRF; this resource never sees a cookie's meaning.

- ``GET  softphone.js`` — the bundle (``hotline/softphone/static/``; built by ``make``).
- ``POST credentials`` — this session's SIP credentials as JSON (``Cache-Control: no-store``);
  401 when nobody is signed in, 409 when the PBX refused, 503 when the bundle's PBX link is down.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from hotline.softphone.service import SoftphoneError, SoftphoneService

__all__ = ["SoftphoneResource", "bundle_path"]

_log = Logger(namespace="hotline.softphone")

Who = "str | tuple[str, str] | None"
WhoCheck = Callable[[Any], "Who | Awaitable[Who]"]


def bundle_path() -> str:
    """The folder holding the built bundle (``softphone.js``)."""
    return str(resources.files("hotline.softphone").joinpath("static"))


def _json(request: Any, status: int, body: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    return json.dumps(body, ensure_ascii=False).encode()


class _Credentials(Resource):
    isLeaf = True

    def __init__(self, service: SoftphoneService, who: WhoCheck) -> None:
        super().__init__()
        self.service = service
        self.who = who

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Allow", b"POST")
        return _json(request, 405, {"error": "method_not_allowed",
                                    "message": "POST to get this session's credentials"})

    def render_POST(self, request: Any) -> Any:
        d = defer.ensureDeferred(self._issue(request))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _issue(self, request: Any) -> None:
        who = self.who(request)
        if inspect.isawaitable(who):
            who = await who
        code, holder = who if isinstance(who, tuple) else (who, None)
        if not code:
            body = _json(request, 401, {"error": "not_signed_in",
                                        "message": "sign in as an agent to use the softphone"})
        else:
            try:
                creds = await self.service.issue(str(code), holder=holder)
            except SoftphoneError as e:
                body = _json(request, 409, {"error": "softphone_refused", "message": str(e)})
            else:
                body = _json(request, 200, creds.to_dict())
        if not request._disconnected:
            request.write(body)
            request.finish()

    def _failed(self, failure: Any, request: Any) -> None:
        _log.failure("softphone credentials for {uri} failed", failure, uri=request.uri)
        if not request._disconnected and not request.finished:
            request.write(_json(request, 503, {"error": "unavailable",
                                               "message": "the softphone is unavailable"}))
            request.finish()


class SoftphoneResource(Resource):
    """``softphone.js`` and ``credentials`` under whatever path the console mounts this at."""

    def __init__(self, service: SoftphoneService, who: WhoCheck) -> None:
        super().__init__()
        static = File(bundle_path())
        static.directoryListing = notFound  # type: ignore[method-assign]
        self.static = static
        self.putChild(b"credentials", _Credentials(service, who))

    def getChild(self, path: bytes, request: Any) -> Resource:
        if path in (b"softphone.js",):
            return self.static.getChild(path, request)
        return notFound()
