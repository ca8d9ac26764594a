# -*- test-case-name: tests.web.test_console -*-
"""One twisted.web resource that routes by method and path, checks the session, the role and the
CSRF token, runs an ``async`` handler and writes what it returns.

Handlers stay thin (wazo-calld style): they read the request through L{Ctx}, call one service
and return a L{Response}; a domain error with ``status_code``/``error_id`` (such as
L{hotline.tickets.exceptions.TicketError}) or an L{HTTPError} becomes the same JSON error shape
everywhere, or a Chinese error page for pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from hotline.errors import DomainError
from hotline.web.accounts import Principal

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["HTTPError", "Response", "Ctx", "Router", "json_response", "html_response",
           "redirect", "STREAMING", "SESSION_COOKIE", "UNSAFE_METHODS"]

_log = Logger(namespace="hotline.web")

SESSION_COOKIE = b"hl_session"
UNSAFE_METHODS = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
MAX_BODY = 256 * 1024

#: Every page and call gets these: no framing, no sniffing, scripts only from our own files.
SECURITY_HEADERS = {
    b"Content-Security-Policy": b"default-src 'self'; script-src 'self'; style-src 'self'; "
                                b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                b"form-action 'self'; frame-ancestors 'none'",
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"same-origin",
    b"Cache-Control": b"no-store",
}


class HTTPError(DomainError):
    """A request that cannot be served as asked: status, stable ``error_id``, a clear message."""

    def __init__(self, status: int, error_id: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.status_code = status
        self.error_id = error_id


@dataclass
class Response:
    """What a handler returns: status, body bytes, headers, cookies to set."""

    status: int = 200
    body: bytes = b""
    content_type: bytes = b"text/html; charset=utf-8"
    headers: dict[bytes, bytes] = field(default_factory=dict)
    cookies: list[tuple[bytes, bytes, dict[str, Any]]] = field(default_factory=list)


#: Returned by a handler that keeps the request open and writes to it itself (SSE).
STREAMING = object()


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, default=str).encode(),
                    b"application/json; charset=utf-8")


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode())


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", headers={b"Location": location.encode()})


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    console: WebConsole
    params: dict[str, Any]
    user: Principal | None = None
    _json: Any = None

    @property
    def ip(self) -> str:
        """The client's address (behind a trusted proxy: from X-Forwarded-For)."""
        return self.console.client_ip(self.request)

    @property
    def path(self) -> str:
        return self.request.path.decode("utf-8", "replace")

    def _arg(self, name: str) -> str | None:
        values = self.request.args.get(name.encode())
        if not values:
            return None
        try:
            return values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "bad-encoding", f"parameter {name!r} is not UTF-8") from None

    def query(self, name: str) -> str | None:
        """A query-string (or form) parameter as text, or None."""
        return self._arg(name)

    def form(self, name: str) -> str | None:
        """A field of an urlencoded form post, or None."""
        return self._arg(name)

    def json_body(self) -> Any:
        """The request's JSON body; 415 for another content type, 400 for broken JSON."""
        if self._json is None:
            ctype = (self.request.getHeader(b"content-type") or b"").split(b";")[0].strip()
            if ctype != b"application/json":
                raise HTTPError(415, "unsupported-media-type",
                                "send the body as JSON (Content-Type: application/json)")
            raw = self.request.content.read() if self.request.content else b""
            try:
                self._json = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise HTTPError(400, "invalid-json", f"the body is not valid JSON: {e}") from None
        return self._json

    def csrf(self) -> str:
        """The CSRF token forms and scripts of this session send back."""
        return self.console.signer.csrf_token(self.user.token) if self.user else ""


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: bytes
    pattern: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]
    handler: Handler
    #: None: anyone; else the roles allowed (a session is required).
    roles: frozenset[str] | None
    #: A page (errors as pages, sign-in by redirect) or an API call (errors as JSON).
    page: bool
    csrf: bool
    #: The largest body this route takes (photo uploads and map files need more than forms).
    max_body: int = MAX_BODY


_PARAM = re.compile(r"\{(\w+)(?::(int|str|path))?\}")
_CONVERT: dict[str, tuple[str, Callable[[str], Any]]] = {
    "int": (r"[0-9]{1,9}", int), "str": (r"[^/]+", str), "path": (r".+", str)}


def _compile(path: str) -> tuple[re.Pattern[str], dict[str, Callable[[str], Any]]]:
    converters: dict[str, Callable[[str], Any]] = {}
    regex, last = "", 0
    for m in _PARAM.finditer(path):
        regex += re.escape(path[last:m.start()])
        expr, conv = _CONVERT[m.group(2) or "str"]
        regex += f"(?P<{m.group(1)}>{expr})"
        converters[m.group(1)] = conv
        last = m.end()
    regex += re.escape(path[last:])
    return re.compile(f"^{regex}$"), converters


