# -*- test-case-name: tests.ami.test_client -*-
"""The AMI client: login, keepalive, reconnect with resync, and event dispatch by name or filter."""

from __future__ import annotations

import fnmatch
import hashlib
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from hotline.ami.actions import (
    Action,
    ActionIdGenerator,
    AMIActionTimeout,
    AMIConnectionLost,
    HeaderInput,
)
from hotline.ami.message import Message
from hotline.ami.protocol import AMIProtocol

__all__ = ["AMIClient", "Subscription"]

Handler = Callable[[Message], object]
#: An event or header name as AMI's filter criteria can carry it (C{name(...)}, C{header(...)}).
_CRITERIA_WORD = re.compile(r"[A-Za-z0-9_-]+")
Hook = Callable[["AMIClient"], object]


class Subscription:
    """
    One subscribed handler; calling it calls the handler, C{unsubscribe()} stops delivery.

    Returned by L{AMIClient.subscribe} both as a call and as a decorator, so a decorated
    function keeps working as a function.
    """

    def __init__(
        self,
        client: AMIClient,
        handler: Handler,
        *,
        name: str | None = None,
        pattern: re.Pattern[str] | None = None,
        predicate: Callable[[Message], bool] | None = None,
        event: str | None = None,
        only: tuple[str, str] | None = None,
    ) -> None:
        """
        @param client: where it is registered.
        @param handler: called with each matching event; may return a coroutine or Deferred.
        @param name: an exact event name, lower-cased.
        @param pattern: a compiled glob for event names.
        @param predicate: a test on the whole message.
        @param event: the exact event name as subscribed (as the PBX spells it: its filters).
        @param only: (header, regular expression): the PBX need only send these events whose
            header matches (see L{AMIClient.subscribe}).
        """
        self.handler = handler
        self.name = name
        self.event = event
        self.only = only
        self._client = client
        self._pattern = pattern
        self._predicate = predicate
        self.active = True

    def matches(self, message: Message) -> bool:
        """Whether C{message} is for this subscription."""
        if self._predicate is not None:
            return bool(self._predicate(message))
        return message.event is not None and self.matches_name(message.event)

    def matches_name(self, event: str) -> bool:
        """Whether events called C{event} are for this subscription (not for filters)."""
        if self._pattern is not None:
            return self._pattern.match(event) is not None
        return self._predicate is None and event.lower() == self.name

    def unsubscribe(self) -> None:
        """Stop delivering events to the handler; harmless when repeated."""
        if self.active:
            self.active = False
            self._client._remove(self)

    def __call__(self, message: Message) -> object:
        return self.handler(message)

    def __repr__(self) -> str:
        target = self.name or (self._pattern and self._pattern.pattern) or self._predicate
        return f"<Subscription {target!r} -> {self.handler!r}>"


class _Request:
    """One caller's C{send_action}: the outer Deferred across a possible read-only retry."""

    def __init__(self, action: Action, timeout: float | None) -> None:
        self.action = action
        self.timeout = timeout
        self.retried = False
        self.park_timer: IDelayedCall | None = None
        self.deferred: Deferred[Any] = Deferred(self._cancel)

    def _cancel(self, _: Deferred[Any]) -> None:
        if self.park_timer is not None and self.park_timer.active():
            self.park_timer.cancel()
        self.park_timer = None
        if not self.action.done:
            self.action.deferred.cancel()


class _ClientProtocol(AMIProtocol):
    """The client's protocol: tells the client when the link is up so it can log in."""

    client: AMIClient

    def connectionMade(self) -> None:
        self.client._connection_made(self)


class _ProtocolFactory(Factory):
    def __init__(self, client: AMIClient) -> None:
        self.client = client

    def buildProtocol(self, addr: object) -> AMIProtocol:
        proto = _ClientProtocol(
            clock=self.client.clock,
            action_timeout=self.client.action_timeout,
            on_event=self.client._dispatch,
            max_message=self.client.max_message,
        )
        proto.factory = self
        proto.client = self.client
        return proto


