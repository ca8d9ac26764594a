# -*- test-case-name: tests.web.test_events -*-
"""Server-Sent Events for the desk: the ``/api/events`` streams, one per open page.

This module knows streams, seats and keep-alives, not calls or rooms: each package's plugin
feeds the streams from its own domain events (wazo-calld's ``notifier.py`` per plugin), with
the same serialisation as its REST resource:

- ``hotline.calls.plugin``: ``call`` for every live call change, ``pop`` once per call that
  rings or talks at the stream's seat (who is calling), ``agent`` for the seat's own state;
- ``hotline.bridge.plugin``: ``bridge``, the seat's three-way call as ``GET /api/bridge`` shows it;
- ``scheduler.http``: ``callback``, a callback dialled from the desk (dialling, then its outcome);
- ``hotline.stt.plugin``: ``transcript``, the transcript of a call at the seat.

A plugin that has something to show a fresh stream (the live calls, the seat's room) adds an
``on_open`` hook. Nothing polls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import task
from twisted.logger import Logger
from twisted.web.server import Request

from hotline.naming import agent_interface
from hotline.web.auth import token_hash
from hotline.web.roles import DESK
from hotline.web.routing import SECURITY_HEADERS, STREAMING, Ctx, HTTPError, Router

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["EventStream", "StreamClient"]

_log = Logger(namespace="hotline.web.events")


class StreamClient:
    """One open event stream: its request, the signed-in user and seat.

    @ivar seen: per-stream memory a feeder may keep (the calls already popped, by uniqueid).
    """

    def __init__(self, request: Request, username: str, seat: str | None,
                 session: str | None = None) -> None:
        self.request = request
        self.username = username
        self.seat = seat
        #: The console session (token hash) that opened the stream: it ends with it.
        self.session = session
        self.interface = agent_interface(seat) if seat else None
        self.seen: set[str] = set()
        self.open = True

    @property
    def popped(self) -> set[str]:
        """The calls whose pop this stream got (an alias of C{seen})."""
        return self.seen

    def send(self, event: str, data: Any) -> None:
        if not self.open:
            return
        body = json.dumps(data, ensure_ascii=False, default=str)
        self.request.write(f"event: {event}\ndata: {body}\n\n".encode())


#: The name the stop test and the wall board's streams know it by.
_Client = StreamClient


class EventStream:
    """The ``/api/events`` streams of one console, and the way plugins push to them."""

    KEEPALIVE_S = 15.0
    MAX_CLIENTS = 500

    def __init__(self, console: WebConsole) -> None:
        self.console = console
        self.clients: list[StreamClient] = []
        self._keepalive: task.LoopingCall | None = None
        self._open_hooks: list[Callable[[StreamClient], object]] = []
        #: Whether a feeder of live calls is wired besides the console's live call view (a
        #: test's console): else a console without one refuses a stream (503).
        self.live = False

    def register(self, router: Router) -> None:
        router.add("GET", "/api/events", self._open, roles=DESK)

    def on_open(self, hook: Callable[[StreamClient], object]) -> None:
        """Call C{hook(client)} for every stream opened from now on, after its ``hello``."""
        self._open_hooks.append(hook)

    def start(self) -> None:
        self._keepalive = task.LoopingCall(self._ping)
        self._keepalive.clock = self.console.reactor
        self._keepalive.start(self.KEEPALIVE_S, now=False)

    def stop(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self.end(lambda client: True)

    @property
    def max_per_user(self) -> int:
        """Streams one user may hold open (``[web] max_streams_per_user``)."""
        return int(self.console.config["web"]["max_streams_per_user"])

    def admit(self, user: Any) -> None:
        """Refuse one more stream when the console, or this user, holds too many already."""
        if len(self.clients) >= self.MAX_CLIENTS:
            raise HTTPError(503, "too-many-streams", "too many open event streams")
        mine = sum(1 for c in self.clients if c.username == user.username and c.open)
        if mine >= self.max_per_user:
            raise HTTPError(429, "too-many-streams",
                            f"至多同时打开 {self.max_per_user} 个实时页面 (at most "
                            f"{self.max_per_user} open event streams per user; close a tab)",
                            {"limit": self.max_per_user})

    def adopt(self, client: StreamClient) -> None:
        """Hold a stream another part of the console opened (the worklists'): it counts
        towards its user's cap and ends with its session and the console, as ours do."""
        self.clients.append(client)

        def gone(_: object) -> None:
            if client in self.clients:
                self.clients.remove(client)

        client.request.notifyFinish().addBoth(gone)

    def end(self, which: Callable[[StreamClient], bool]) -> int:
        """Close every stream ``which(client)`` picks (its session ended, the console stops);
        returns how many."""
        ended = 0
        for client in [c for c in self.clients if which(c)]:
            client.open = False
            if client in self.clients:
                self.clients.remove(client)
            request = client.request
            # A connection lost while its channel was paused is never reported to
            # notifyFinish (Twisted's documented caveat), and finish() then raises: only live
            # streams are finished.
            if not request.finished and not getattr(request, "_disconnected", False):
                request.finish()
            ended += 1
        return ended

    # -- pushing ---------------------------------------------------------------------------------

    def broadcast(self, event: str, data: Any) -> None:
        """Send C{event} to every open desk stream."""
        for client in list(self.clients):
            client.send(event, data)

    def to_seat(self, seat: str | None, event: str, data: Any) -> None:
        """Send C{event} to the streams of seat C{seat} only (none when C{seat} is empty)."""
        if not seat:
            return
        for client in list(self.clients):
            if client.seat == seat:
                client.send(event, data)

    def to_interface(self, interface: str | None, event: str, data: Any) -> None:
        """Send C{event} to the streams whose seat's queue interface is C{interface}."""
        if not interface:
            return
        for client in list(self.clients):
            if client.interface == interface:
                client.send(event, data)

    # -- streams ---------------------------------------------------------------------------------

    async def _open(self, ctx: Ctx) -> object:
        if self.console.calls is None and not self.live:
            # A console without a PBX link has no live calls to stream: the desk says so
            # rather than showing a stream that never carries a call.
            raise HTTPError(503, "not-available", "the live call view is not connected")
        user = ctx.user
        assert user is not None
        self.admit(user)
        request = ctx.request
        request.setResponseCode(200)
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        client = StreamClient(request, user.username, user.agent_code, token_hash(user.token))
        self.clients.append(client)

        def gone(_: object) -> None:
            client.open = False
            if client in self.clients:
                self.clients.remove(client)

        request.notifyFinish().addBoth(gone)
        request.write(b"retry: 2000\n\n")
        client.send("hello", {"seat": user.agent_code, "interface": client.interface})
        for hook in list(self._open_hooks):
            try:
                hook(client)
            except Exception:
                _log.failure("event stream: an open hook failed for {user}", user=user.username)
        return STREAMING

    def _ping(self) -> None:
        for client in list(self.clients):
            if client.open:
                client.request.write(b": keepalive\n\n")
