# -*- test-case-name: tests.ami.test_actions -*-
"""An AMI action: a request that owns its ActionID and Deferred and knows when it is finished."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from hotline.ami.message import Message, _check_header

__all__ = [
    "Action",
    "ActionIdGenerator",
    "AMIError",
    "AMIActionTimeout",
    "AMIConnectionLost",
    "READ_ONLY_ACTIONS",
]

HeaderInput = str | int | Sequence[str]

#: Actions that only read state: safe to send again after a reconnect.
READ_ONLY_ACTIONS: frozenset[str] = frozenset(
    name.lower()
    for name in (
        "Ping", "CoreShowChannels", "CoreShowChannelMap", "CoreStatus", "CoreSettings",
        "QueueStatus", "QueueSummary", "Status", "Getvar", "ListCommands", "ShowDialPlan",
        "ExtensionState", "ExtensionStateList", "DeviceStateList", "PresenceState",
        "PresenceStateList", "MailboxCount", "MailboxStatus", "BridgeList", "BridgeInfo",
        "BridgeTechnologyList", "ConfbridgeList", "ConfbridgeListRooms", "ParkedCalls",
        "Parkinglots", "PJSIPShowEndpoints", "PJSIPShowEndpoint", "PJSIPShowContacts",
        "PJSIPShowAors", "PJSIPShowAuths", "PJSIPShowRegistrationsOutbound",
        "PJSIPShowRegistrationsInbound", "PJSIPShowSubscriptionsInbound", "DBGet", "DBGetTree",
        "GetConfig", "GetConfigJSON", "ListCategories", "VoicemailUsersList", "Agents",
        "QueueRule", "FAXSessions", "FAXStats",
    )
)


class AMIError(Exception):
    """Asterisk answered an action with C{Response: Error}; C{message} is that reply."""

    def __init__(self, message: Message, action: Action | None = None) -> None:
        """
        @param message: the error response.
        @param action: the action it answers, when known.
        """
        self.message = message
        self.action = action
        reason = message.get("Message", "")
        name = action.name if action is not None else "?"
        super().__init__(f"AMI action {name} failed: {reason}")


class AMIActionTimeout(Exception):
    """No complete reply arrived within the action's time limit."""


class AMIConnectionLost(Exception):
    """The link to Asterisk dropped before the action finished; it may or may not have run."""


class ActionIdGenerator:
    """
    Makes ActionIDs as C{prefix-counter}, injectable so recorded transcripts replay exactly.

    >>> ids = ActionIdGenerator("t")
    >>> ids(), ids()
    ('t-1', 't-2')
    >>> ids.reset(prefix="r"); ids()
    'r-1'
    """

    def __init__(self, prefix: str = "hotline", start: int = 1) -> None:
        """
        @param prefix: what every id starts with (a host or process name keeps ids unique).
        @param start: the first counter value.
        """
        self.reset(prefix=prefix, start=start)

    def reset(self, *, prefix: str | None = None, start: int = 1) -> None:
        """Start counting again, for a test or a replay."""
        if prefix is not None:
            self.prefix = prefix
        self._counter = itertools.count(start)

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"


default_ids = ActionIdGenerator()


