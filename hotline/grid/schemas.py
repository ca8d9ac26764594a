# -*- test-case-name: tests.grid.test_schemas -*-
"""What the map and the grid workers' records can be (levels, visit subjects, task statuses and
results) and validation of what a phone sends: ``load_report``, ``load_visit``, ``load_answer``,
``load_log`` turn a plain mapping into a request or raise ``InvalidInput`` naming every bad
field at once."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline.grid.exceptions import InvalidInput
from hotline.tickets.schemas import TicketKind, number_field, text_field

__all__ = ["AreaLevel", "LEVEL_LABELS", "VisitSubject", "TaskStatus", "TaskResult",
           "RESULT_LABELS", "REPORT_CATEGORIES", "ReportRequest", "VisitRequest",
           "AnswerRequest", "LogRequest", "load_report", "load_visit", "load_answer",
           "load_log", "check_key"]


class AreaLevel(enum.StrEnum):
    """A level of the map hierarchy, top down; the value is what map files say."""

    STREET = "street"        # 街道
    COMMUNITY = "community"  # 社区
    GRID = "grid"            # 网格 (level 1)
    SUB_GRID = "sub_grid"    # 子网格 (level 2)

    @property
    def parent(self) -> AreaLevel | None:
        """The level above (None for a street)."""
        order = list(AreaLevel)
        i = order.index(self)
        return order[i - 1] if i else None

    @property
    def child(self) -> AreaLevel | None:
        """The level below (None for a sub-grid)."""
        order = list(AreaLevel)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


LEVEL_LABELS: dict[str, str] = {AreaLevel.STREET: "街道", AreaLevel.COMMUNITY: "社区",
                                AreaLevel.GRID: "网格", AreaLevel.SUB_GRID: "子网格"}


class VisitSubject(enum.StrEnum):
    """Whom a visit (走访) was to."""

    HOUSEHOLD = "household"    # 住户
    KEY_PERSON = "key_person"  # 重点人员


class TaskStatus(enum.StrEnum):
    """Where a verification task (核实) is."""

    OPEN = "open"            # 待核实
    ANSWERED = "answered"    # 已反馈
    CANCELLED = "cancelled"  # 已撤销


class TaskResult(enum.StrEnum):
    """What the grid worker found on site."""

    CONFIRMED = "confirmed"  # 属实
    NOT_FOUND = "not_found"  # 不属实
    RESOLVED = "resolved"    # 已解决


RESULT_LABELS: dict[str, str] = {TaskResult.CONFIRMED: "属实", TaskResult.NOT_FOUND: "不属实",
                                 TaskResult.RESOLVED: "现场已解决"}

#: What grid workers most often find walking their grid (the form offers these; other text is
#: allowed up to 50 characters).
REPORT_CATEGORIES: tuple[str, ...] = ("市容环境", "道路设施", "违章搭建", "噪声扰民", "安全隐患",
                                      "占道经营", "绿化养护", "供水排水", "其他")

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_MAX = {"description": 5000, "category": 50, "address": 200, "visitee": 100, "notes": 5000,
        "answer": 5000, "text": 20000}
#: A report made on the phone is not accepted from further back than this (a phone whose clock
#: is wrong, or a queue forgotten for a month, must not rewrite history).
MAX_REPORT_AGE = dt.timedelta(days=7)
_CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class ReportRequest:
    """A problem found on a walk: becomes a ticket on the grid_worker channel."""

    key: str
    made_at: dt.datetime
    category: str
    description: str
    kind: TicketKind = TicketKind.HELP
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None


@dataclass(frozen=True)
class VisitRequest:
    key: str
    subject: VisitSubject
    visitee: str
    notes: str
    visited_at: dt.datetime
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class AnswerRequest:
    key: str
    result: TaskResult
    answer: str


@dataclass(frozen=True)
class LogRequest:
    text: str
    day: str | None = None


def check_key(value: Any, problems: dict[str, str], field: str = "key") -> str | None:
    """An idempotency key as the phone makes it (a UUID: 8-64 letters, digits, - and _)."""
    if not isinstance(value, str) or not _KEY.match(value):
        problems[field] = "must be 8-64 letters, digits, - or _ (the phone's idempotency key)"
        return None
    return value


def _text(payload: Mapping[str, Any], field: str, problems: dict[str, str],
          required: bool = False) -> str | None:
    return text_field(payload, field, problems, limit=_MAX.get(field, 200), required=required)


def _position(payload: Mapping[str, Any], problems: dict[str, str]
              ) -> tuple[float | None, float | None]:
    lat = number_field(payload, "latitude", -90, 90, problems)
    lon = number_field(payload, "longitude", -180, 180, problems)
    if (lat is None) != (lon is None) and "latitude" not in problems \
            and "longitude" not in problems:
        problems["latitude"] = "latitude and longitude go together"
    return lat, lon


def _time(payload: Mapping[str, Any], field: str, problems: dict[str, str],
          now: dt.datetime) -> dt.datetime | None:
    value = payload.get(field)
    if value in (None, ""):
        return now
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems[field] = "must be an ISO 8601 time"
        return None
    if when.tzinfo is None:
        problems[field] = "needs a time zone (the phone sends UTC: ...Z)"
        return None
    when = when.astimezone(dt.UTC)
    if when > now + _CLOCK_SKEW:
        problems[field] = "is in the future (is the phone's clock right?)"
        return None
    if when < now - MAX_REPORT_AGE:
        problems[field] = f"is more than {MAX_REPORT_AGE.days} days ago"
        return None
    return when


def load_report(payload: Mapping[str, Any], *, now: dt.datetime) -> ReportRequest:
    """A report from the phone (key, made_at, category, description, kind, latitude,
    longitude, address). Raises InvalidInput listing every problem."""
    problems: dict[str, str] = {}
    key = check_key(payload.get("key"), problems)
    made_at = _time(payload, "made_at", problems, now)
    category = _text(payload, "category", problems, required=True)
    description = _text(payload, "description", problems, required=True)
    kind = TicketKind.HELP
    if payload.get("kind") not in (None, ""):
        try:
            kind = TicketKind(str(payload["kind"]))
        except ValueError:
            problems["kind"] = f"one of {', '.join(k.value for k in TicketKind)}"
    lat, lon = _position(payload, problems)
    address = _text(payload, "address", problems)
    if lat is None and address is None and not problems.keys() & {"latitude", "longitude"}:
        problems["latitude"] = "a position is required: allow the location, or write an address"
    if problems:
        raise InvalidInput(problems)
    assert key and made_at and category and description
    return ReportRequest(key=key, made_at=made_at, category=category, description=description,
                         kind=kind, latitude=lat, longitude=lon, address=address)


def load_visit(payload: Mapping[str, Any], *, now: dt.datetime) -> VisitRequest:
    """A visit record (key, subject, visitee, notes, visited_at, latitude, longitude)."""
    problems: dict[str, str] = {}
    key = check_key(payload.get("key"), problems)
    subject = None
    try:
        subject = VisitSubject(str(payload.get("subject") or ""))
    except ValueError:
        problems["subject"] = f"one of {', '.join(s.value for s in VisitSubject)}"
    visitee = _text(payload, "visitee", problems, required=True)
    notes = _text(payload, "notes", problems, required=True)
    visited_at = _time(payload, "visited_at", problems, now)
    lat, lon = _position(payload, problems)
    if problems:
        raise InvalidInput(problems)
    assert key and subject and visitee and notes and visited_at
    return VisitRequest(key=key, subject=subject, visitee=visitee, notes=notes,
                        visited_at=visited_at, latitude=lat, longitude=lon)


def load_answer(payload: Mapping[str, Any]) -> AnswerRequest:
    """A verification answer (key, result, answer)."""
    problems: dict[str, str] = {}
    key = check_key(payload.get("key"), problems)
    result = None
    try:
        result = TaskResult(str(payload.get("result") or ""))
    except ValueError:
        problems["result"] = f"one of {', '.join(r.value for r in TaskResult)}"
    answer = _text(payload, "answer", problems, required=True)
    if problems:
        raise InvalidInput(problems)
    assert key and result and answer
    return AnswerRequest(key=key, result=result, answer=answer)


def load_log(payload: Mapping[str, Any]) -> LogRequest:
    """A daily log (text; day YYYY-MM-DD, default today)."""
    problems: dict[str, str] = {}
    text = _text(payload, "text", problems, required=True)
    day = payload.get("day") or None
    if day is not None:
        try:
            day = dt.date.fromisoformat(str(day)).isoformat()
        except ValueError:
            problems["day"] = "must be a date, YYYY-MM-DD"
    if problems:
        raise InvalidInput(problems)
    assert text
    return LogRequest(text=text, day=day)
