# -*- test-case-name: tests.tickets.test_service -*-
"""The ticket service: intake, the 接-派-办-评 lifecycle, timed replies, incidents, caller lookup.

Every method takes the caller's ``Session`` and never commits: the unit of work belongs to the
caller (``Database.run`` on the reactor side, ``begin()`` in jobs and commands). A method that
raises a ``TicketError`` has changed nothing it is responsible for; the caller's rollback
discards anything else. Every status change writes one ``TicketEvent``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import (
    Call,
    Callback,
    Citizen,
    Department,
    Grid,
    Incident,
    Ticket,
    TicketEvent,
    TicketSequence,
    utcnow,
)
from hotline import phone
from hotline.tickets.exceptions import (
    IllegalTransition,
    IncidentMismatch,
    NoSuchDepartment,
    NoSuchGrid,
    NoSuchIncident,
    NoSuchTicket,
    TicketError,
)
from hotline.tickets.schemas import (
    OPEN_STATUSES,
    BadPromise,
    IntakeRequest,
    TicketStatus,
    load_intake,
    promised_reply_time,
)

__all__ = ["citizen_id_for", "TicketService", "TRANSITIONS", "IncidentProposal", "CallerInfo", "TicketSummary",
           "lookup_caller", "get_or_create_citizen"]

S = TicketStatus

#: action → (statuses it is allowed from, status it leads to). The whole lifecycle in one place.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    # A ticket may be re-dispatched when the first department hands it back.
    "dispatch": (frozenset({S.RECEIVED, S.REOPENED, S.DISPATCHED}), S.DISPATCHED),
    "start_handling": (frozenset({S.DISPATCHED}), S.HANDLING),
    # From received/reopened: the agent answered it on the spot (most consultations).
    "reply": (frozenset({S.RECEIVED, S.HANDLING, S.REOPENED}), S.REPLIED),
    "follow_up": (frozenset({S.REPLIED}), S.FOLLOWED_UP),
    "close": (frozenset({S.REPLIED, S.FOLLOWED_UP}), S.CLOSED),
    "reopen": (frozenset({S.REPLIED, S.FOLLOWED_UP, S.CLOSED}), S.REOPENED),
    "merge": (frozenset({S.RECEIVED, S.DISPATCHED, S.HANDLING, S.REOPENED}), S.MERGED),
}

#: Statuses in which a ticket may join an incident (it still needs handling).
_GROUPABLE = frozenset({S.RECEIVED, S.DISPATCHED, S.HANDLING, S.REOPENED})


def _insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> None:
    """INSERT that does nothing when a unique key already exists (two nodes racing to create
    the same citizen or day counter must both succeed)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def citizen_id_for(session: Session, number: str) -> int:
    """The id of the citizen with normalised phone ``number``, created if new, in one
    statement when it is new (INSERT ... RETURNING; another node's concurrent insert wins and
    is read back). For the per-call path, which needs the id and not the object."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    made = session.execute(insert(Citizen).values(phone=number, name=None, created_at=utcnow())
                           .on_conflict_do_nothing().returning(Citizen.id)).scalar()
    if made is not None:
        return made
    return session.execute(select(Citizen.id).where(Citizen.phone == number)).scalar_one()


def get_or_create_citizen(session: Session, number: str, name: str | None = None) -> Citizen:
    """The citizen with normalised phone ``number``, created if new; a name fills a blank one."""
    citizen = session.scalars(select(Citizen).where(Citizen.phone == number)).one_or_none()
    if citizen is None:
        _insert_ignoring_conflict(session, Citizen, {"phone": number, "name": name,
                                                     "created_at": utcnow()})
        citizen = session.scalars(select(Citizen).where(Citizen.phone == number)).one()
    if name and not citizen.name:
        citizen.name = name
    return citizen


@dataclass(frozen=True)
class IncidentProposal:
    """Open tickets that look like one event: same kind and category, same grid or address."""

    kind: str
    category: str | None
    grid_id: int | None
    address: str | None
    ticket_ids: tuple[int, ...]


class TicketService:
    """The rules of tickets; stateless apart from its settings, so one instance is shared.

    ``clock`` returns the current aware UTC time (tests pass a fixed one); ``timezone`` is the
    site's zone, which dates ticket numbers; ``incident_window`` is how close in time similar
    tickets must be to be proposed as one incident.
    """

    NUMBER_PREFIX = "RX"

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow,
                 timezone: str = "Asia/Shanghai",
                 incident_window: dt.timedelta = dt.timedelta(hours=72)) -> None:
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.incident_window = incident_window

    # -- reading ---------------------------------------------------------------------------------

    def get(self, session: Session, ticket_id: int) -> Ticket:
        """The ticket with this id. Raises NoSuchTicket."""
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NoSuchTicket(ticket_id)
        return ticket

    def get_by_number(self, session: Session, number: str) -> Ticket:
        """The ticket with this number (RX20261126-000123). Raises NoSuchTicket."""
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one_or_none()
        if ticket is None:
            raise NoSuchTicket(number)
        return ticket

    # -- intake ----------------------------------------------------------------------------------

    def intake(self, session: Session, request: IntakeRequest | Mapping[str, Any], *,
               actor: str) -> Ticket:
        """Accept a new ticket from any channel; returns it flushed (id and number set).

        ``request`` is an ``IntakeRequest`` or a payload for ``load_intake``. The citizen is
        found or created by phone; a grid or department code must exist; a call uniqueid links
        the call row to the ticket. Raises InvalidIntake, NoSuchGrid, NoSuchDepartment.
        """
        if not isinstance(request, IntakeRequest):
            request = load_intake(request)
        now = self.clock()
        grid = self._grid(session, request.grid) if request.grid else None
        department = self._department(session, request.department) if request.department \
            else None
        citizen = get_or_create_citizen(session, request.phone, request.citizen_name) \
            if request.phone else None
        ticket = Ticket(
            number=self._next_number(session, now), kind=request.kind.value,
            channel=request.channel, status=S.RECEIVED.value, category=request.category,
            grid=grid, address=request.address, description=request.description,
            citizen=citizen, department=department,
            promised_reply_at=request.promised_reply_at, created_at=now, updated_at=now)
        session.add(ticket)
        self._event(ticket, now, actor, "intake", None, S.RECEIVED, request.description)
        if request.promised_reply_at is not None:
            self._ensure_callback(session, ticket, request.promised_reply_at, now)
        if request.call_uniqueid:
            call = session.scalars(
                select(Call).where(Call.uniqueid == request.call_uniqueid)).one_or_none()
            if call is not None:
                call.ticket = ticket
        session.flush()
        return ticket

    def _next_number(self, session: Session, now: dt.datetime) -> str:
        """RX + the site-local date + a per-day counter; the counter row is locked by the
        UPDATE, so two controllers on one PostgreSQL never hand out the same number."""
        day = now.astimezone(self.zone).strftime("%Y%m%d")
        _insert_ignoring_conflict(session, TicketSequence, {"day": day, "last_value": 0})
        value = session.execute(
            update(TicketSequence).where(TicketSequence.day == day)
            .values(last_value=TicketSequence.last_value + 1)
            .returning(TicketSequence.last_value)).scalar_one()
        return f"{self.NUMBER_PREFIX}{day}-{value:06d}"

    # -- lifecycle -------------------------------------------------------------------------------

    def dispatch(self, session: Session, ticket_id: int, *, department: str, actor: str,
                 text: str | None = None) -> Ticket:
        """Send the ticket to a department (派单) by department code."""
        target = self._department(session, department)
        ticket = self.get(session, ticket_id)
        self._check("dispatch", [ticket])
        ticket.department = target
        return self._move(ticket, "dispatch", actor, text or f"→ {target.code} {target.name}")

    def start_handling(self, session: Session, ticket_id: int, *, actor: str,
                       text: str | None = None) -> Ticket:
        """The department has taken the ticket up (办理)."""
        return self._act(session, ticket_id, "start_handling", actor, text)

    def reply(self, session: Session, ticket_id: int, *, actor: str, text: str) -> Ticket:
        """Record the answer given to the citizen (回复); the answer text is required."""
        if not text or not text.strip():
            raise TicketError("a reply needs its text", {"field": "text"})
        return self._act(session, ticket_id, "reply", actor, text)

    def follow_up(self, session: Session, ticket_id: int, *, actor: str,
                  text: str | None = None) -> Ticket:
        """The citizen was asked how it went (回访)."""
        return self._act(session, ticket_id, "follow_up", actor, text)

    def close(self, session: Session, ticket_id: int, *, actor: str,
              text: str | None = None) -> Ticket:
        """Close the ticket (办结); pending callbacks for it are cancelled."""
        ticket = self._act(session, ticket_id, "close", actor, text)
        self._cancel_callbacks(session, [ticket])
        return ticket

    def reopen(self, session: Session, ticket_id: int, *, actor: str, text: str) -> Ticket:
        """Reopen an answered or closed ticket (the citizen is not satisfied); why is required."""
        if not text or not text.strip():
            raise TicketError("reopening needs a reason", {"field": "text"})
        return self._act(session, ticket_id, "reopen", actor, text)

    def merge(self, session: Session, ticket_id: int, *, into: int, actor: str,
              text: str | None = None) -> Ticket:
        """Merge a duplicate into another open ticket; the duplicate ends as ``merged``."""
        ticket = self.get(session, ticket_id)
        target = self.get(session, into)
        if target.id == ticket.id:
            raise TicketError("a ticket cannot be merged into itself", {"ticket": ticket.number})
        if target.status in (S.MERGED, S.CLOSED):
            raise IllegalTransition("merge into", {target.number: target.status},
                                    sorted(OPEN_STATUSES))
        self._check("merge", [ticket])
        ticket.merged_into = target
        self._move(ticket, "merge", actor, text or f"merged into {target.number}")
        self._event(target, self.clock(), actor, "merged_in", None, None,
                    f"{ticket.number} merged into this ticket")
        self._cancel_callbacks(session, [ticket])
        return ticket

    def add_note(self, session: Session, ticket_id: int, *, actor: str, text: str) -> TicketEvent:
        """An event without a status change: a call note, a transcript, a bridge outcome."""
        ticket = self.get(session, ticket_id)
        now = self.clock()
        ticket.updated_at = now
        return self._event(ticket, now, actor, "note", None, None, text)

    def set_promised_reply(self, session: Session, ticket_id: int, at: dt.datetime, *,
                           actor: str, text: str | None = None) -> Ticket:
        """Set or change the timed reply (定时回复) and the pending callback that enforces it.

        Raises TicketError for a naive time or one in the past, IllegalTransition when the
        ticket is closed or merged.
        """
        now = self.clock()
        try:
            at = promised_reply_time(at, now=now)
        except BadPromise as e:
            raise TicketError(str(e), {"field": "at"}) from None
        ticket = self.get(session, ticket_id)
        if ticket.status in (S.CLOSED, S.MERGED):
            raise IllegalTransition("set promised reply", {ticket.number: ticket.status},
                                    sorted(OPEN_STATUSES))
        before = ticket.promised_reply_at
        ticket.promised_reply_at = at
        ticket.updated_at = now
        local = at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
        what = f"promised reply by {local}" if before is None else \
            f"promised reply moved to {local}"
        self._event(ticket, now, actor, "promise", None, None,
                    what + (f": {text}" if text else ""))
        self._ensure_callback(session, ticket, at, now)
        session.flush()
        return ticket

    def _act(self, session: Session, ticket_id: int, action: str, actor: str,
             text: str | None) -> Ticket:
        ticket = self.get(session, ticket_id)
        self._check(action, [ticket])
        return self._move(ticket, action, actor, text)

    def _check(self, action: str, tickets: Sequence[Ticket]) -> None:
        """Refuse the action unless it is legal for every ticket; nothing is changed before."""
        allowed, _ = TRANSITIONS[action]
        wrong = {t.number: t.status for t in tickets if t.status not in allowed}
        if wrong:
            raise IllegalTransition(action, wrong, sorted(allowed))

    def _move(self, ticket: Ticket, action: str, actor: str, text: str | None) -> Ticket:
        _, to_status = TRANSITIONS[action]
        now = self.clock()
        self._event(ticket, now, actor, action, ticket.status, to_status, text)
        ticket.status = str(to_status)
        ticket.updated_at = now
        return ticket

    @staticmethod
    def _event(ticket: Ticket, at: dt.datetime, actor: str, action: str,
               from_status: str | None, to_status: str | None, text: str | None) -> TicketEvent:
        event = TicketEvent(at=at, actor=actor, action=action,
                            from_status=str(from_status) if from_status else None,
                            to_status=str(to_status) if to_status else None, text=text)
        ticket.events.append(event)
        return event

    def _ensure_callback(self, session: Session, ticket: Ticket, due_at: dt.datetime,
                         now: dt.datetime) -> None:
        """One pending callback per ticket carries the promise; a new time moves it."""
        pending = None
        if ticket.id is not None:
            pending = session.scalars(
                select(Callback).where(Callback.ticket_id == ticket.id,
                                       Callback.status == "pending")).first()
        if pending is None:
            session.add(Callback(ticket=ticket, citizen=ticket.citizen, due_at=due_at,
                                 status="pending", attempts=0, created_at=now))
        else:
            pending.due_at = due_at

    @staticmethod
    def _cancel_callbacks(session: Session, tickets: Iterable[Ticket]) -> None:
        ids = [t.id for t in tickets]
        session.execute(update(Callback).where(Callback.ticket_id.in_(ids),
                                               Callback.status == "pending")
                        .values(status="cancelled"))

    def _department(self, session: Session, code: str) -> Department:
        department = session.scalars(
            select(Department).where(Department.code == code)).one_or_none()
        if department is None:
            raise NoSuchDepartment(code)
        return department

    def _grid(self, session: Session, code: str) -> Grid:
        grid = session.scalars(select(Grid).where(Grid.code == code)).one_or_none()
        if grid is None:
            raise NoSuchGrid(code)
        return grid

    # -- incidents -------------------------------------------------------------------------------

    def propose_incidents(self, session: Session, *,
                          now: dt.datetime | None = None) -> list[IncidentProposal]:
        """Groups of two or more open, ungrouped tickets of the same kind and category that
        share a grid or an address and arrived within ``incident_window`` before ``now``.

        Nothing is written: a supervisor confirms a proposal with ``confirm_incident``.
        """
        now = now or self.clock()
        rows = session.execute(
            select(Ticket.id, Ticket.kind, Ticket.category, Ticket.grid_id, Ticket.address)
            .where(Ticket.created_at >= now - self.incident_window, Ticket.created_at <= now,
                   Ticket.incident_id.is_(None), Ticket.category.is_not(None),
                   Ticket.status.in_([str(s) for s in _GROUPABLE]))
            .order_by(Ticket.id)).all()
        return _group_similar(rows)

    def similar_tickets(self, session: Session, ticket_id: int) -> list[Ticket]:
        """Open tickets like this one (same kind and category, same grid or address) within
        the incident window either side of it: what the agent sees while filling a ticket."""
        ticket = self.get(session, ticket_id)
        place = []
        if ticket.grid_id is not None:
            place.append(Ticket.grid_id == ticket.grid_id)
        if ticket.address:
            place.append(func.lower(func.trim(Ticket.address)) == _address_key(ticket.address))
        if not place or ticket.category is None:
            return []
        return list(session.scalars(
            select(Ticket).where(
                Ticket.id != ticket.id, Ticket.kind == ticket.kind,
                Ticket.category == ticket.category, or_(*place),
                Ticket.status.in_([str(s) for s in _GROUPABLE]),
                Ticket.created_at.between(ticket.created_at - self.incident_window,
                                          ticket.created_at + self.incident_window))
            .order_by(Ticket.created_at)))

    def confirm_incident(self, session: Session, ticket_ids: Sequence[int], *, actor: str,
                         title: str | None = None) -> Incident:
        """A supervisor groups tickets into one incident (usually a proposal's ``ticket_ids``).

        Raises IncidentMismatch when fewer than two tickets are given, when their kinds or
        categories differ, or when one is already in an incident or no longer open.
        """
        ids = list(dict.fromkeys(ticket_ids))
        if len(ids) < 2:
            raise IncidentMismatch("an incident needs at least two tickets",
                                   {"tickets": ids})
        tickets = [self.get(session, i) for i in ids]
        kinds = {(t.kind, t.category) for t in tickets}
        if len(kinds) != 1:
            raise IncidentMismatch("tickets of different kinds or categories cannot form one "
                                   "incident", {"tickets": {t.number: f"{t.kind}/{t.category}"
                                                            for t in tickets}})
        grouped = [t.number for t in tickets if t.incident_id is not None]
        if grouped:
            raise IncidentMismatch("tickets already belong to an incident",
                                   {"tickets": grouped})
        closed = {t.number: t.status for t in tickets if t.status not in _GROUPABLE}
        if closed:
            raise IncidentMismatch("only tickets still being handled can be grouped",
                                   {"tickets": closed})
        first = tickets[0]
        now = self.clock()
        incident = Incident(
            title=title or f"{first.category} ({len(tickets)} tickets)", kind=first.kind,
            category=first.category, grid_id=first.grid_id, address=first.address,
            status="open", confirmed_by=actor, confirmed_at=now)
        session.add(incident)
        session.flush()
        for t in tickets:
            t.incident = incident
            t.updated_at = now
            self._event(t, now, actor, "incident", None, None,
                        f"grouped into incident {incident.id}: {incident.title}")
        session.flush()
        return incident

    def get_incident(self, session: Session, incident_id: int) -> Incident:
        """The incident with this id. Raises NoSuchIncident."""
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NoSuchIncident(incident_id)
        return incident

    def _incident_tickets(self, session: Session, incident_id: int) -> list[Ticket]:
        incident = self.get_incident(session, incident_id)
        return [t for t in incident.tickets if t.status != S.MERGED]

    def dispatch_incident(self, session: Session, incident_id: int, *, department: str,
                          actor: str, text: str | None = None) -> list[Ticket]:
        """Dispatch every ticket of the incident to one department, all or none."""
        target = self._department(session, department)
        tickets = self._incident_tickets(session, incident_id)
        self._check("dispatch", tickets)
        for t in tickets:
            t.department = target
            self._move(t, "dispatch", actor, text or f"→ {target.code} {target.name} "
                       f"(incident {incident_id})")
        return tickets

    def reply_incident(self, session: Session, incident_id: int, *, actor: str,
                       text: str) -> list[Ticket]:
        """One answer reaching every citizen of the incident, all or none."""
        if not text or not text.strip():
            raise TicketError("a reply needs its text", {"field": "text"})
        tickets = self._incident_tickets(session, incident_id)
        self._check("reply", tickets)
        for t in tickets:
            self._move(t, "reply", actor, text)
        return tickets

    def close_incident(self, session: Session, incident_id: int, *, actor: str,
                       text: str | None = None) -> list[Ticket]:
        """Close every ticket of the incident and the incident itself, all or none."""
        incident = self.get_incident(session, incident_id)
        tickets = self._incident_tickets(session, incident_id)
        self._check("close", tickets)
        for t in tickets:
            self._move(t, "close", actor, text)
        self._cancel_callbacks(session, tickets)
        incident.status = "closed"
        return tickets


def _address_key(address: str) -> str:
    return address.strip().lower()


def _group_similar(rows: Sequence[Any]) -> list[IncidentProposal]:
    """Union tickets of one kind/category that share a grid or an address; keep groups ≥ 2."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_key: dict[tuple[Any, ...], int] = {}
    info = {}
    for row in rows:
        parent[row.id] = row.id
        info[row.id] = row
        keys = []
        if row.grid_id is not None:
            keys.append((row.kind, row.category, "grid", row.grid_id))
        if row.address:
            keys.append((row.kind, row.category, "address", _address_key(row.address)))
        for key in keys:
            if key in by_key:
                parent[find(row.id)] = find(by_key[key])
            else:
                by_key[key] = row.id
    groups: dict[int, list[int]] = {}
    for ticket_id in parent:
        groups.setdefault(find(ticket_id), []).append(ticket_id)
    proposals = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        first = info[members[0]]
        proposals.append(IncidentProposal(first.kind, first.category, first.grid_id,
                                          first.address, tuple(members)))
    proposals.sort(key=lambda p: p.ticket_ids[0])
    return proposals


# -- caller lookup (runs while the phone rings) ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class TicketSummary:
    """What the agent's screen shows of one ticket; plain data, safe to hand between threads."""

    id: int
    number: str
    kind: str
    channel: str
    status: str
    category: str | None
    created_at: dt.datetime
    promised_reply_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who is calling: the citizen (None if new), open tickets, recent history, repeat flag.

    ``phone`` is the normalised number ('' when the caller id was unusable); ``history`` is the
    most recent tickets of any status, newest first; ``open_tickets`` all tickets still needing
    work, newest first; ``repeat_caller`` is true when the citizen has an open ticket or one
    created within the repeat window.
    """

    phone: str
    masked_phone: str
    citizen_id: int | None
    citizen_name: str | None
    open_tickets: tuple[TicketSummary, ...]
    history: tuple[TicketSummary, ...]
    repeat_caller: bool

    @property
    def known(self) -> bool:
        return self.citizen_id is not None


_SUMMARY_COLUMNS = (Ticket.id, Ticket.number, Ticket.kind, Ticket.channel, Ticket.status,
                    Ticket.category, Ticket.created_at, Ticket.promised_reply_at)

# Built once: constructing a statement costs more than SQLite takes to run it, and a reused
# statement object hits SQLAlchemy's compiled cache directly. Bound at call time.
_CITIZEN_BY_PHONE = select(Citizen.id, Citizen.name).where(Citizen.phone == bindparam("phone"))
_CALLER_TICKETS = union_all(
    select(*_SUMMARY_COLUMNS).where(Ticket.citizen_id == bindparam("citizen_id"),
                                    Ticket.status.in_(sorted(str(s) for s in OPEN_STATUSES))),
    select(select(*_SUMMARY_COLUMNS).where(Ticket.citizen_id == bindparam("citizen_id"))
           .order_by(Ticket.created_at.desc()).limit(bindparam("history_limit"))
           .subquery()))


def lookup_caller(session: Session, caller_number: str, *, now: dt.datetime | None = None,
                  history_limit: int = 10,
                  repeat_window: dt.timedelta = dt.timedelta(days=30)) -> CallerInfo:
    """Everything the agent needs about a ringing number, in two indexed statements.

    Never raises for a bad caller id (withheld, garbage): the call must go on, so an unusable
    number gives an unknown caller. Reads only; safe on any pool thread.
    """
    try:
        number = phone.normalise(caller_number)
    except phone.InvalidPhoneNumber:
        return CallerInfo("", "", None, None, (), (), False)
    row = session.execute(_CITIZEN_BY_PHONE, {"phone": number}).first()
    if row is None:
        return CallerInfo(number, phone.mask(number), None, None, (), (), False)
    citizen_id, name = row
    rows = session.execute(_CALLER_TICKETS, {"citizen_id": citizen_id,
                                             "history_limit": history_limit}).all()
    seen: dict[int, TicketSummary] = {}
    for r in rows:
        if r[0] not in seen:
            seen[r[0]] = TicketSummary(*r)
    # Times via the Core union come back raw on SQLite; make them aware like the models do.
    tickets = [_aware(t) for t in seen.values()]
    tickets.sort(key=lambda t: t.created_at, reverse=True)
    open_tickets = tuple(t for t in tickets if t.status in OPEN_STATUSES)
    history = tuple(tickets[:history_limit])
    since = (now or utcnow()) - repeat_window
    repeat = bool(open_tickets) or any(t.created_at >= since for t in history)
    return CallerInfo(number, phone.mask(number), citizen_id, name, open_tickets, history, repeat)


def _aware(t: TicketSummary) -> TicketSummary:
    def fix(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    created, promised = fix(t.created_at), fix(t.promised_reply_at)
    if created is t.created_at and promised is t.promised_reply_at:
        return t
    return TicketSummary(t.id, t.number, t.kind, t.channel, t.status, t.category, created,
                         promised)
