"""The registration watcher's reading of ContactStatus events, with a recording agent service.

The real PBX's events and queue are in ``test_browser.py``; these cover orders of events a real
browser produces only by chance (a new connection registering before the old one is removed)
and the rule that only the watcher's own pause is lifted."""

from __future__ import annotations

import pytest_twisted

from hotline.agents.service import AgentStatus
from hotline.ami.message import Message
from hotline.softphone.watcher import DESK_OFFLINE_REASON, OFFLINE_REASON, RegistrationWatcher


class _Agents:
    def __init__(self, state: str = "available", reason: str | None = None) -> None:
        self.state, self.reason = state, reason
        self.calls: list[tuple] = []

    async def status(self):
        return [AgentStatus("1001", "A", self.state, None, self.reason)]

    async def pause(self, code, reason):
        self.calls.append(("pause", code, reason))
        self.state, self.reason = "paused", reason

    async def resume(self, code):
        self.calls.append(("resume", code))
        self.state, self.reason = "available", None


class _AMI:
    def subscribe(self, name, handler):
        self.handler = handler
        return self

    def add_resync_hook(self, hook):
        self.hook = hook


def _event(status: str, uri: str, aor: str = "agent-1001") -> Message:
    return Message(f"Event: ContactStatus\r\nAOR: {aor}\r\nURI: {uri}\r\nContactStatus: {status}")


WS1 = "sip:abc@127.0.0.1:5000;transport=ws;x-ast-orig-host=x.invalid:0"
WS2 = "sip:def@127.0.0.1:5001;transport=ws;x-ast-orig-host=y.invalid:0"
DESK = "sip:agent-1001@127.0.0.1:16080;line=x"


def _watcher(agents, holds=lambda code: True):
    ami = _AMI()
    watcher = RegistrationWatcher(ami=ami, agents=agents, codes=["1001"], holds=holds)
    watcher.start()
    return watcher, ami.handler


@pytest_twisted.ensureDeferred
async def test_lost_then_back_pauses_then_resumes():
    """Removed pauses with the watcher's reason; the next registration lifts that pause."""
    agents = _Agents()
    watcher, feed = _watcher(agents)
    feed(_event("NonQualified", WS1))
    feed(_event("Removed", WS1))
    feed(_event("NonQualified", WS2))
    await watcher._queues["1001"]
    assert agents.calls == [("pause", "1001", OFFLINE_REASON), ("resume", "1001")]


@pytest_twisted.ensureDeferred
async def test_new_connection_before_old_removed_is_no_loss():
    """Re-registering over a new WebSocket before the old contact goes is not an outage."""
    agents = _Agents()
    watcher, feed = _watcher(agents)
    feed(_event("NonQualified", WS1))
    feed(_event("NonQualified", WS2))
    feed(_event("Removed", WS1))
    assert watcher.is_online("1001") and agents.calls == []


@pytest_twisted.ensureDeferred
async def test_desk_phone_and_other_agents_are_ignored():
    agents = _Agents()
    watcher, feed = _watcher(agents)
    feed(_event("Removed", DESK))
    feed(_event("NonQualified", WS1, aor="agent-9999"))
    assert not watcher.is_online("1001") and agents.calls == []


@pytest_twisted.ensureDeferred
async def test_an_agents_own_break_is_kept():
    """An agent on a break is not paused again nor resumed when the browser comes back."""
    agents = _Agents(state="paused", reason="lunch")
    watcher, feed = _watcher(agents)
    feed(_event("NonQualified", WS1))
    feed(_event("Removed", WS1))
    feed(_event("NonQualified", WS1))
    await watcher._queues["1001"]
    assert agents.calls == [] and agents.reason == "lunch"


@pytest_twisted.ensureDeferred
async def test_logged_out_agent_is_left_alone():
    agents = _Agents(state="offline")
    watcher, feed = _watcher(agents)
    feed(_event("NonQualified", WS1))
    feed(_event("Removed", WS1))
    await watcher._queues["1001"]
    assert agents.calls == []