class Action:
    """
    One AMI request; its Deferred fires with the reply once C{add_message} says it is complete.

    A plain action fires with its single response L{Message}; a list action (response with
    C{EventList: start}) with the list of all its messages, the response first and the
    C{EventList: Complete} event last. C{Response: Error} fails it with L{AMIError}.

    >>> a = Action("QueueStatus", Queue="sales", id_generator=ActionIdGenerator("d"))
    >>> a.serialize()
    b'Action: QueueStatus\\r\\nActionID: d-1\\r\\nQueue: sales\\r\\n\\r\\n'
    """

    def __init__(
        self,
        name: str,
        headers: Mapping[str, HeaderInput] | None = None,
        /,
        *,
        id_generator: Callable[[], str] | None = None,
        **more: HeaderInput,
    ) -> None:
        """
        @param name: the action name (C{Originate}, C{QueueStatus}, ...).
        @param headers: headers whose names are not Python identifiers; a list value repeats
            the header (C{Variable}).
        @param id_generator: makes the ActionID unless C{ActionID} is given as a header.
        @param more: further headers as keywords.
        @raise ValueError: a header would break the framing (CR or LF in it).
        """
        self.name = name
        merged: dict[str, HeaderInput] = dict(headers or {})
        merged.update(more)
        action_id = merged.pop("ActionID", None)
        self._id_generator = id_generator or default_ids
        self.action_id: str = str(action_id) if action_id is not None else self._id_generator()
        self.headers: list[tuple[str, str]] = []
        for key, value in merged.items():
            values = [value] if isinstance(value, str | int) else list(value)
            for item in values:
                _check_header(key, str(item))
                self.headers.append((key, str(item)))
        _check_header("Action", name)
        _check_header("ActionID", self.action_id)
        self.messages: list[Message] = []
        self._listing = False
        self._done = False
        self._timer: IDelayedCall | None = None
        self._on_finish: list[Callable[[Action], object]] = []
        self.deferred: Deferred[Message | list[Message]] = Deferred(self._cancelled)

    @property
    def read_only(self) -> bool:
        """Whether sending it twice is harmless (only such actions are retried after reconnect)."""
        lowered = self.name.lower()
        if lowered == "command":
            words = " ".join(v for k, v in self.headers if k.lower() == "command").lower().split()
            return "show" in words[:2] and not ({"reload", "restart", "stop"} & set(words))
        return lowered in READ_ONLY_ACTIONS

    @property
    def done(self) -> bool:
        """Whether the Deferred has fired (or been cancelled)."""
        return self._done

    def copy(self) -> Action:
        """The same request under a fresh ActionID and Deferred, for a retry."""
        return Action(self.name, id_generator=self._id_generator, **_grouped(self.headers))

    def serialize(self) -> bytes:
        """The action as it travels: C{Action}, C{ActionID}, the headers, a blank line."""
        lines = [f"Action: {self.name}", f"ActionID: {self.action_id}"]
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def on_finish(self, callback: Callable[[Action], object]) -> None:
        """Call C{callback(self)} once the action is finished however (the protocol forgets it)."""
        self._on_finish.append(callback)

    def start_timer(self, clock: IReactorTime, seconds: float | None) -> None:
        """Fail with L{AMIActionTimeout} unless complete within C{seconds} on C{clock}."""
        if seconds is not None and not self._done:
            self._timer = clock.callLater(seconds, self._timed_out, seconds)

    def add_message(self, message: Message) -> bool:
        """
        Take one message bearing this ActionID; return C{True} once the action is complete.
        """
        if self._done:
            return True
        self.messages.append(message)
        if message.is_response and not self._listing:
            if message.name.lower() == "error":
                self.fail(AMIError(message, self))
                return True
            if str(message.get("EventList", "")).lower() == "start":
                self._listing = True
                return False
            self._finish()
            self.deferred.callback(message)
            return True
        event_list = str(message.get("EventList", "")).lower()
        if event_list == "complete" or (
            self._listing and not event_list and message.name.endswith("Complete")
        ):
            self._finish()
            self.deferred.callback(list(self.messages))
            return True
        return False

    def fail(self, error: Exception) -> None:
        """Fail the Deferred with C{error} unless it already fired."""
        if not self._done:
            self._finish()
            self.deferred.errback(error)

    def _finish(self) -> None:
        self._done = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        callbacks, self._on_finish = self._on_finish, []
        for callback in callbacks:
            callback(self)

    def _timed_out(self, seconds: float) -> None:
        self._timer = None
        self.fail(AMIActionTimeout(f"AMI action {self.name} ({self.action_id}) got no complete "
                                   f"reply within {seconds:g}s"))

    def _cancelled(self, deferred: Deferred[object]) -> None:
        # The Deferred errbacks with CancelledError after this returns; we only tidy up.
        if not self._done:
            self._finish()

    def __repr__(self) -> str:
        return f"<Action {self.name} {self.action_id}>"


def _grouped(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in headers:
        grouped.setdefault(key, []).append(value)
    return grouped

