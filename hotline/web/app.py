# -*- test-case-name: tests.web.test_console -*-
"""The web console as a service of the controller: resource tree, templates, sessions, listening.

L{hotline.web.plugin} builds it from the typed L{hotline.dependencies.Dependencies}; each
package's plugin then registers its own routes (``hotline/<package>/http.py``) into
C{console.router} and feeds the event streams. ``start()`` listens on ``[web] bind``/``port``,
``stop()`` closes the port and ends the event streams.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from hotline import phone
from hotline.web import accounts, audit
from hotline.web.access_log import access_log_formatter
from hotline.web.auth import (
    SessionSigner,
    attempt_limiter,
    hash_password,
    password_cost,
    session_key,
    token_hash,
    verify_password,
)
from hotline.web.body_limit import limited_request_factory
from hotline.web.client_address import client_address, parse_networks
from hotline.web.connection_limit import ConnectionLimit
from hotline.web.roles import ROLE_LABELS
from hotline.web.routing import SESSION_COOKIE, Ctx, Router
from hotline.web.session_watch import SessionWatch

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hotline.dependencies import Dependencies

__all__ = ["WebConsole"]

_log = Logger(namespace="hotline.web")


class _Root(Resource):
    """``/static/...`` from the package, what plugins mount, everything else to the router."""

    def __init__(self, router: Router) -> None:
        super().__init__()
        self.router = router
        static = File(str(resources.files("hotline.web").joinpath("static")))
        static.directoryListing = notFound  # type: ignore[method-assign]
        self.putChild(b"static", static)

    def getChild(self, path: bytes, request: Any) -> Resource:
        return self.router


class WebConsole:
    """The console's routing, sessions, templates and event streams over one typed
    L{Dependencies}; the services it serves are read from there when a request comes (a
    service that is None answers 503 with a clear message, or hides its buttons).
    """

    def __init__(self, deps: Dependencies) -> None:
        config = deps.config
        web = config["web"]
        self.deps = deps
        self.config = config
        self.db = deps.db
        self.reactor = deps.reactor
        self.zone = zoneinfo.ZoneInfo(config["site"]["timezone"])
        self.signer = SessionSigner(session_key(config))
        #: Per user name only, with growing delays: agents behind one proxy address must not
        #: lock each other out.
        self.limiter = attempt_limiter(web, clock=deps.reactor.seconds)
        #: The public status line (hotline.tickets.status), per ticket number: four digits are
        #: 10,000 guesses, so misses on one ticket slow down like a password's, on the web
        #: and by phone alike (the tickets plugin's StatusLine uses this one).
        self.status_limiter = attempt_limiter(web, clock=deps.reactor.seconds)
        #: ... and every lookup per client address, so one address cannot walk many tickets.
        self.status_address_limiter = attempt_limiter(
            web, attempts=web["status_address_attempts"],
            window_s=web["status_address_window_s"], clock=deps.reactor.seconds)
        #: Proxies whose X-Forwarded-For names the client ([web] trusted_proxies).
        self.trusted_proxies = parse_networks(web["trusted_proxies"])
        #: Password hashing (argon2id, ~160 ms of a core each by default) on threads of its own:
        #: sign-ins must not hold the database threads that FastAGI lookups wait for.
        self.hash_pool = ThreadPool(minthreads=0, maxthreads=int(web["hash_threads"]),
                                    name="hotline-hash")
        password_cost()  # a bad HOTLINE_PASSWORD_COST stops the console here, not at a sign-in
        self.secure_cookies = bool(web["secure_cookies"]) or \
            config["site"]["mode"] == "production"
        self.session_hours = float(web["session_hours"])
        self.templates = Environment(loader=PackageLoader("hotline.web", "templates"),
                                     autoescape=select_autoescape(["html"]),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.filters["local"] = self.local_time
        self.templates.filters["mask_phone"] = lambda n: phone.mask(n) if n else ""
        self.router = Router(self)
        from hotline.web import api, events, site
        self.events = events.EventStream(self)
        for module in (site, api):
            module.register(self.router)
        self.events.register(self.router)
        self._root = _Root(self.router)
        self.site = Site(self._root,
                         requestFactory=limited_request_factory(self.body_limit),
                         logFormatter=access_log_formatter(self.client_ip))
        self.site.displayTracebacks = False
        self._port: IListeningPort | None = None
        #: Ends the streams and softphones of sessions that ended (expiry, sign-out, CLI).
        self.session_watch = SessionWatch(console=self,
                                          interval_s=float(web["session_check_s"]))
        #: Run at start (after the database is up), e.g. the directory plugin's index load.
        self.on_start: list[Any] = []
        #: Run at stop, before the port closes (the ticket pages' stream ends its listeners).
        self.on_stop: list[Any] = []
        #: hotline.tickets' life after intake: its actions and the ticket pages' push stream
        #: (hotline.tickets.plugin).
        self.ticket_life: Any = None
        #: hotline.tickets.status.StatusLine: the public status line's lookups (web, phone).
        self.status_line: Any = None
        #: hotline.indices: the leader's indices, early warnings and their stream.
        self.indices: Any = None
        #: hotline.civic: hearings and public-welfare projects (templates, photo store).
        self.civic: Any = None
        #: What other packages add to a ticket's page: each takes (session, ticket id) and
        #: returns template values, in the page's unit of work (the grid's photos and
        #: verifications, hotline.grid.plugin).
        self.ticket_page_extras: list[Callable[[Session, int], dict[str, Any]]] = []
        #: A wall board feed the controller shares with the board pages (None: each console
        #: runs its own while a board is open); the board's streams (hotline.reports.plugin).
        self.wallboard: Any = None
        self.report_streams: Any = None

    # -- the services, as the plugins built them ----------------------------------------------

    @property
    def calls(self) -> Any:
        """The live call view's queries (None without a PBX link)."""
        return self.deps.calls

    @property
    def agents(self) -> Any:
        return self.deps.agents

    @property
    def bridge(self) -> Any:
        """The three-way bridge service (None: no bridge buttons)."""
        return self.deps.bridge

    @property
    def softphone(self) -> Any:
        """hotline.softphone's plugin: the browser as the agent's phone (None: desk phones)."""
        return self.deps.softphone

    @property
    def scheduler(self) -> Any:
        """The callback scheduler (the desk's 回拨 button places through it; None: refused)."""
        return self.deps.scheduler

    @property
    def stt(self) -> Any:
        return self.deps.stt

    @property
    def tickets(self) -> Any:
        return self.deps.tickets

    @property
    def directory(self) -> Any:
        return self.deps.directory

    @property
    def grid(self) -> Any:
        """hotline.grid's plugin: the map and the grid workers' service and limits."""
        return self.deps.grid

    def mount(self, name: bytes, resource: Resource) -> None:
        """Serve C{resource} under C{/name/} (the softphone's files and credentials)."""
        self._root.putChild(name, resource)

    # -- life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the plugins' start hooks (the directory index) and listen on [web] bind/port."""
        if not self.hash_pool.started:
            self.hash_pool.start()
        for hook in self.on_start:
            await hook()
        web = self.config["web"]
        self.connections = ConnectionLimit(
            self.site, total=int(web["max_connections"]),
            per_address=int(web["max_connections_per_address"]), trusted=self.trusted_proxies)
        self._port = self.reactor.listenTCP(int(web["port"]), self.connections,
                                            interface=web["bind"])
        self.events.start()
        await self.session_watch.start()
        _log.info("web console on http://{bind}:{port}/", bind=web["bind"], port=self.port)

    async def stop(self) -> None:
        """Stop listening and close the event streams; a second call does nothing."""
        self.session_watch.stop()
        self.events.stop()
        for hook in self.on_stop:
            hook()
        if self._port is not None:
            port, self._port = self._port, None
            await port.stopListening()
        if self.hash_pool.started:
            await threads.deferToThread(self.hash_pool.stop)

    def body_limit(self, method: bytes, path: bytes) -> int:
        """The longest body a request may send: its route's limit, else ``max_body_bytes``."""
        return self.router.body_limit(method, path, int(self.config["web"]["max_body_bytes"]))

    def client_ip(self, request: Any) -> str:
        """Where ``request`` comes from: its peer, or behind a trusted proxy the client the
        proxy names (L{hotline.web.client_address})."""
        host = getattr(request.getClientAddress(), "host", None)
        peer = str(host) if host else "?"
        return client_address(peer, request.requestHeaders.getRawHeaders(b"x-forwarded-for"),
                              self.trusted_proxies)

    def check_password(self, stored_hash: str | None, password: str) -> Deferred[bool]:
        """``verify_password`` on the hashing threads."""
        return deferToThreadPool(self.reactor, self.hash_pool, verify_password, stored_hash,
                                 password)

    def rehash_password(self, password: str) -> Deferred[str]:
        """A new hash of ``password`` with today's parameters, on the hashing threads."""
        return deferToThreadPool(self.reactor, self.hash_pool, hash_password, password)

    @property
    def port(self) -> int:
        """The port actually listened on (``[web] port = 0`` picks a free one in tests)."""
        assert self._port is not None, "not started"
        return self._port.getHost().port

    # -- helpers for handlers --------------------------------------------------------------------

    async def softphone_agent(self, request: Any) -> tuple[str, str] | None:
        """Who a softphone credentials request is for: a signed-in agent's own seat, with the
        session's CSRF token in ``X-CSRF-Token``, and the session (its token hash) that holds
        them; None refuses it."""
        cookie = request.getCookie(SESSION_COOKIE)
        token = self.signer.unsign(cookie.decode("ascii", "replace") if cookie else None)
        user = await self.resolve(token) if token else None
        if user is None or user.role != "agent" or not user.agent_code:
            return None
        offered = request.getHeader(b"x-csrf-token")
        if not self.signer.check_csrf(user.token,
                                      offered.decode("ascii", "replace") if offered else None):
            return None
        return user.agent_code, token_hash(user.token)

    async def resolve(self, token: str) -> accounts.Principal | None:
        return await self.db.run(accounts.resolve_session, token)

    async def audit(self, ctx: Ctx | None, action: str, *, target: str | None = None,
                    outcome: str = "ok", details: dict[str, Any] | None = None,
                    actor: str | None = None) -> None:
        """Write one audit entry in its own unit of work (for refusals and reads; changes
        write theirs inside their own unit of work with ``audit.record``)."""
        user = ctx.user if ctx else None
        await self.db.run(audit.record, actor=actor or (user.username if user else "-"),
                          role=user.role if user else None, action=action, target=target,
                          outcome=outcome, ip=ctx.ip if ctx else None, details=details)

    def cookie_options(self, *, max_age: int | None = None, strict: bool = True
                       ) -> dict[str, Any]:
        return {"path": b"/", "httpOnly": True, "secure": self.secure_cookies,
                "sameSite": "strict" if strict else "lax",
                **({"max_age": str(max_age).encode()} if max_age is not None else {})}

    def local_time(self, value: dt.datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
        """A stored UTC time as the site shows it."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.astimezone(self.zone).strftime(fmt)

    def render_page(self, name: str, ctx: Ctx | None, *, templates: Environment | None = None,
                    **values: Any) -> str:
        """A page with what every page gets (user, CSRF token, role, site); ``templates`` is
        a package's own environment (default: the console's)."""
        user = ctx.user if ctx else None
        return (templates or self.templates).get_template(name).render(
            user=user, csrf=ctx.csrf() if ctx and user else "",
            role_label=ROLE_LABELS.get(user.role, "") if user else "",
            site_name=self.config["site"]["name"], hotline=self.config["site"]["hotline_number"],
            **values)

