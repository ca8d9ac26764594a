# -*- test-case-name: tests.softphone.test_watcher -*-
"""Pause an agent the moment their browser's registration is lost; resume when it is back.

Asterisk removes a WebSocket contact as soon as its connection closes and sends
``ContactStatus: Removed``; one that stops answering without closing (no FIN, no RST) is found
by the AOR's OPTIONS and reported ``Unreachable``. A browser registering sends ``Created`` or
``NonQualified``, ``Reachable`` once it answers again, ``Updated`` on refresh.
Only contacts over a WebSocket (``transport=ws``/``wss`` in the URI) count: the desk phone of the
same name is not the browser. The pause carries the reason ``softphone offline``; only a pause
with that reason is lifted when the browser is back, so an agent's own break is never ended.

The seat's desk phone is watched too, for one moment: a browser registering on the seat's AOR
removes the desk phone's contact (one contact per AOR), so when the browser lets the seat go
(console sign-out) the desk phone is unreachable until it registers again by itself, minutes
later for most phones. An agent still in the queue is then paused as ``desk phone offline``, so
no citizen waits on a phone that cannot ring, and resumed the moment the desk phone registers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from hotline.ami.actions import AMIError
from hotline.softphone.service import endpoint_of

if TYPE_CHECKING:
    from hotline.ami.client import AMIClient
    from hotline.ami.message import Message

__all__ = ["RegistrationWatcher", "OFFLINE_REASON", "DESK_OFFLINE_REASON"]

_log = Logger(namespace="hotline.softphone")

#: The pause reason the watcher sets, and the only one it lifts.
OFFLINE_REASON = "softphone offline"
#: The pause reason after a browser let the seat go and its desk phone has no registration.
DESK_OFFLINE_REASON = "desk phone offline"
_WS = re.compile(r";transport=wss?\b", re.IGNORECASE)
_ONLINE = {"created", "updated", "reachable", "nonqualified", "unknown"}
_OFFLINE = {"removed", "unreachable"}


class RegistrationWatcher:
    """Follow ``ContactStatus`` events for agents' browsers and keep the queue in step."""

    def __init__(self, *, ami: AMIClient, agents: Any, codes: tuple[str, ...] | list[str],
                 holds: Callable[[str], bool] = lambda code: True) -> None:
        """
        @param agents: the L{hotline.agents.AgentService} (``pause``/``resume``/``status``).
        @param codes: the agents whose endpoints are watched.
        @param holds: whether an agent holds a softphone now; one who does not (a desk phone,
            or signed out of the console) is never paused for a missing browser.
        """
        self.ami = ami
        self.agents = agents
        self.holds = holds
        self._by_aor = {endpoint_of(c): c for c in codes}
        #: The WebSocket contacts each agent has now (a re-registration over a new connection
        #: may be created before the old one is removed).
        self._contacts: dict[str, set[str]] = {}
        #: The desk phone contacts (not over a WebSocket) each agent's AOR has now.
        self._desk: dict[str, set[str]] = {}
        self._subscription: Any = None
        #: One change at a time per agent, in event order (a flap must not interleave).
        self._queues: dict[str, defer.Deferred[None]] = {}

    def is_online(self, code: str) -> bool:
        """Whether agent ``code``'s browser is registered now."""
        return bool(self._contacts.get(code))

    def desk_online(self, code: str) -> bool:
        """Whether agent ``code``'s desk phone is registered now (as far as events told)."""
        return bool(self._desk.get(code))

    def released(self, code: str) -> None:
        """Agent ``code``'s browser no longer carries the seat (credentials revoked): pause the
        agent if the desk phone cannot take the queue's calls."""
        self._enqueue(code, lambda: self._after_release(code))

    def start(self) -> None:
        """Follow events, and read the contacts again after every AMI login (events missed
        while the link was down)."""
        self._subscription = self.ami.subscribe("ContactStatus", self._on_contact_status)
        self.ami.add_resync_hook(self.resync)

    async def resync(self, _ami: Any = None) -> None:
        """Read every WebSocket contact from the PBX and bring each softphone holder's queue
        state in line with it."""
        if self._subscription is None:
            return  # stopped (AMI resync hooks cannot be removed)
        try:
            replies = await self.ami.action("PJSIPShowContacts")
        except AMIError as error:
            if "no contacts" not in str(error.message.get("Message", "")).lower():
                raise
            replies = []  # nothing registered at all yet (a PBX just started)
        found: dict[str, set[str]] = {code: set() for code in self._by_aor.values()}
        desk: dict[str, set[str]] = {code: set() for code in self._by_aor.values()}
        for m in replies if isinstance(replies, list) else [replies]:
            if m.get("Event") != "ContactList":
                continue
            aor = m.get("Aor") or m.get("ObjectName", "").split(";@")[0]
            code, uri = self._by_aor.get(aor), m.get("Uri", "")
            if code is not None:
                (found if _WS.search(uri) else desk)[code].add(uri)
        self._desk.update(desk)
        for code, contacts in found.items():
            self._contacts[code] = contacts
            if self.holds(code):
                self._enqueue_browser(code, bool(contacts))
            elif desk[code]:
                # The desk phone registered while nobody watched (controller down, link lost).
                self._enqueue(code, lambda code=code: self._desk_back(code))

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None

    def _on_contact_status(self, event: Message) -> None:
        code = self._by_aor.get(event.get("AOR", ""))
        if code is None:
            return
        status = event.get("ContactStatus", "").lower()
        if not _WS.search(event.get("URI", "")):
            self._on_desk_status(code, event.get("URI", ""), status)
            return
        contacts = self._contacts.setdefault(code, set())
        was_online = bool(contacts)
        if status in _ONLINE:
            contacts.add(event["URI"])
        elif status in _OFFLINE:
            contacts.discard(event["URI"])
        online = bool(contacts)
        if online == was_online:
            return
        _log.info("agent {code}'s softphone {how}", code=code,
                  how="registered" if online else "lost its registration")
        self._enqueue_browser(code, online)

    def _on_desk_status(self, code: str, uri: str, status: str) -> None:
        contacts = self._desk.setdefault(code, set())
        was_online = bool(contacts)
        if status in _ONLINE:
            contacts.add(uri)
        elif status in _OFFLINE:
            contacts.discard(uri)
        if contacts and not was_online:
            self._enqueue(code, lambda: self._desk_back(code))

    def _enqueue_browser(self, code: str, online: bool) -> None:
        self._enqueue(code, lambda: self._apply(code, online))

    def _enqueue(self, code: str, step: Callable[[], Awaitable[None]]) -> None:
        previous = self._queues.get(code) or defer.succeed(None)
        self._queues[code] = previous.addCallback(lambda _: defer.ensureDeferred(step()))

    async def _status(self, code: str) -> Any:
        return next((s for s in await self.agents.status() if s.code == code), None)

    async def _after_release(self, code: str) -> None:
        try:
            current = await self._status(code)
            if current is None or current.state == "offline" or self.holds(code):
                return  # not in the queue, or a new browser already carries the seat
            if self.desk_online(code):
                if current.state == "paused" and current.reason == OFFLINE_REASON:
                    await self.agents.resume(code)  # the desk phone takes over from the browser
                return
            if current.state != "paused" or current.reason == OFFLINE_REASON:
                _log.warn("agent {code}'s desk phone is not registered after the browser let the "
                          "seat go: paused until it registers", code=code)
                await self.agents.pause(code, DESK_OFFLINE_REASON)
        except Exception:
            _log.failure("agent {code}'s browser let the seat go: could not check the desk phone",
                         code=code)

    async def _desk_back(self, code: str) -> None:
        try:
            current = await self._status(code)
            if (current is not None and current.state == "paused"
                    and current.reason == DESK_OFFLINE_REASON and not self.holds(code)):
                _log.info("agent {code}'s desk phone registered: resumed", code=code)
                await self.agents.resume(code)
        except Exception:
            _log.failure("agent {code}'s desk phone registered: could not resume the agent",
                         code=code)

    async def _apply(self, code: str, online: bool) -> None:
        try:
            current = await self._status(code)
            if current is None or current.state == "offline":
                return  # not in the queue: nothing to pause or resume
            if not online and not self.holds(code):
                return  # no softphone (desk phone, signed out): nothing was lost
            if not online and current.state != "paused":
                await self.agents.pause(code, OFFLINE_REASON)
            elif (online and current.state == "paused"
                  and current.reason in (OFFLINE_REASON, DESK_OFFLINE_REASON)):
                await self.agents.resume(code)  # the browser carries the seat again
        except Exception:
            _log.failure("softphone of agent {code}: could not {what} the agent in the queue",
                         code=code, what="resume" if online else "pause")
