# -*- test-case-name: tests.test_naming -*-
"""The names the hotline gives things on the PBX, made and read in one place.

An agent's queue interface (``PJSIP/agent-1001``), the ChannelId of a callback or survey
attempt (``cb-12-1``, ``sv-7-2``) and a bridge room's name (``hb42-1a2b3c4d``) are each built
here and parsed here, so the dialplan, the tracker, the scheduler and the console agree. This
module imports nothing of the project: every package may use it.
"""

from __future__ import annotations

import secrets
from typing import NamedTuple

__all__ = ["agent_interface", "agent_endpoint", "agent_code", "agent_code_of_channel",
           "is_peer_member", "peer_member_node", "seat_interface",
           "AttemptKey", "attempt_key", "survey_key", "parse_attempt_key", "room_name",
           "is_room", "is_room_leg", "spy_leg_id", "is_spy_leg", "caption_leg_id",
           "is_caption_leg"]

_AGENT = "agent-"


def agent_endpoint(code: str) -> str:
    """The PJSIP endpoint (and AOR) of seat ``code``.

    >>> agent_endpoint("1001")
    'agent-1001'
    """
    return f"{_AGENT}{code}"


def agent_interface(code: str) -> str:
    """The queue interface of seat ``code``.

    >>> agent_interface("1001")
    'PJSIP/agent-1001'
    """
    return f"PJSIP/{_AGENT}{code}"


def agent_code(interface: str | None, member: str | None = None) -> str | None:
    """The seat code of a queue interface (``PJSIP/agent-1001``), else of a member name
    (``agent 1001``); None when neither names a seat.

    A seat of another PBX of a cluster, rung through it (``PJSIP/agent-1003@peer-2``), is
    the same seat.

    >>> agent_code("PJSIP/agent-1001"), agent_code(None, "agent 1002"), agent_code("SIP/x")
    ('1001', '1002', None)
    >>> agent_code("PJSIP/agent-1003@peer-2")
    '1003'
    """
    for text in (interface, member):
        if text and _AGENT in text:
            return text.rsplit(_AGENT, 1)[1].split("@", 1)[0]
    if member and member.startswith("agent ") and member[6:].strip().isdigit():
        return member[6:].strip()
    return None


def is_peer_member(interface: str | None) -> bool:
    """Whether a queue member is another PBX's seat rung through it (``PJSIP/agent-1003@peer-2``,
    a cluster's overflow member): that seat's own PBX shows and places the agent.

    >>> is_peer_member("PJSIP/agent-1003@peer-2"), is_peer_member("PJSIP/agent-1001")
    (True, False)
    """
    return bool(interface) and "@peer-" in str(interface)


def peer_member_node(interface: str | None) -> int | None:
    """The node whose PBX a peer member (``PJSIP/agent-1003@peer-2``) rings the seat through:
    the seat's own node; None for any other interface.

    >>> peer_member_node("PJSIP/agent-1003@peer-2"), peer_member_node("PJSIP/agent-1001")
    (2, None)
    """
    if not is_peer_member(interface):
        return None
    number = str(interface).rsplit("@peer-", 1)[1]
    return int(number) if number.isdigit() else None


def seat_interface(interface: str | None) -> str | None:
    """The seat's own interface for a member rung through another PBX.

    >>> seat_interface("PJSIP/agent-1003@peer-2"), seat_interface("PJSIP/agent-1001")
    ('PJSIP/agent-1003', 'PJSIP/agent-1001')
    """
    if interface and is_peer_member(interface):
        return interface.split("@", 1)[0]
    return interface


def agent_code_of_channel(channel: str | None) -> str | None:
    """The seat code of an agent's channel (``PJSIP/agent-1001-0000000a``).

    >>> agent_code_of_channel("PJSIP/agent-1001-0000000a"), agent_code_of_channel("PJSIP/x-1")
    ('1001', None)
    """
    if not channel or _AGENT not in channel:
        return None
    return agent_code(channel.rsplit("-", 1)[0])


