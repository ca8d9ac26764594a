# -*- test-case-name: tests.tickets.test_duplicates -*-
"""Possible duplicates at intake: while the agent types, the open tickets that may be the same
problem, and the caller's own open tickets (一人多诉).

A candidate shares the intake's category and grid (or, without a grid, its category) and was
filed within ``days``. The rows are read through ``ix_ticket_grid_category_created`` (or
``ix_ticket_category_created``) newest first and at most ``scan`` of them, so one check costs the
same at a thousand tickets as at a million; they are then ranked by the similarity of their
content: the Dice coefficient of character bigrams, which needs no tokenizer for Chinese (a
burst pipe on 胜利路 reads 胜利 利路 路水 ...), weighted with the same address.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from db.models import Citizen, Grid, Ticket
from hotline import phone as phones
from hotline.tickets.exceptions import InvalidRequest
from hotline.tickets.schemas import OPEN_STATUSES, number_field, text_field

__all__ = ["DuplicateQuery", "Candidate", "Duplicates", "find_duplicates", "grams",
           "similarity", "load_query", "duplicate_settings"]

#: What a bigram is made of: letters and digits of any script (punctuation and spaces split).
_WORD = re.compile(r"\w+")
#: The share of the score that the same address carries (a text alone rarely says which
#: building); the rest is the content's similarity.
ADDRESS_WEIGHT = 0.3
_OPEN = sorted(str(s) for s in OPEN_STATUSES)


def duplicate_settings(config: Any) -> dict[str, Any]:
    """``days`` and ``limit`` of the duplicate check from ``[tickets]`` (duplicate_days,
    duplicate_limit), as ``find_duplicates`` and ``TicketService.duplicates`` take them."""
    settings = config["tickets"]
    return {"days": float(settings["duplicate_days"]), "limit": int(settings["duplicate_limit"])}


def grams(text: str | None) -> frozenset[str]:
    """The character bigrams of ``text`` (NFKC, lower case), within runs of letters and
    digits; a run of one character is its own gram."""
    if not text:
        return frozenset()
    out: set[str] = set()
    for run in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        if len(run) == 1:
            out.add(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return frozenset(out)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice's coefficient of two gram sets: 1 for the same text, 0 for nothing shared."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass(frozen=True)
class DuplicateQuery:
    """What the agent has typed so far; every field may still be blank."""

    category: str | None = None
    grid: str | None = None
    address: str | None = None
    description: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    #: A ticket's own page asks for its duplicates: leave the ticket itself out.
    exclude_ticket_id: int | None = None


def load_query(payload: Any) -> DuplicateQuery:
    """The query from a JSON body or a command's options. Raises InvalidRequest naming the
    field for a wrong type or length, or a phone number that is not one."""
    if not isinstance(payload, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, longest in (("category", 50), ("grid", 32), ("address", 200),
                          ("description", 10_000)):
        value = text_field(payload, name, errors, limit=longest)
        if value is not None:
            values[name] = value
    raw_phone = payload.get("phone")
    if raw_phone not in (None, ""):
        try:
            values["phone"] = phones.normalise(str(raw_phone))
        except phones.InvalidPhoneNumber as e:
            errors["phone"] = str(e)
    for name, bound in (("latitude", 90), ("longitude", 180)):
        value = number_field(payload, name, -bound, bound, errors)
        if value is not None:
            values[name] = value
    if errors:
        raise InvalidRequest(errors)
    return DuplicateQuery(**values)


@dataclass(frozen=True)
class Candidate:
    """One open ticket that may be the same problem, as the desk shows it (no personal data)."""

    id: int
    number: str
    status: str
    kind: str
    category: str | None
    grid: str | None
    address: str | None
    description: str
    created_at: str
    #: 0..1: the content's similarity (0.7) and the same address (0.3).
    score: float
    #: same_grid, same_category, own (the caller's own open ticket).
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Duplicates:
    """The candidates, best first, and the caller's own open tickets, newest first."""

    candidates: list[Candidate] = field(default_factory=list)
    own: list[Candidate] = field(default_factory=list)
    #: The grid the candidates were looked for in (given, or placed from the address).
    grid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"grid": self.grid, "candidates": [c.to_dict() for c in self.candidates],
                "own_open_tickets": [c.to_dict() for c in self.own]}