class Router(Resource):
    """Routes every request below it; register with L{add}."""

    isLeaf = True

    def __init__(self, console: WebConsole) -> None:
        super().__init__()
        self.console = console
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, *,
            roles: Iterable[str] | None, page: bool = False, csrf: bool | None = None,
            max_body: int = MAX_BODY) -> None:
        """Serve ``method path`` with ``handler``. ``roles`` None makes it public; ``csrf``
        defaults to on for state-changing methods of signed-in routes; ``max_body`` bounds
        the request body (413 above it)."""
        pattern, converters = _compile(path)
        m = method.upper().encode()
        need_csrf = (m in UNSAFE_METHODS and roles is not None) if csrf is None else csrf
        self.routes.append(Route(m, pattern, converters, handler,
                                 frozenset(roles) if roles is not None else None, page,
                                 need_csrf, max_body))

    def body_limit(self, method: bytes, path: bytes, default: int) -> int:
        """The longest body a request for ``method path`` may send: its route's own
        ``max_body`` when it set one, else ``default`` (the console's ``max_body_bytes``).
        Read by the request itself while the body arrives (hotline.web.body_limit)."""
        text = path.split(b"?", 1)[0].decode("utf-8", "replace")
        method = b"GET" if method == b"HEAD" else method
        for route in self.routes:
            if route.method == method and route.pattern.match(text):
                return route.max_body if route.max_body != MAX_BODY else default
        return default

    def render(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._dispatch(request))
        d.addErrback(self._crashed, request)
        return NOT_DONE_YET

    def _crashed(self, failure: Any, request: Request) -> None:
        _log.failure("web request {method} {path} failed", failure,
                     method=request.method, path=request.path)
        _write(request, json_response({"error_id": "internal-error",
                                       "message": "internal error (logged)", "details": {}},
                                      500))

    def _match(self, request: Request) -> tuple[Route | None, dict[str, Any], list[bytes]]:
        path = request.path.decode("utf-8", "replace")
        method = b"GET" if request.method == b"HEAD" else request.method
        allowed: list[bytes] = []
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            return route, {k: route.converters[k](v) for k, v in m.groupdict().items()}, []
        return None, {}, allowed

    async def _dispatch(self, request: Request) -> None:
        route, params, allowed = self._match(request)
        page = request.path.startswith(b"/api/") is False and \
            request.path.startswith(b"/open311/") is False
        if route is None:
            if allowed:
                err = HTTPError(405, "method-not-allowed",
                                f"use {', '.join(sorted({a.decode() for a in allowed}))}")
                resp = self._error(err, page=False)
                resp.headers[b"Allow"] = b", ".join(sorted(set(allowed)))
                _write(request, resp)
                return
            _write(request, self._error(HTTPError(404, "not-found", "no such page or call"),
                                        page=page))
            return
        ctx = Ctx(request, self.console, params)
        limit = route.max_body if route.max_body != MAX_BODY else \
            int(self.console.config["web"]["max_body_bytes"])
        try:
            length = int(request.getHeader(b"content-length") or 0)
        except ValueError:
            length = limit + 1
        try:
            if length > limit:
                raise HTTPError(413, "body-too-large", f"the body is over {limit} bytes")
            if route.roles is not None:
                await self._authorise(ctx, route)
            result = await route.handler(ctx)
        except HTTPError as e:
            resp = self._error(e, page=route.page, ctx=ctx)
        except Exception as e:  # domain errors carry their HTTP meaning
            status = getattr(e, "status_code", None)
            if not isinstance(status, int) or not hasattr(e, "to_dict"):
                raise
            resp = self._error(HTTPError(status, e.to_dict()["error_id"],
                                         e.to_dict()["message"], e.to_dict()["details"]),
                               page=route.page, ctx=ctx)
        else:
            if result is STREAMING:
                return
            resp = result
        _write(request, resp)

    async def _authorise(self, ctx: Ctx, route: Route) -> None:
        console = self.console
        cookie = ctx.request.getCookie(SESSION_COOKIE)
        token = console.signer.unsign(cookie.decode("ascii", "replace") if cookie else None)
        user = await console.resolve(token) if token else None
        if user is None:
            raise HTTPError(401, "not-signed-in", "please sign in (会话已失效，请重新登录)")
        ctx.user = user
        if user.role not in route.roles:  # type: ignore[operator]
            await console.audit(ctx, "access", target=ctx.path, outcome="denied",
                                details={"method": ctx.request.method.decode()})
            raise HTTPError(403, "forbidden",
                            f"the role {user.role!r} may not use this page (无权访问)")
        if route.csrf and ctx.request.method in UNSAFE_METHODS:
            offered = ctx.request.getHeader(b"x-csrf-token")
            offered_text = offered.decode("ascii", "replace") if offered else ctx.form("_csrf")
            if not console.signer.check_csrf(user.token, offered_text):
                await console.audit(ctx, "csrf", target=ctx.path, outcome="denied")
                raise HTTPError(403, "csrf-token-invalid",
                                "the form's security token is missing or wrong; reload the page "
                                "and try again (安全令牌无效，请刷新页面后重试)")

    def _error(self, err: HTTPError, *, page: bool, ctx: Ctx | None = None) -> Response:
        if page and err.status_code == 401 and ctx is not None:
            return redirect("/login?next=" + quote(ctx.path, safe="/"))
        if page:
            return html_response(self.console.render_page(
                "error.html", ctx, status=err.status_code, message=err.message),
                err.status_code)
        resp = json_response(err.to_dict(), err.status_code)
        if err.status_code == 429 and "retry_after_s" in err.details:
            resp.headers[b"Retry-After"] = str(int(err.details["retry_after_s"]) + 1).encode()
        return resp


def _write(request: Request, resp: Response) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(resp.status)
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)
    request.setHeader(b"Content-Type", resp.content_type)
    for name, value in resp.headers.items():
        request.setHeader(name, value)
    for name, value, opts in resp.cookies:
        request.addCookie(name, value, **opts)
    request.setHeader(b"Content-Length", str(len(resp.body)).encode())
    request.write(resp.body)
    request.finish()