class AttemptKey(NamedTuple):
    """A callback (``cb``), survey (``sv``) or deadline reminder (``rm``) attempt: the row id and
    the attempt's number."""

    kind: str
    ident: int
    number: int


def attempt_key(callback_id: int, number: int) -> str:
    """The agent leg's ChannelId for callback attempt ``number``: stable, so a restart finds it.

    >>> attempt_key(12, 1)
    'cb-12-1'
    """
    return f"cb-{callback_id}-{number}"


def survey_key(survey_id: int, number: int) -> str:
    """The citizen leg's ChannelId for survey attempt ``number``.

    >>> survey_key(7, 2)
    'sv-7-2'
    """
    return f"sv-{survey_id}-{number}"


def reminder_key(notice_id: int, number: int) -> str:
    """The duty number leg's ChannelId for reminder call attempt ``number`` of a notice.

    >>> reminder_key(5, 1)
    'rm-5-1'
    """
    return f"rm-{notice_id}-{number}"


def parse_attempt_key(key: str) -> AttemptKey | None:
    """The parts of an attempt key; None for anything else (a room leg, a citizen's uniqueid).

    >>> parse_attempt_key("cb-12-1"), parse_attempt_key("1700000000.12")
    (AttemptKey(kind='cb', ident=12, number=1), None)
    """
    parts = key.split("-")
    if len(parts) != 3 or parts[0] not in ("cb", "sv", "rm"):
        return None
    try:
        return AttemptKey(parts[0], int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def room_name(call_id: int) -> str:
    """A room name no other call (on any controller) will pick: the call's row id and a random
    part; ``hb`` first, as the dialplan's ``_hb.`` pattern expects.

    >>> room_name(12).startswith("hb12-")
    True
    """
    return f"hb{call_id}-{secrets.token_hex(4)}"


def is_room(name: str | None) -> bool:
    """Whether a conference name is one of our bridge rooms.

    >>> is_room("hb12-0a1b2c3d"), is_room("sales")
    (True, False)
    """
    return bool(name) and name.startswith("hb") and "-" in name


def is_room_leg(uniqueid: str | None) -> bool:
    """Whether a channel's uniqueid is a department leg dialled into a room (``hb12-..-d1``).

    >>> is_room_leg("hb12-0a1b2c3d-d1"), is_room_leg("1700000000.12")
    (True, False)
    """
    return bool(uniqueid) and uniqueid.startswith("hb") and "-d" in uniqueid


def spy_leg_id() -> str:
    """The ChannelId of a supervisor's listening leg (their phone running ChanSpy): random,
    ``sp-`` first so the tracker knows the leg for what it is.

    >>> is_spy_leg(spy_leg_id())
    True
    """
    return f"sp-{secrets.token_hex(6)}"


def is_spy_leg(uniqueid: str | None) -> bool:
    """Whether a channel's uniqueid is a supervisor's listening leg.

    >>> is_spy_leg("sp-0a1b2c3d4e5f"), is_spy_leg("1700000000.12")
    (True, False)
    """
    return bool(uniqueid) and uniqueid.startswith("sp-")


def caption_leg_id(speaker: str) -> str:
    """The ChannelId of a live-caption fork (an AudioSocket channel spying on one speaker of a
    call): ``lc-`` first, then the speaker and a random part that is also the stream's UUID.

    >>> caption_leg_id("citizen").startswith("lc-citizen-")
    True
    """
    return f"lc-{speaker}-{secrets.token_hex(6)}"


def is_caption_leg(uniqueid: str | None) -> bool:
    """Whether a channel's uniqueid is a live-caption fork.

    >>> is_caption_leg("lc-agent-0a1b2c3d4e5f"), is_caption_leg("sp-0a1b")
    (True, False)
    """
    return bool(uniqueid) and uniqueid.startswith("lc-")
