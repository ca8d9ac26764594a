# -*- test-case-name: tests.tickets.test_schemas -*-
"""What a ticket can be: kinds, statuses, intake channels, and validation of intake payloads.

No web framework yet: ``load_intake`` turns a plain mapping (JSON body, AGI variables, command
line) into an ``IntakeRequest`` or raises ``InvalidIntake`` naming every bad field at once.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline import phone
from hotline.channels import CHANNELS, PHONE_CHANNELS, Channel, register_channel
from hotline.tickets.exceptions import InvalidIntake

__all__ = ["TicketKind", "TicketStatus", "OPEN_STATUSES", "Channel", "CHANNELS", "PHONE_CHANNELS",
           "register_channel", "IntakeRequest", "load_intake", "ticket_summary", "text_field",
           "number_field", "KIND_LABELS", "STATUS_LABELS", "DISPATCH_QUEUE", "WITH_DEPARTMENT",
           "BadPromise", "promised_reply_time"]


class TicketKind(enum.StrEnum):
    """The five kinds of request the district counts separately."""

    COMPLAINT = "complaint"          # 投诉
    HELP = "help"                    # 求助
    CONSULTATION = "consultation"    # 咨询
    SUGGESTION = "suggestion"        # 建议
    PRAISE = "praise"                # 表扬


class TicketStatus(enum.StrEnum):
    """Where a ticket is in 接-派-办-评; the allowed moves are in ``service.TRANSITIONS``."""

    RECEIVED = "received"        # 受理
    DISPATCHED = "dispatched"    # 派单
    HANDLING = "handling"        # 办理
    REPLIED = "replied"          # 回复
    FOLLOWED_UP = "followed_up"  # 回访
    CLOSED = "closed"            # 办结
    REOPENED = "reopened"        # 重办
    MERGED = "merged"            # 合并 (into another ticket; final)
    RETURNED = "returned"        # 退单 (the department handed it back to the dispatcher)


#: Statuses in which a ticket still needs work: what the agent sees as "open" for a caller.
OPEN_STATUSES: frozenset[str] = frozenset({
    TicketStatus.RECEIVED, TicketStatus.DISPATCHED, TicketStatus.HANDLING,
    TicketStatus.REPLIED, TicketStatus.FOLLOWED_UP, TicketStatus.REOPENED,
    TicketStatus.RETURNED})
#: The dispatcher's queue (派单): tickets waiting for a department to be chosen, or chosen again.
DISPATCH_QUEUE: tuple[str, ...] = (TicketStatus.RECEIVED, TicketStatus.RETURNED,
                                   TicketStatus.REOPENED)
#: With a department, on its clock: a department's worklist and the 督办 list.
WITH_DEPARTMENT: tuple[str, ...] = (TicketStatus.DISPATCHED, TicketStatus.HANDLING,
                                    TicketStatus.REOPENED)

STATUS_LABELS: dict[str, str] = {
    TicketStatus.RECEIVED: "已受理", TicketStatus.DISPATCHED: "已派单",
    TicketStatus.HANDLING: "办理中", TicketStatus.REPLIED: "已回复",
    TicketStatus.FOLLOWED_UP: "已回访", TicketStatus.CLOSED: "已办结",
    TicketStatus.REOPENED: "重办", TicketStatus.MERGED: "已合并", TicketStatus.RETURNED: "已退单"}
KIND_LABELS: dict[str, str] = {
    TicketKind.COMPLAINT: "投诉", TicketKind.HELP: "求助", TicketKind.CONSULTATION: "咨询",
    TicketKind.SUGGESTION: "建议", TicketKind.PRAISE: "表扬"}


_MAX = {"description": 10_000, "category": 50, "address": 200, "citizen_name": 50,
        "actor": 50, "grid": 32, "department": 32, "call_uniqueid": 64}


@dataclass(frozen=True)
class IntakeRequest:
    """A validated request for a new ticket; phone already normalised, times aware UTC."""

    channel: str
    kind: TicketKind
    description: str
    phone: str | None = None
    citizen_name: str | None = None
    category: str | None = None
    address: str | None = None
    grid: str | None = None
    department: str | None = None
    promised_reply_at: dt.datetime | None = None
    call_uniqueid: str | None = None
    #: Where the problem is (WGS-84); a ticket without a grid is placed by it (hotline.grid).
    latitude: float | None = None
    longitude: float | None = None


def text_field(payload: Mapping[str, Any], field: str, problems: dict[str, str], *,
               limit: int = 200, required: bool = False) -> str | None:
    """``payload[field]`` as stripped text of at most ``limit`` characters; None when absent
    or blank. What is wrong goes into ``problems`` under ``field`` (so every field is checked
    before anything is refused)."""
    value = payload.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems[field] = "is required"
        return None
    if not isinstance(value, str):
        problems[field] = f"must be text, got {type(value).__name__}"
        return None
    value = value.strip()
    if len(value) > limit:
        problems[field] = f"is {len(value)} characters; at most {limit}"
        return None
    return value


def number_field(payload: Mapping[str, Any], field: str, lo: float, hi: float,
                 problems: dict[str, str]) -> float | None:
    """``payload[field]`` as a number within [lo, hi]; None when absent (see text_field)."""
    value = payload.get(field)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems[field] = "must be a decimal number"
        return None
    if not lo <= number <= hi:
        problems[field] = f"must be between {lo:g} and {hi:g}"
        return None
    return number


def _text(payload: Mapping[str, Any], field: str, problems: dict[str, str],
          required: bool = False) -> str | None:
    return text_field(payload, field, problems, limit=_MAX.get(field, 200), required=required)


def parse_time(value: Any) -> dt.datetime:
    """An aware datetime from a datetime or ISO 8601 text; naive or zone-less input is refused
    because guessing the zone of a promised reply time would break a promise."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if not isinstance(value, dt.datetime):
        raise ValueError(f"must be a time, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("has no time zone (write e.g. 2026-11-27T17:00+08:00)")
    return value.astimezone(dt.UTC)


class BadPromise(ValueError):
    """A promised reply time that cannot be kept: not a time, no zone, or not in the future."""


def promised_reply_time(value: Any, *, now: dt.datetime,
                        zone: dt.tzinfo | None = None) -> dt.datetime:
    """The one check of a promised reply time (定时回复), wherever it is typed: the desk's form,
    ``hotline callbacks promise --at`` and L{TicketService.set_promised_reply} under it.

    @param value: a datetime or ISO 8601 text.
    @param zone: the zone of a time written without one (what an agent typed is site-local);
        None refuses such a time, because guessing its zone would break a promise.
    @return: the time in UTC.
    @raise BadPromise: saying what is wrong, in words for the person who typed it.
    """
    if isinstance(value, dt.datetime) and value.tzinfo is None and zone is not None:
        value = value.replace(tzinfo=zone)
    elif isinstance(value, str) and zone is not None:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise BadPromise(f"{value!r} is not an ISO time (2026-11-27T17:00)") from None
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    try:
        at = parse_time(value)
    except ValueError as e:
        raise BadPromise(str(e)) from None
    if at <= now:
        raise BadPromise(f"the promised reply time {at.isoformat()} is in the past")
    return at


def load_intake(payload: Mapping[str, Any]) -> IntakeRequest:
    """Validate an intake payload. Raises InvalidIntake listing every problem found."""
    problems: dict[str, str] = {}
    unknown = sorted(set(payload) - {f for f in IntakeRequest.__dataclass_fields__})
    for field in unknown:
        problems[field] = "is not a ticket field"
    channel = _text(payload, "channel", problems, required=True)
    if channel is not None and channel not in CHANNELS:
        problems["channel"] = f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})"
    kind_text = _text(payload, "kind", problems, required=True)
    kind = None
    if kind_text is not None:
        try:
            kind = TicketKind(kind_text)
        except ValueError:
            problems["kind"] = (f"unknown kind {kind_text!r} "
                                f"(one of {', '.join(k.value for k in TicketKind)})")
    description = _text(payload, "description", problems, required=True)
    raw_phone = payload.get("phone")
    number = None
    if raw_phone not in (None, ""):
        try:
            number = phone.normalise(str(raw_phone))
        except phone.InvalidPhoneNumber as e:
            problems["phone"] = str(e)
    elif channel in CHANNELS and CHANNELS[channel].requires_phone:
        problems["phone"] = f"is required for channel {channel!r}"
    promised = None
    if payload.get("promised_reply_at") not in (None, ""):
        try:
            promised = parse_time(payload["promised_reply_at"])
        except ValueError as e:
            problems["promised_reply_at"] = str(e)
    fields = {f: _text(payload, f, problems) for f in
              ("citizen_name", "category", "address", "grid", "department", "call_uniqueid")}
    position = {f: number_field(payload, f, -limit, limit, problems)
                for f, limit in (("latitude", 90.0), ("longitude", 180.0))}
    if (position["latitude"] is None) != (position["longitude"] is None) \
            and not problems.keys() & position.keys():
        problems["latitude"] = "latitude and longitude go together"
    if problems:
        raise InvalidIntake(problems)
    assert channel is not None and kind is not None and description is not None
    return IntakeRequest(channel=channel, kind=kind, description=description, phone=number,
                         promised_reply_at=promised, **fields, **position)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_summary(ticket: Any) -> dict[str, Any]:
    """A ticket as the JSON API and the console's push events show it (phone masked)."""
    return {
        "id": ticket.id, "number": ticket.number, "kind": ticket.kind,
        "channel": ticket.channel, "status": ticket.status, "category": ticket.category,
        "address": ticket.address, "description": ticket.description,
        "department": ticket.department.code if ticket.department else None,
        "incident_id": ticket.incident_id,
        "citizen_phone": ticket.citizen.masked_phone if ticket.citizen else None,
        "promised_reply_at": ticket.promised_reply_at.isoformat()
        if ticket.promised_reply_at else None,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "version": ticket.version,
        "clock_started_at": _iso(ticket.clock_started_at), "due_at": _iso(ticket.due_at),
        "first_contact_due_at": _iso(ticket.first_contact_due_at),
        "first_contacted_at": _iso(ticket.first_contacted_at),
        "reopen_count": ticket.reopen_count,
        "needs_completion": bool(ticket.needs_completion),
        "latitude": ticket.latitude, "longitude": ticket.longitude,
    }
