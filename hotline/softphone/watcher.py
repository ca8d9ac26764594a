# -*- test-case-name: tests.softphone.test_watcher -*-
"""Pause an agent the moment their browser's registration is lost; resume when it is back.

Asterisk removes a WebSocket contact as soon as its connection closes and sends
``ContactStatus: Removed``; one that stops answering without closing (no FIN, no RST) is found
by the AOR's OPTIONS and reported ``Unreachable``. A browser registering sends ``Created`` or
``NonQualified``, ``Reachable`` once it answers again, ``Updated`` on refresh.
Only contacts over a WebSocket (``transport=ws``/``wss`` in the URI) count: the desk phone of the
same name is not the browser. The pause carries the reason ``softphone offline``; only a pause
with that reason is lifted when the browser is back, so an agent's own break is never ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from hotline.softphone.service import endpoint_of

if TYPE_CHECKING:
    from hotline.ami.client import AMIClient
    from hotline.ami.message import Message

__all__ = ["RegistrationWatcher", "OFFLINE_REASON"]

_log = Logger(namespace="hotline.softphone")

#: The pause reason the watcher sets, and the only one it lifts.
OFFLINE_REASON = "softphone offline"
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
        self._subscription: Any = None
        #: One change at a time per agent, in event order (a flap must not interleave).
        self._queues: dict[str, defer.Deferred[None]] = {}

    def is_online(self, code: str) -> bool:
        """Whether agent ``code``'s browser is registered now."""
        return bool(self._contacts.get(code))

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
        replies = await self.ami.action("PJSIPShowContacts")
        found: dict[str, set[str]] = {code: set() for code in self._by_aor.values()}
        for m in replies if isinstance(replies, list) else [replies]:
            if m.get("Event") != "ContactList":
                continue
            aor = m.get("Aor") or m.get("ObjectName", "").split(";@")[0]
            code, uri = self._by_aor.get(aor), m.get("Uri", "")
            if code is not None and _WS.search(uri):
                found[code].add(uri)
        for code, contacts in found.items():
            self._contacts[code] = contacts
            if self.holds(code):
                self._enqueue(code, bool(contacts))

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None

    def _on_contact_status(self, event: Message) -> None:
        code = self._by_aor.get(event.get("AOR", ""))
        if code is None or not _WS.search(event.get("URI", "")):
            return
        status = event.get("ContactStatus", "").lower()
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
        self._enqueue(code, online)

    def _enqueue(self, code: str, online: bool) -> None:
        previous = self._queues.get(code) or defer.succeed(None)
        step = previous.addCallback(
            lambda _: defer.ensureDeferred(self._apply(code, online)))
        self._queues[code] = step

    async def _apply(self, code: str, online: bool) -> None:
        try:
            current = next((s for s in await self.agents.status() if s.code == code), None)
            if current is None or current.state == "offline":
                return  # not in the queue: nothing to pause or resume
            if not online and not self.holds(code):
                return  # no softphone (desk phone, signed out): nothing was lost
            if not online and current.state != "paused":
                await self.agents.pause(code, OFFLINE_REASON)
            elif online and current.state == "paused" and current.reason == OFFLINE_REASON:
                await self.agents.resume(code)
        except Exception:
            _log.failure("softphone of agent {code}: could not {what} the agent in the queue",
                         code=code, what="resume" if online else "pause")