_COLUMNS = (Ticket.id, Ticket.number, Ticket.status, Ticket.kind, Ticket.category,
            Ticket.grid_id, Ticket.address, Ticket.description, Ticket.created_at)


def find_duplicates(session: Session, query: DuplicateQuery, *, now: dt.datetime,
                    days: float = 7, limit: int = 10, scan: int = 500,
                    locator: Any = None) -> Duplicates:
    """The possible duplicates of ``query`` (see the module's docstring). ``locator`` (a
    ``GridPlacer``) places a query without a grid by its coordinates or address. Reads only."""
    # Two statements in all (a round trip costs more than the work on a busy server): the
    # grid's and the caller's ids, then the candidates and the caller's own open tickets.
    grid_id = citizen_id = None
    grid_code = query.grid
    if query.grid or query.phone:
        grid_id, citizen_id = session.execute(select(
            select(Grid.id).where(Grid.code == query.grid).scalar_subquery()
            if query.grid else literal(None),
            select(Citizen.id).where(Citizen.phone == query.phone).scalar_subquery()
            if query.phone else literal(None))).one()
        if query.grid and grid_id is None:
            raise InvalidRequest({"grid": f"no grid {query.grid}"})
    if grid_id is None and locator is not None and (query.latitude is not None
                                                    or query.address):
        placed = locator.place(session, latitude=query.latitude, longitude=query.longitude,
                               address=query.address)
        if placed is not None:
            grid_id = placed.grid_id
            grid_code = session.scalar(select(Grid.code).where(Grid.id == grid_id))
    others = [Ticket.id != query.exclude_ticket_id] if query.exclude_ticket_id else []
    parts = []
    if query.category:
        parts.append(select(select(literal("candidate").label("src"), *_COLUMNS)
                            .where(*([Ticket.grid_id == grid_id] if grid_id is not None else []),
                                   Ticket.category == query.category,
                                   Ticket.created_at >= now - dt.timedelta(days=days),
                                   Ticket.status.in_(_OPEN), *others)
                            .order_by(Ticket.created_at.desc()).limit(scan).subquery()))
    if citizen_id is not None:
        parts.append(select(select(literal("own").label("src"), *_COLUMNS)
                            .where(Ticket.citizen_id == citizen_id, Ticket.status.in_(_OPEN),
                                   *others)
                            .order_by(Ticket.created_at.desc()).limit(limit).subquery()))
    if not parts:
        return Duplicates([], [], grid_code)
    found = session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all()
    codes: dict[int, str] = {grid_id: grid_code} if grid_id is not None and grid_code else {}
    ids = {row.grid_id for row in found if row.grid_id is not None} - set(codes)
    if ids:  # the caller's own tickets elsewhere
        codes.update(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(ids))).all())
    wanted = grams(query.description)
    address = _address_key(query.address)
    scored = []
    for row in (r for r in found if r.src == "candidate"):
        score = (1 - ADDRESS_WEIGHT) * similarity(wanted, grams(row.description))
        if address and _address_key(row.address) == address:
            score += ADDRESS_WEIGHT
        scored.append((score, _when(row.created_at), row))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    reason = "same_grid" if grid_id is not None else "same_category"
    candidates = [_candidate(row, score, reason, codes) for score, _, row in scored[:limit]]
    own = sorted((r for r in found if r.src == "own"), key=lambda r: _when(r.created_at),
                 reverse=True)
    return Duplicates(candidates, [_candidate(row, similarity(wanted, grams(row.description)),
                                              "own", codes) for row in own], grid_code)


def _when(value: Any) -> dt.datetime:
    """A time from a Core row: SQLite gives text through a union, and naive times."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _address_key(address: str | None) -> str:
    return "".join(address.split()).lower() if address else ""


def _candidate(row: Any, score: float, reason: str, codes: dict[int, str]) -> Candidate:
    text = row.description or ""
    return Candidate(row.id, row.number, row.status, row.kind, row.category,
                     codes.get(row.grid_id), row.address,
                     text if len(text) <= 200 else text[:200] + "…",
                     _when(row.created_at).isoformat(), round(score, 3), reason)
