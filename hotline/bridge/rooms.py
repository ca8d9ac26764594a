# -*- test-case-name: tests.bridge.test_integration -*-
"""A bridge room's live state: its name, its parties' channels, and the department's legs."""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred

from hotline.naming import room_name

__all__ = ["Room", "DepartmentLeg", "room_name"]


@dataclass
class DepartmentLeg:
    """One number dialled for the room; ``rang``/``answered`` fire once, or never."""

    number: str
    uniqueid: str
    channel: str | None = None
    participant_id: int | None = None
    rang: bool = False
    answered: bool = False
    joined: bool = False
    outcome: str | None = None
    cause: int | None = None
    reason: int | None = None
    recording: str | None = None
    #: The agent released it (no "department left" notice then).
    dropped: bool = False
    ringing: Deferred[float] = field(default_factory=Deferred)
    done: Deferred[str] = field(default_factory=Deferred)


@dataclass
class Room:
    """One call's room: who is in it, and the department legs tried for it, in order."""

    name: str
    call_id: int
    call_uniqueid: str
    citizen_channel: str
    agent_channel: str
    agent_uniqueid: str | None
    agent_code: str | None
    entry_id: int | None
    entry_name: str
    numbers: list[str]
    bridge_id: int | None = None
    legs: list[DepartmentLeg] = field(default_factory=list)
    #: uniqueid -> role for the channels that joined the room.
    members: dict[str, str] = field(default_factory=dict)
    participant_ids: dict[str, int] = field(default_factory=dict)
    #: role -> the channel name it joined with (what ConfbridgeKick needs).
    joined_as: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None
    #: The room's own recording (ConfBridge's), as Asterisk names it.
    recording: str | None = None
    #: The citizen hung up or was sent back to the queue: nobody to bridge for any more.
    citizen_gone: bool = False
    ended: bool = False
    ended_d: Deferred[None] = field(default_factory=Deferred)
    #: Counts the room's published changes, so a page that gets two views of it (an action's
    #: reply and the event stream race each other) keeps the newer one.
    version: int = 0

    @property
    def leg(self) -> DepartmentLeg | None:
        """The latest department leg (the one ringing or in the room), if any."""
        return self.legs[-1] if self.legs else None

    def in_room(self, role: str) -> bool:
        return role in self.members.values()

    def numbers_left(self) -> list[str]:
        tried = {leg.number for leg in self.legs}
        return [n for n in self.numbers if n not in tried]
