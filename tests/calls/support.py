"""A fake AMI client and Asterisk 22 event builders for the live call state tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred

from hotline.ami.message import Message

CITIZEN = "PJSIP/city-trunk-00000004"
CITIZEN_UID = "1718000000.10"
AGENT_IF = "PJSIP/agent-1001"
AGENT_CHAN = "PJSIP/agent-1001-00000005"
AGENT_UID = "1718000000.11"
CALLER = "13800138000"


def message(event: str | None, **headers: Any) -> Message:
    """A Message with headers in the given order (names with '_' become '-', as Cause-txt)."""
    pairs = [] if event is None else [("Event", event)]
    pairs += [(k.replace("_", "-"), str(v)) for k, v in headers.items()]
    return Message.from_pairs(pairs)


def snapshot(channel: str, uniqueid: str, linkedid: str, *, state: int = 6,
             caller: str = CALLER, context: str = "inbound", exten: str = "s",
             prefix: str = "") -> dict[str, str]:
    """The channel snapshot headers Asterisk 22 puts on channel events (C{Dest} prefixed too)."""
    desc = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}[state]
    return {f"{prefix}{k}": str(v) for k, v in (
        ("Channel", channel), ("ChannelState", state), ("ChannelStateDesc", desc),
        ("CallerIDNum", caller), ("CallerIDName", "<unknown>"),
        ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"),
        ("Language", "en"), ("AccountCode", ""), ("Context", context), ("Exten", exten),
        ("Priority", "1"), ("Uniqueid", uniqueid), ("Linkedid", linkedid),
    )}


def citizen(**kw: Any) -> dict[str, str]:
    return snapshot(CITIZEN, CITIZEN_UID, CITIZEN_UID, **kw)


def agent_leg(prefix: str = "", **kw: Any) -> dict[str, str]:
    return snapshot(AGENT_CHAN, AGENT_UID, CITIZEN_UID, caller="1001", context="from-agent",
                    exten="s", prefix=prefix, **kw)


def member(event: str, *, status: int = 1, paused: int = 0, reason: str = "", in_call: int = 0,
           interface: str = AGENT_IF, name: str = "Agent 1001", queue: str = "hotline") -> Message:
    """A QueueMember* event as Asterisk 22 sends it."""
    return message(event, Queue=queue, MemberName=name, Interface=interface,
                   StateInterface=interface, Membership="dynamic", Penalty=0, CallsTaken=0,
                   LastCall=0, LastPause=0, LoginTime=1718000000, InCall=in_call,
                   Status=status, Paused=paused, PausedReason=reason, Ringinuse=0,
                   Wrapuptime=0)


class FakeSubscription:
    def __init__(self, ami: FakeAMI, name: str, handler: Callable[[Message], object]) -> None:
        self.ami, self.name, self.handler = ami, name.lower(), handler

    def unsubscribe(self) -> None:
        if self in self.ami.subscriptions:
            self.ami.subscriptions.remove(self)


class FakeAMI:
    """Enough of L{hotline.ami.client.AMIClient} for the tracker: subscribe, resync hooks, action."""

    def __init__(self) -> None:
        self.subscriptions: list[FakeSubscription] = []
        self.hooks: list[Callable[[Any], object]] = []
        self.replies: dict[str, Any] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def subscribe(self, name: str, handler: Callable[[Message], object], *,
                  only: tuple[str, str] | None = None) -> FakeSubscription:
        sub = FakeSubscription(self, name, handler)
        self.subscriptions.append(sub)
        return sub

    def add_resync_hook(self, hook: Callable[[Any], object]) -> Callable[[Any], object]:
        self.hooks.append(hook)
        return hook

    async def action(self, name: str, **headers: Any) -> Any:
        self.sent.append((name, headers))
        reply = self.replies.get(name)
        if callable(reply):
            reply = reply(**headers)
        if isinstance(reply, Exception):
            raise reply
        return reply if reply is not None else message(None, Response="Success")

    def emit(self, event: str, **headers: Any) -> None:
        """Deliver one event, built from headers, to every subscription for its name."""
        self.deliver(message(event, **headers))

    def deliver(self, m: Message) -> None:
        for sub in list(self.subscriptions):
            if sub.name == (m.event or "").lower():
                sub.handler(m)

    def resync(self) -> Deferred[Any]:
        """Run the resync hooks as a login would."""
        async def run() -> None:
            for hook in self.hooks:
                result = hook(self)
                if result is not None:
                    await result
        return ensureDeferred(run())


def list_reply(kind: str, items: list[dict[str, Any]]) -> list[Message]:
    """A list action's reply as the client returns it: response, items, Complete event."""
    complete = {"CoreShowChannel": "CoreShowChannelsComplete",
                "Queue": "QueueStatusComplete"}[kind if kind == "CoreShowChannel" else "Queue"]
    out = [message(None, Response="Success", ActionID="t-1", EventList="start",
                   Message="List follows")]
    for item in items:
        item = dict(item)
        out.append(message(item.pop("Event"), ActionID="t-1", **item))
    out.append(message(complete, ActionID="t-1", EventList="Complete",
                       ListItems=len(items)))
    return out
