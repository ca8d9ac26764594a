# -*- test-case-name: tests.tickets.test_http -*-
"""Pushed, not polled: ticket changes and department notices to the worklist pages
(``/api/tickets/stream``, Server-Sent Events).

Two events: ``ticket`` (a ticket changed: its number, status, department, light, deadline and
version; the page fetches its list again) and ``notice`` (a reminder, a 督办 notice or the
outcome of its call, in the serialisation ``worklists.notice_dict`` gives the API). A liaison's
stream carries only their department's; everyone else's carries all.

Each stream is also one of the console's event streams (``console.events``): it counts towards
the user's stream cap and ends with its session (sign-out, expiry, ``user disable|passwd``), as
the desk's and the wall board's do.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import task
from twisted.logger import Logger
from twisted.web.server import Request

from hotline.web.events import StreamClient
from hotline.web.roles import Role
from hotline.web.routing import SECURITY_HEADERS

__all__ = ["TicketStream"]

_log = Logger(namespace="hotline.tickets.notifier")


class _Listener(StreamClient):
    """A worklist page's stream: it hears ticket changes and notices, not the desk's calls."""

    EVENTS = frozenset({"hello", "ticket", "notice"})

    def __init__(self, request: Request, username: str, session: str | None, role: str,
                 department: str | None) -> None:
        super().__init__(request, username, None, session)
        self.role = role
        self.department = department

    def wants(self, departments: set[str | None]) -> bool:
        return self.role != Role.LIAISON or (self.department is not None
                                             and self.department in departments)

    def send(self, event: str, data: Any) -> None:
        if event in self.EVENTS:
            super().send(event, data)


class TicketStream:
    """The open streams of one console; ``ticket_changed`` and ``notice`` fan out to them."""

    KEEPALIVE_S = 15.0
    MAX_LISTENERS = 500

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.listeners: list[_Listener] = []
        self._keepalive: task.LoopingCall | None = None

    @property
    def full(self) -> bool:
        return len(self.listeners) >= self.MAX_LISTENERS

    def start(self) -> None:
        self._keepalive = task.LoopingCall(self._ping)
        self._keepalive.clock = self.reactor
        self._keepalive.start(self.KEEPALIVE_S, now=False)

    def stop(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        for listener in list(self.listeners):
            listener.open = False
            request = listener.request
            if not request.finished and not getattr(request, "_disconnected", False):
                request.finish()
        self.listeners.clear()

    def attach(self, request: Request, *, role: str, department: str | None,
               username: str = "", session: str | None = None) -> _Listener:
        """Turn ``request`` into an event stream for a user of ``role`` (and department),
        opened by console session ``session`` (a token hash); returns the stream."""
        request.setResponseCode(200)
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        listener = _Listener(request, username, session, role, department)
        self.listeners.append(listener)

        def gone(_: object) -> None:
            listener.open = False
            if listener in self.listeners:
                self.listeners.remove(listener)

        request.notifyFinish().addBoth(gone)
        request.write(b"retry: 2000\n\n")
        listener.send("hello", {"role": role, "department": department})
        return listener

    def ticket_changed(self, view: dict[str, Any]) -> None:
        """A ticket changed (``view`` as ``TicketActions.view`` gives it, or a row of a
        worklist): push the fields every list shows, never the citizen's number."""
        departments = {view.get("department"),
                       *(d["code"] for d in view.get("co_departments") or [])}
        departments |= set(view.get("previous_departments") or [])
        data = {k: view.get(k) for k in ("id", "number", "status", "department", "light",
                                         "due_at", "version", "reopen_count")}
        self._fan_out("ticket", data, departments)

    def notice(self, notice: dict[str, Any]) -> None:
        """A reminder, a 督办 notice or the outcome of its call (``worklists.notice_dict``)."""
        self._fan_out("notice", notice, {notice.get("department")})

    def _fan_out(self, event: str, data: Any, departments: set[str | None]) -> None:
        for listener in list(self.listeners):
            if listener.wants(departments):
                try:
                    listener.send(event, data)
                except Exception:  # noqa: BLE001 - one broken stream must not stop the rest
                    _log.failure("ticket stream: cannot write to a listener")
                    listener.open = False

    def _ping(self) -> None:
        for listener in list(self.listeners):
            if listener.open:
                listener.request.write(b": keepalive\n\n")