@pytest_twisted.ensureDeferred
async def test_agent_without_a_softphone_is_not_paused():
    """A contact lost after the console signed out (credentials revoked) pauses nobody."""
    agents = _Agents()
    watcher, feed = _watcher(agents, holds=lambda code: False)
    feed(_event("NonQualified", WS1))
    feed(_event("Removed", WS1))
    await watcher._queues["1001"]
    assert agents.calls == []


class _Holding:
    """Whether the agent holds a softphone, switched as the console would."""

    def __init__(self, held: bool = True) -> None:
        self.held = held

    def __call__(self, code: str) -> bool:
        return self.held


@pytest_twisted.ensureDeferred
async def test_seat_released_without_desk_phone_pauses_until_it_registers():
    """The browser's registration removed the desk phone's contact; after sign-out the agent is
    paused (no citizen waits on a phone that cannot ring) and resumed when the desk is back."""
    agents, holding = _Agents(), _Holding()
    watcher, feed = _watcher(agents, holds=holding)
    feed(_event("NonQualified", DESK))
    feed(_event("NonQualified", WS1))
    feed(_event("Removed", DESK))  # remove_existing: the browser took the AOR's one contact
    holding.held = False
    watcher.released("1001")
    feed(_event("Removed", WS1))
    await watcher._queues["1001"]
    assert agents.calls == [("pause", "1001", DESK_OFFLINE_REASON)]
    feed(_event("Created", DESK))
    await watcher._queues["1001"]
    assert agents.calls[-1] == ("resume", "1001") and agents.state == "available"


@pytest_twisted.ensureDeferred
async def test_seat_released_with_desk_phone_registered_changes_nothing():
    agents, holding = _Agents(), _Holding(False)
    watcher, feed = _watcher(agents, holds=holding)
    feed(_event("Created", DESK))
    watcher.released("1001")
    await watcher._queues["1001"]
    assert watcher.desk_online("1001") and agents.calls == []


@pytest_twisted.ensureDeferred
async def test_seat_released_keeps_an_agents_own_break_and_the_desk_does_not_end_it():
    agents, holding = _Agents(state="paused", reason="lunch"), _Holding(False)
    watcher, feed = _watcher(agents, holds=holding)
    watcher.released("1001")
    feed(_event("Created", DESK))
    await watcher._queues["1001"]
    assert agents.calls == [] and agents.reason == "lunch"


@pytest_twisted.ensureDeferred
async def test_browser_back_resumes_a_desk_phone_pause():
    """Signed in again before the desk phone registered: the browser carries the seat."""
    agents, holding = _Agents(state="paused", reason=DESK_OFFLINE_REASON), _Holding(True)
    watcher, feed = _watcher(agents, holds=holding)
    feed(_event("NonQualified", WS1))
    await watcher._queues["1001"]
    assert agents.calls == [("resume", "1001")]


@pytest_twisted.ensureDeferred
async def test_desk_phone_found_at_resync_ends_a_desk_phone_pause():
    """The desk phone registered while no controller watched: the next resync resumes."""
    agents = _Agents(state="paused", reason=DESK_OFFLINE_REASON)
    ami = _AMI()

    async def action(name, **headers):
        return [Message(f"Event: ContactList\r\nAor: agent-1001\r\nUri: {DESK}")]
    ami.action = action
    watcher = RegistrationWatcher(ami=ami, agents=agents, codes=["1001"], holds=lambda c: False)
    watcher.start()
    await watcher.resync()
    await watcher._queues["1001"]
    assert agents.calls == [("resume", "1001")]


@pytest_twisted.ensureDeferred
async def test_no_contacts_at_all_is_an_empty_pbx_not_an_error():
    """A PBX just started answers PJSIPShowContacts with an error, 'No Contacts found'."""
    from hotline.ami.actions import AMIError

    agents = _Agents()
    ami = _AMI()

    async def action(name, **headers):
        raise AMIError(Message("Response: Error\r\nMessage: No Contacts found"))
    ami.action = action
    watcher = RegistrationWatcher(ami=ami, agents=agents, codes=["1001"])
    watcher.start()
    await watcher.resync()
    await watcher._queues["1001"]
    assert not watcher.is_online("1001") and agents.calls == [("pause", "1001", OFFLINE_REASON)]