class AMIClient:
    """
    A self-healing AMI connection: logs in, keeps alive, reconnects, resyncs, dispatches events.

    After every (re)connection and login the resync hooks run (e.g. C{CoreShowChannels},
    C{QueueStatus}) before the client calls itself ready. On link loss an action that changes
    the world (C{Originate}, C{Hangup}, ...) fails with L{AMIConnectionLost}: its caller decides
    after the resync, because sending it again could ring a citizen twice. Read-only actions
    are sent once more after the reconnect.
    """

    _log = Logger(namespace="hotline.ami.client")

    def __init__(
        self,
        *,
        username: str,
        secret: str,
        endpoint: IStreamClientEndpoint | None = None,
        host: str | None = None,
        port: int = 5038,
        reactor: Any = None,
        auth: str = "md5",
        events: str | None = "on",
        keepalive_interval: float | None = 20.0,
        action_timeout: float | None = 10.0,
        retry_policy: Callable[[int], float] | None = None,
        id_generator: Callable[[], str] | None = None,
        log_events: bool = False,
        max_message: int | None = None,
        wait_booted: bool = False,
        event_filter: bool = False,
    ) -> None:
        """
        @param username: the C{manager.conf} user.
        @param secret: its secret (sent only as an MD5 key when C{auth="md5"}).
        @param endpoint: where Asterisk listens; else C{host}/C{port} over TCP.
        @param reactor: provides time and connections (a C{MemoryReactorClock} in tests);
            default the global reactor.
        @param auth: C{"md5"} (challenge/response) or C{"plain"}.
        @param events: the C{Events} header of the login (C{"on"}, C{"off"}, a class list).
        @param keepalive_interval: seconds between Pings; a Ping that times out drops the link.
        @param action_timeout: default seconds an action may take; None: no limit.
        @param retry_policy: seconds to wait after N failed attempts; default capped backoff.
        @param id_generator: makes ActionIDs (inject one for deterministic transcripts).
        @param log_events: log every event at debug level (costs ~10 us an event, so opt-in).
        @param max_message: bytes one AMI message may have; a longer one is skipped to its end
            and logged, the link stays up (default L{AMIProtocol.MAX_MESSAGE}).
        @param wait_booted: after each login, wait until Asterisk is fully booted before the
            resync hooks run (a PBX restarting takes logins before its modules are loaded, and
            the hooks' QueueStatus or QueueAdd would be unknown commands). Needs the
            ``command`` write permission; off for peers that cannot answer it (test fakes).
        @param event_filter: after each login, before the resync hooks, ask the PBX (AMI's
            C{Filter} action, advanced match criteria) to send this session only the events
            subscribed by exact name, narrowed by each subscription's C{only}: a PBX sends
            every call dozens of events nobody here reads (C{VarSet} of every dialplan
            variable, C{Newexten} of every step, AGI and RTCP reports). Off while a glob or
            predicate is subscribed. Needs the C{system} write permission; a PBX that refuses
            a filter is asked for every event again (it would otherwise drop what the
            filters already added let through), and not asked for filters at later logins;
            the log says so.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        if endpoint is None:
            if host is None:
                raise ValueError("AMIClient needs an endpoint or a host")
            endpoint = TCP4ClientEndpoint(reactor, host, port)
        if auth not in ("md5", "plain"):
            raise ValueError(f"auth must be 'md5' or 'plain', not {auth!r}")
        self.username = username
        self._secret = secret
        self.clock: IReactorTime = reactor
        self.auth = auth
        self.events = events
        self.keepalive_interval = keepalive_interval
        self.action_timeout = action_timeout
        self.log_events = log_events
        self.max_message = max_message
        self.wait_booted = wait_booted
        self.event_filter = event_filter
        #: The PBX filters this session has asked for; None: the session gets every event.
        self._session_filters: set[tuple[str, str]] | None = None
        #: The PBX refused a filter once: later sessions are not filtered at all.
        self._filters_refused = False
        self.ids: Callable[[], str] = id_generator or ActionIdGenerator(f"hotline-{id(self):x}")
        self._retry_policy = retry_policy or backoffPolicy(initialDelay=0.5, maxDelay=30.0)
        self._login_failures = 0
        # Login happens on our side of ClientService, not in prepareConnection: a link lost
        # during prepareConnection hits a missing transition in ClientService (Twisted 26).
        # Failed logins still back off: they count as failed attempts in the retry policy.
        self._service = ClientService(
            endpoint,
            _ProtocolFactory(self),
            retryPolicy=lambda attempts: self._retry_policy(attempts + self._login_failures),
            clock=reactor,
        )
        self._protocol: AMIProtocol | None = None
        self._ready = False
        self._stopping = False
        self._keepalive: LoopingCall | None = None
        self._ready_waiters: list[Deferred[AMIClient]] = []
        self._ready_callbacks: list[Callable[[AMIClient], object]] = []
        self._resync_hooks: list[Hook] = []
        self._parked: list[_Request] = []
        self._by_name: list[Subscription] = []
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._filtered: tuple[Subscription, ...] = ()

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting (and reconnecting for as long as the client runs)."""
        self._stopping = False
        self._service.startService()

    def stop(self) -> Deferred[None]:
        """Close the link and stop reconnecting; parked actions fail with AMIConnectionLost."""
        self._stopping = True
        self._stop_keepalive()
        parked, self._parked = self._parked, []
        for request in parked:
            self._fail_parked(request, "the AMI client stopped")
        return self._service.stopService()

    @property
    def ready(self) -> bool:
        """Whether we are logged in and resynced on a live link."""
        return self._ready

    @property
    def protocol(self) -> AMIProtocol | None:
        """The logged-in protocol of the current link, if any."""
        return self._protocol

    def when_ready(self) -> Deferred[AMIClient]:
        """A Deferred firing with the client once logged in and resynced (now or next time)."""
        d: Deferred[AMIClient] = Deferred()
        if self._ready:
            d.callback(self)
        else:
            self._ready_waiters.append(d)
        return d

    def on_ready(self, callback: Callable[[AMIClient], object]) -> Callable[[AMIClient], object]:
        """Call C{callback(client)} after every login and resync; usable as a decorator."""
        self._ready_callbacks.append(callback)
        return callback

    def add_resync_hook(self, hook: Hook) -> Hook:
        """
        Run C{hook(client)} after every login, before the client is ready; usable as a decorator.

        Hooks run in the order added and may be C{async def} or return a Deferred; one that
        fails is logged and the next one runs.
        """
        self._resync_hooks.append(hook)
        return hook

    # -- connecting -------------------------------------------------------------------------

    def _connection_made(self, proto: AMIProtocol) -> None:
        d = Deferred.fromCoroutine(self._login_and_resync(proto))
        d.addErrback(lambda f: self._log.failure("AMI session setup failed", f))

    async def _login_and_resync(self, proto: AMIProtocol) -> None:
        try:
            await self._login(proto)
        except Exception as e:
            self._login_failures += 1
            if isinstance(e, AMIConnectionLost):
                self._log.warn("AMI link lost during login as {user} ({error}); trying again",
                               user=self.username, error=e)
            else:
                self._log.error("AMI login as {user} failed: {error}", user=self.username,
                                error=e)
            if proto.transport is not None:
                proto.transport.loseConnection()
            return
        self._login_failures = 0
        self._log.info("AMI logged in as {user} ({banner})", user=self.username,
                       banner=proto.banner)
        self._protocol = proto
        proto.when_lost().addCallback(lambda _: self._link_lost(proto))
        self._start_keepalive(proto)
        # Before the hooks: an event the filters drop while they are being added happened
        # before the resync's snapshot, which accounts for it as for a link still coming up.
        await self._filter_events(proto)
        await self._until_booted(proto)
        for hook in list(self._resync_hooks):
            if self._protocol is not proto:
                return
            try:
                await ensureDeferred(_as_awaitable(hook(self)))
            except Exception as e:
                if self._protocol is not proto or isinstance(e, AMIConnectionLost):
                    # Not a fault of the hook: the link went. The next login resyncs again.
                    self._log.warn("AMI resync stopped, the link dropped ({reason}); it runs "
                                   "again at the next login", reason=e)
                    return
                self._log.failure("AMI resync hook {hook!r} failed", hook=hook)
        if self._protocol is not proto:
            return
        self._ready = True
        self._log.info("AMI ready")
        waiters, self._ready_waiters = self._ready_waiters, []
        for d in waiters:
            d.callback(self)
        for callback in list(self._ready_callbacks):
            try:
                callback(self)
            except Exception:
                self._log.failure("AMI ready callback {cb!r} failed", cb=callback)
        parked, self._parked = self._parked, []
        for request in parked:
            if request.park_timer is not None and request.park_timer.active():
                request.park_timer.cancel()
            request.park_timer = None
            if not request.deferred.called:
                self._attempt(request)

    def _filters_wanted(self) -> set[tuple[str, str]] | None:
        """The PBX filters (match criteria, expression) that let through what is subscribed
        (none while nothing is: the PBX then sends every event); None: every event, for good
        (a glob, a predicate, or a name the criteria syntax cannot carry, is subscribed)."""
        if self._filtered:
            return None
        wanted = set()
        for sub in self._by_name:
            if sub.event is None or not _CRITERIA_WORD.fullmatch(sub.event) or (
                    sub.only is not None and not _CRITERIA_WORD.fullmatch(sub.only[0])):
                return None
            criteria = f"action(include),name({sub.event})"
            if sub.only is None:
                wanted.add((criteria, ""))
            else:
                header, regex = sub.only
                wanted.add((f"{criteria},header({header}),method(regex)", regex))
        return wanted

    async def _filter_events(self, proto: AMIProtocol) -> None:
        self._session_filters = None
        if not self.event_filter or self._filters_refused:
            return
        wanted = self._filters_wanted()
        if wanted is None:
            return
        self._session_filters = set()
        for criteria, expression in sorted(wanted):
            if not await self._add_filter(proto, criteria, expression):
                return
        if wanted:
            self._log.info("AMI: the PBX sends this session only the {n} kinds of events "
                           "subscribed", n=len(wanted))

    async def _add_filter(self, proto: AMIProtocol, criteria: str, expression: str) -> bool:
        """Add one PBX filter to the session; on refusal, let every event through again."""
        if self._session_filters is None or (criteria, expression) in self._session_filters:
            return self._session_filters is not None
        headers = {"Operation": "Add", "MatchCriteria": criteria}
        if expression:
            headers["Filter"] = expression
        try:
            await proto.send_action(Action("Filter", id_generator=self.ids, **headers))
        except Exception as e:  # noqa: BLE001 - any refusal: fall back to every event
            if isinstance(e, AMIConnectionLost) or self._protocol is not proto:
                return False  # the next login asks again
            self._log.warn("AMI: the PBX refused the event filter {criteria} ({error}); "
                           "this session gets every event", criteria=criteria, error=e)
            self._filters_refused = True  # not asked again at this client's next logins
            if not self._session_filters:
                self._session_filters = None  # none was added: nothing to undo
                return False
            try:
                await self._filter_nothing(proto)
            except Exception as e2:  # noqa: BLE001
                self._log.error("AMI: cannot open the event filters again ({error}): "
                                "reconnecting for a session without them", error=e2)
                if proto.transport is not None:
                    proto.transport.loseConnection()
            return False
        if self._session_filters is not None:
            self._session_filters.add((criteria, expression))
        return True

    def _filter_nothing(self, proto: AMIProtocol) -> Deferred[Any]:
        """Let every event through this session from now on (an include-all legacy filter:
        filters cannot be removed, only outnumbered)."""
        self._session_filters = None
        return proto.send_action(Action("Filter", Operation="Add", Filter=".*",
                                        id_generator=self.ids))

    def _filter_added_subscription(self) -> None:
        """A subscription made while this session is filtered: ask the PBX for its events."""
        proto = self._protocol
        if proto is None or self._session_filters is None:
            return
        wanted = self._filters_wanted()
        missing = [(".*", "")] if wanted is None else sorted(wanted - self._session_filters)
        for criteria, expression in missing:
            if criteria == ".*":  # a glob or a predicate: every event from now on
                d = self._filter_nothing(proto)
            else:
                d = Deferred.fromCoroutine(self._add_filter(proto, criteria, expression))
            d.addErrback(lambda f: self._log.failure("AMI: cannot widen the event filters", f))

    async def _until_booted(self, proto: AMIProtocol) -> None:
        """With C{wait_booted}: return once Asterisk says it is fully booted (at once when it
        is); a failure is logged and the resync goes on as without."""
        if not self.wait_booted:
            return
        try:
            await proto.send_action(Action("Command", Command="core waitfullybooted",
                                           id_generator=self.ids))
        except Exception as e:  # noqa: BLE001 - the hooks then run as they would have
            self._log.warn("AMI: cannot tell whether Asterisk is fully booted ({error})",
                           error=e)

    async def _login(self, proto: AMIProtocol) -> None:
        extra: dict[str, str] = {} if self.events is None else {"Events": self.events}
        if self.auth == "md5":
            reply = await proto.send_action(
                Action("Challenge", AuthType="MD5", id_generator=self.ids)
            )
            challenge = str(reply.get("Challenge", ""))
            key = hashlib.md5((challenge + self._secret).encode("utf-8")).hexdigest()
            login = Action("Login", AuthType="MD5", Username=self.username, Key=key,
                           id_generator=self.ids, **extra)
        else:
            login = Action("Login", Username=self.username, Secret=self._secret,
                           id_generator=self.ids, **extra)
        await proto.send_action(login)

    def _link_lost(self, proto: AMIProtocol) -> None:
        if self._protocol is not proto:
            return
        self._protocol = None
        self._ready = False
        self._stop_keepalive()
        if not self._stopping:
            self._log.warn("AMI link lost; reconnecting")

    def _start_keepalive(self, proto: AMIProtocol) -> None:
        self._stop_keepalive()
        if not self.keepalive_interval:
            return
        loop = LoopingCall(self._ping, proto)
        loop.clock = self.clock
        loop.start(self.keepalive_interval, now=False)
        self._keepalive = loop

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _ping(self, proto: AMIProtocol) -> None:
        timeout = self.keepalive_interval
        if self.action_timeout is not None:
            timeout = min(timeout or self.action_timeout, self.action_timeout)
        d = proto.send_action(Action("Ping", id_generator=self.ids), timeout)

        def no_pong(failure: Failure) -> None:
            if failure.check(AMIActionTimeout) and proto.transport is not None:
                self._log.warn("AMI keepalive Ping unanswered; dropping the link")
                proto.transport.loseConnection()

        d.addErrback(no_pong)

    # -- actions ----------------------------------------------------------------------------

    def send_action(self, action: Action, timeout: float | None = None) -> Deferred[Any]:
        """
        Send C{action}; the Deferred fires with its reply (a L{Message}, or a list for lists).

        @param timeout: seconds for the whole reply; None: the client's C{action_timeout}.
        @return: fails with L{AMIError} (error reply), L{AMIActionTimeout}, or
            L{AMIConnectionLost} (link down or dropped and the action is not read-only).
        """
        request = _Request(action, timeout)
        self._attempt(request)
        return request.deferred

    async def action(
        self, name: str, headers: Mapping[str, HeaderInput] | None = None, /, **more: HeaderInput
    ) -> Message | list[Message]:
        """Build an L{Action} with our id generator, send it and return its reply."""
        return await self.send_action(Action(name, headers, id_generator=self.ids, **more))

    def _attempt(self, request: _Request) -> None:
        proto = self._protocol
        action = request.action
        if proto is None:
            if action.read_only and not self._stopping:
                self._park(request)
            else:
                request.deferred.errback(
                    AMIConnectionLost(f"AMI link is down; {action.name} was not sent")
                )
            return
        d = proto.send_action(action, request.timeout)
        d.addCallbacks(request.deferred.callback, self._attempt_failed, errbackArgs=(request,))

    def _attempt_failed(self, failure: Failure, request: _Request) -> None:
        if request.deferred.called:
            return
        action = request.action
        if failure.check(AMIConnectionLost) and action.read_only and not request.retried:
            request.retried = True
            request.action = action.copy()
            self._log.info("AMI {action} will be sent again after the reconnect",
                           action=action.name)
            self._park(request)
            return
        request.deferred.errback(failure)

    def _park(self, request: _Request) -> None:
        if self._protocol is not None and self._ready:
            self._attempt(request)
            return
        self._parked.append(request)
        limit = request.timeout if request.timeout is not None else self.action_timeout
        if limit is not None:
            request.park_timer = self.clock.callLater(limit, self._park_expired, request)

    def _park_expired(self, request: _Request) -> None:
        request.park_timer = None
        if request in self._parked:
            self._parked.remove(request)
            self._fail_parked(request, "the AMI link stayed down")

    def _fail_parked(self, request: _Request, why: str) -> None:
        if request.park_timer is not None and request.park_timer.active():
            request.park_timer.cancel()
        request.park_timer = None
        if not request.deferred.called:
            request.deferred.errback(
                AMIConnectionLost(f"{why}; {request.action.name} was not sent")
            )

    # -- events -----------------------------------------------------------------------------

    def subscribe(
        self,
        target: str | Callable[[Message], bool],
        handler: Handler | None = None,
        *,
        only: tuple[str, str] | None = None,
    ) -> Any:
        """
        Deliver events matching C{target} to C{handler}; without C{handler}, a decorator.

        @param target: an exact event name (C{"Hangup"}), a glob (C{"Queue*"}, C{"*"}), or a
            predicate taking the L{Message}. Names are matched ignoring case here; with
            C{event_filter} the PBX matches them as spelled.
        @param only: C{(header, regular expression)}: with C{event_filter}, the PBX need only
            send the events of this name whose header matches (C{("Variable",
            "^HOTLINE_")}). A hint, not a filter here: the handler still gets whatever the
            PBX sends (all of them from a PBX without filters) and must check for itself.
        @return: a L{Subscription} (callable like the handler; C{unsubscribe()} stops it).
        """
        if handler is None:
            return lambda fn: self.subscribe(target, fn, only=only)
        if callable(target):
            sub = Subscription(self, handler, predicate=target)
            self._filtered = (*self._filtered, sub)
        else:
            if any(c in target for c in "*?["):
                pattern = re.compile(fnmatch.translate(target), re.IGNORECASE)
                sub = Subscription(self, handler, pattern=pattern)
            else:
                sub = Subscription(self, handler, name=target.lower(), event=target,
                                   only=only)
            self._by_name.append(sub)
            self._routes.clear()
        if self._session_filters is not None:
            self._filter_added_subscription()
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._by_name:
            self._by_name.remove(sub)
            self._routes.clear()
        else:
            self._filtered = tuple(s for s in self._filtered if s is not sub)

    def _route(self, name: str) -> tuple[Subscription, ...]:
        # Name and glob subscriptions depend only on the event name: resolve once per name.
        route = self._routes[name] = tuple(s for s in self._by_name if s.matches_name(name))
        return route

    def _dispatch(self, message: Message) -> None:
        """Hand one event to every matching subscription; a failing handler harms no other."""
        name = message.event or ""
        if self.log_events:
            self._log.debug("AMI event {event} {uniqueid}", event=name,
                            uniqueid=message.get("Uniqueid"), headers=message.as_dict())
        subs = self._routes.get(name)
        if subs is None:
            subs = self._route(name)
        for sub in subs:
            if sub.active:
                try:
                    result = sub.handler(message)
                except Exception:
                    self._handler_failed(Failure(), sub, message)
                else:
                    if result is not None:
                        self._watch(result, sub, message)
        for sub in self._filtered:
            try:
                matched = sub.matches(message)
            except Exception:
                self._log.failure("AMI event filter {sub!r} failed on {event} {uniqueid}",
                                  sub=sub, event=name, uniqueid=message.get("Uniqueid"))
                continue
            if matched and sub.active:
                try:
                    result = sub.handler(message)
                except Exception:
                    self._handler_failed(Failure(), sub, message)
                else:
                    if result is not None:
                        self._watch(result, sub, message)

    def _watch(self, result: object, sub: Subscription, message: Message) -> None:
        if inspect.iscoroutine(result):
            result = Deferred.fromCoroutine(result)
        if isinstance(result, Deferred):
            result.addErrback(self._handler_failed, sub, message)

    def _handler_failed(self, failure: Failure, sub: Subscription, message: Message) -> None:
        self._log.failure(
            "AMI handler {sub!r} failed on {event} {uniqueid}",
            failure,
            sub=sub,
            event=message.name,
            uniqueid=message.get("Uniqueid"),
        )


def _as_awaitable(value: object) -> Awaitable[object]:
    if inspect.isawaitable(value):
        return value  # type: ignore[return-value]
    if isinstance(value, Deferred):
        return value

    async def done() -> object:
        return value

    return done()
