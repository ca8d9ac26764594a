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
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, or_, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.models import (
    Agent,
    Call,
    Callback,
    CallbackOutcome,
    CallbackStatus,
    Citizen,
    Department,
    Grid,
    Incident,
    SurveyCall,
    Ticket,
    TicketAttachment,
    TicketCoDepartment,
    TicketEvent,
    TicketExtension,
    TicketReporter,
    TicketSequence,
    utcnow,
)
from db.prepared import Cursor, Prepared, cursor_for
from db.session import INSERT_BY_DIALECT, dialect_insert
from hotline import phone
from hotline.tickets.clock import (
    Clock,
    DeadlineRules,
    WorkCalendar,
    dispatch_clock,
    extended_clock,
    start_clock,
)
from hotline.tickets.duplicates import DuplicateQuery, Duplicates, find_duplicates
from hotline.tickets.exceptions import (
    IllegalTransition,
    IncidentMismatch,
    InvalidRequest,
    NoSuchAttachment,
    NoSuchDepartment,
    NoSuchExtension,
    NoSuchGrid,
    NoSuchIncident,
    NoSuchTicket,
    TicketChanged,
    TicketError,
)
from hotline.tickets.schemas import (
    OPEN_STATUSES,
    WITH_DEPARTMENT,
    BadPromise,
    IntakeRequest,
    TicketKind,
    TicketStatus,
    load_intake,
    promised_reply_time,
    ticket_summary,
)

__all__ = ["citizen_id_for", "TicketService", "TRANSITIONS", "IN_PLACE", "allowed_from",
           "EDITABLE", "IncidentProposal", "CallerInfo", "TicketSummary", "GridPlacer",
           "lookup_caller", "get_or_create_citizen", "default_rules", "MAX_EXTENSION_DAYS"]

S = TicketStatus


class _Placed(Protocol):
    grid_id: int


class GridPlacer(Protocol):
    """Finds the grid of a position or an address (hotline.grid.locate.GridLocator, which the
    grid plugin gives the console's ticket service: tickets do not import the map)."""

    def place(self, session: Session, *, latitude: float | None = None,
              longitude: float | None = None, address: str | None = None) -> _Placed | None:
        ...


#: action → (statuses it is allowed from, status it leads to). The whole lifecycle in one place.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    # Re-dispatching before the department took it up corrects a wrong choice; a reopened
    # ticket may be sent elsewhere.
    "dispatch": (frozenset({S.RECEIVED, S.RETURNED, S.REOPENED, S.DISPATCHED}), S.DISPATCHED),
    "accept": (frozenset({S.DISPATCHED, S.REOPENED}), S.HANDLING),          # 签收
    "return": (frozenset({S.DISPATCHED, S.REOPENED}), S.RETURNED),          # 退单
    # From received: the agent answered it on the spot (most consultations).
    "reply": (frozenset({S.RECEIVED, S.HANDLING, S.REOPENED}), S.REPLIED),
    "follow_up": (frozenset({S.REPLIED}), S.FOLLOWED_UP),
    "close": (frozenset({S.REPLIED, S.FOLLOWED_UP}), S.CLOSED),
    "reopen": (frozenset({S.REPLIED, S.FOLLOWED_UP, S.CLOSED}), S.REOPENED),
    "merge": (frozenset({S.RECEIVED, S.DISPATCHED, S.HANDLING, S.REOPENED, S.RETURNED}),
              S.MERGED),
}

#: Actions that change a ticket without moving it: the statuses each is allowed from.
IN_PLACE: dict[str, frozenset[str]] = {
    "extend": frozenset({S.HANDLING}),                  # 延期申请
    "decide_extension": frozenset(WITH_DEPARTMENT),     # 延期审批
    "contact": frozenset(WITH_DEPARTMENT),              # 首次联系
    "edit": frozenset(OPEN_STATUSES),                   # 更正
}


def allowed_from(action: str) -> frozenset[str]:
    """The statuses ``action`` may be taken from (what the pages offer, what is refused)."""
    if action in TRANSITIONS:
        return TRANSITIONS[action][0]
    return IN_PLACE[action]


#: Fields ``edit`` corrects, with their longest length.
EDITABLE: dict[str, int] = {"kind": 16, "category": 50, "address": 200, "grid": 32,
                            "description": 10_000, "citizen_name": 50, "phone": 20}
EDIT_LABELS = {"kind": "类型", "category": "分类", "address": "地址", "grid": "网格",
               "description": "诉求内容", "citizen_name": "市民姓名", "phone": "联系电话"}
#: The longest extension one request may ask for (working days).
MAX_EXTENSION_DAYS = 60

#: Statuses in which a ticket may join an incident (it still needs handling).
_GROUPABLE = frozenset({S.RECEIVED, S.DISPATCHED, S.HANDLING, S.REOPENED})


def default_rules() -> DeadlineRules:
    """The deadline rules of the embedded defaults (``[tickets]`` in hotline/defaults.toml)."""
    from hotline.config import loads

    return DeadlineRules.from_settings(loads("", source="defaults")["tickets"])


def _required(value: Any, field: str, longest: int, *, message: str | None = None) -> str:
    """Non-empty text of at most ``longest`` characters, stripped; InvalidRequest otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest({field: message or "is required"})
    value = value.strip()
    if len(value) > longest:
        raise InvalidRequest({field: f"is {len(value)} characters; at most {longest}"})
    return value


def _insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> None:
    """INSERT that does nothing when a unique key already exists (two nodes racing to create
    the same citizen or day counter must both succeed)."""
    session.execute(dialect_insert(session)(model).values(**values).on_conflict_do_nothing())


#: The per-call citizen statements, built once (a statement built per call costs more CPU
#: than running it): the new citizen, by dialect (their ON CONFLICT differs), and the read-back.
_NEW_CITIZEN = {
    name: Prepared(insert(Citizen).values(phone=bindparam("new_phone"), name=None,
                                          created_at=bindparam("new_created_at"))
                   .on_conflict_do_nothing().returning(Citizen.id))
    for name, insert in INSERT_BY_DIALECT.items()}
_CITIZEN_ID = Prepared(select(Citizen.id).where(Citizen.phone == bindparam("phone")))


def citizen_id_for(unit: Session | Cursor, number: str) -> int:
    """The id of the citizen with normalised phone ``number``, created if new, in one
    statement when it is new (INSERT ... RETURNING; another node's concurrent insert wins and
    is read back). For the per-call path, which needs the id and not the object: prepared
    statements (L{db.prepared}) in the caller's unit of work."""
    cursor = cursor_for(unit)
    made = cursor.scalar(_NEW_CITIZEN[cursor.dialect.name], new_phone=number,
                         new_created_at=utcnow())
    if made is not None:
        return made
    return cursor.scalar(_CITIZEN_ID, phone=number)


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
    tickets must be to be proposed as one incident; ``locator`` places a ticket filed without a
    grid by its coordinates or address (None: such a ticket stays without a grid).
    """

    NUMBER_PREFIX = "RX"

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow,
                 timezone: str = "Asia/Shanghai",
                 incident_window: dt.timedelta = dt.timedelta(hours=72),
                 locator: GridPlacer | None = None,
                 rules: DeadlineRules | None = None) -> None:
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.incident_window = incident_window
        self.locator = locator
        #: The deadline rules (``[tickets]``); the embedded defaults unless given.
        self.rules = rules or _DEFAULT_RULES.get()

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
               actor: str, promised_by: str | None = None) -> Ticket:
        """Accept a new ticket from any channel; returns it flushed (id and number set).

        ``promised_by`` is the code of the agent who promised the citizen a call back at the
        desk: that callback is theirs (it heads their 我的回拨, and the scheduler rings them
        first; another seat takes it after the hand-over delay if they are away).

        ``request`` is an ``IntakeRequest`` or a payload for ``load_intake``. The citizen is
        found or created by phone; a grid or department code must exist; without one the
        ticket is placed by its coordinates (point in polygon) or its address (the address
        table); a call uniqueid links the call row to the ticket. Raises InvalidIntake,
        NoSuchGrid, NoSuchDepartment.
        """
        if not isinstance(request, IntakeRequest):
            request = load_intake(request)
        now = self.clock()
        grid = self._grid(session, request.grid) if request.grid else None
        if grid is None and self.locator is not None and (
                request.latitude is not None or request.address):
            placed = self.locator.place(session, latitude=request.latitude,
                                        longitude=request.longitude, address=request.address)
            grid = session.get(Grid, placed.grid_id) if placed is not None else None
        department = self._department(session, request.department) if request.department \
            else None
        citizen = get_or_create_citizen(session, request.phone, request.citizen_name) \
            if request.phone else None
        # The clock reads the work calendar (a query): read it before the ticket exists, so the
        # query's autoflush never meets a ticket already tied to its citizen but not yet added.
        clock = dispatch_clock(now, self.rules, self.calendar(session), self.zone)
        ticket = Ticket(
            number=self._next_number(session, now), kind=request.kind.value,
            channel=request.channel, status=S.RECEIVED.value, category=request.category,
            grid=grid, address=request.address, description=request.description,
            citizen=citizen, department=department,
            promised_reply_at=request.promised_reply_at, created_at=now, updated_at=now,
            latitude=request.latitude, longitude=request.longitude)
        self._set_clock(ticket, clock)
        session.add(ticket)
        self._event(ticket, now, actor, "intake", None, S.RECEIVED, request.description)
        if request.promised_reply_at is not None:
            owner = session.scalar(select(Agent.id).where(Agent.code == promised_by)) \
                if promised_by else None
            self._ensure_callback(session, ticket, request.promised_reply_at, now,
                                  owner_agent_id=owner)
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
    #
    # Every change goes through ``_claim``: the ticket is read, the caller's ``version`` (what
    # their page showed) is compared, the action is checked against the ticket's status, and the
    # version is bumped by a conditional UPDATE that only matches the version read. Whoever's
    # UPDATE matched owns the change; anyone else gets TicketChanged (409) with the current
    # state, on SQLite (one writer at a time) and PostgreSQL (the row lock, then the WHERE
    # re-checked) alike. Nothing is changed before the checks pass.

    def dispatch(self, session: Session, ticket_id: int, *, department: str, actor: str,
                 text: str | None = None, co_departments: Sequence[str] = (),
                 version: int | None = None) -> Ticket:
        """Send the ticket to a lead department (主办) and optional co-handling ones (协办) by
        code, with an instruction; the department's clock starts now. Raises
        NoSuchDepartment, IllegalTransition, TicketChanged."""
        target = self._department(session, department)
        co = [self._department(session, c) for c in dict.fromkeys(co_departments)
              if c != target.code]
        ticket = self._claim(session, ticket_id, "dispatch", version)
        now = self.clock()
        ticket.department = target
        session.execute(delete(TicketCoDepartment)
                        .where(TicketCoDepartment.ticket_id == ticket.id))
        for d in co:
            session.add(TicketCoDepartment(ticket_id=ticket.id, department_id=d.id))
        self._set_clock(ticket, start_clock(ticket.kind, now, self.rules,
                                            self.calendar(session), self.zone))
        ticket.first_contacted_at = None
        what = f"→ {target.code} {target.name}"
        if co:
            what += "；协办 " + "、".join(f"{d.code} {d.name}" for d in co)
        due = self.local(ticket.due_at)
        text = f"{what}；办理期限 {due}" + (f"；{text.strip()}" if text and text.strip() else "")
        self._move(ticket, "dispatch", actor, text)
        session.flush()
        session.expire(ticket, ["co_departments"])
        return ticket

    def accept(self, session: Session, ticket_id: int, *, actor: str, text: str | None = None,
               version: int | None = None) -> Ticket:
        """The department's liaison takes the ticket up (签收); its clock keeps running."""
        ticket = self._claim(session, ticket_id, "accept", version)
        return self._move(ticket, "accept", actor, text)

    def start_handling(self, session: Session, ticket_id: int, *, actor: str,
                       text: str | None = None) -> Ticket:
        """``accept``, by the name this step had before 签收 was its own screen."""
        return self.accept(session, ticket_id, actor=actor, text=text)

    def return_ticket(self, session: Session, ticket_id: int, *, actor: str, reason: str,
                      version: int | None = None) -> Ticket:
        """The department hands the ticket back (退单) with a reason: it leaves the department
        and goes back to the dispatcher's queue on the dispatcher's clock, so the time it spent
        counts against neither this department nor the next one."""
        reason = _required(reason, "reason", 2000)
        ticket = self._claim(session, ticket_id, "return", version)
        before = ticket.department
        ticket.department = None
        session.execute(delete(TicketCoDepartment)
                        .where(TicketCoDepartment.ticket_id == ticket.id))
        self._set_clock(ticket, dispatch_clock(self.clock(), self.rules,
                                               self.calendar(session), self.zone))
        who = f"{before.code} {before.name}" if before else "-"
        self._move(ticket, "return", actor, f"退单 ← {who}：{reason}")
        session.flush()
        session.expire(ticket, ["co_departments"])
        return ticket

    def request_extension(self, session: Session, ticket_id: int, *, actor: str, days: float,
                          reason: str, version: int | None = None) -> TicketExtension:
        """The department asks for more time (延期申请): ``days`` working days from the deadline in
        force, with a reason; a supervisor decides. One request pending at a time."""
        problems = {}
        if isinstance(days, bool) or not isinstance(days, int | float) or not \
                0 < days <= MAX_EXTENSION_DAYS:
            problems["days"] = f"must be a number of working days from 1 to {MAX_EXTENSION_DAYS}"
        if not isinstance(reason, str) or not reason.strip():
            problems["reason"] = "is required (延期理由)"
        if problems:
            raise InvalidRequest(problems)
        ticket = self._claim(session, ticket_id, "extend", version)
        pending = session.scalars(select(TicketExtension).where(
            TicketExtension.ticket_id == ticket.id,
            TicketExtension.status == "pending")).first()
        if pending is not None:
            raise IllegalTransition("request extension", {ticket.number: "extension pending"},
                                    ["no extension pending"])
        now = self.clock()
        extension = TicketExtension(ticket=ticket, department_id=ticket.department_id,
                                    days=float(days),
                                    reason=reason.strip()[:2000], status="pending",
                                    requested_by=actor, requested_at=now)
        session.add(extension)
        self._event(ticket, now, actor, "extension_request", None, None,
                    f"延期申请 {days:g} 个工作日：{reason.strip()}")
        ticket.updated_at = now
        session.flush()
        return extension

    def decide_extension(self, session: Session, extension_id: int, *, actor: str,
                         approve: bool, note: str | None = None,
                         version: int | None = None) -> TicketExtension:
        """A supervisor approves (the deadline moves by the days asked, recorded) or refuses
        (a note saying why is required) a pending extension request."""
        extension = session.get(TicketExtension, extension_id)
        if extension is None:
            raise NoSuchExtension(extension_id)
        if not approve:
            note = _required(note, "note", 2000)
        ticket = self._claim(session, extension.ticket_id, "decide_extension", version)
        if extension.status != "pending":
            raise IllegalTransition("decide extension", {ticket.number: extension.status},
                                    ["pending"])
        now = self.clock()
        extension.decided_by, extension.decided_at = actor, now
        extension.decision_note = note.strip() if note and note.strip() else None
        extension.old_due_at = ticket.due_at
        if approve:
            clock = extended_clock(self._clock_of(ticket), extension.days, self.rules,
                                   self.calendar(session), self.zone)
            self._set_clock(ticket, clock, keep_first_contact=True)
            extension.status, extension.new_due_at = "approved", ticket.due_at
            text = (f"延期批准 {extension.days:g} 个工作日：期限 {self.local(extension.old_due_at)} → "
                    f"{self.local(ticket.due_at)}")
        else:
            extension.status = "refused"
            text = f"延期不予批准：{extension.decision_note}"
        self._event(ticket, now, actor, f"extension_{extension.status}", None, None,
                    text + (f"（{extension.decision_note}）" if approve and
                            extension.decision_note else ""))
        ticket.updated_at = now
        session.flush()
        return extension

    def contact(self, session: Session, ticket_id: int, *, actor: str, text: str | None = None,
                version: int | None = None) -> Ticket:
        """The department has contacted the citizen (首次联系): stops the 24 h clock of
        complaints and requests for help."""
        ticket = self._claim(session, ticket_id, "contact", version)
        now = self.clock()
        if ticket.first_contacted_at is None:
            ticket.first_contacted_at = now
        self._event(ticket, now, actor, "contact", None, None, text or "已联系市民")
        ticket.updated_at = now
        return ticket

    def reply(self, session: Session, ticket_id: int, *, actor: str, text: str,
              attachments: Sequence[int] = (), version: int | None = None) -> Ticket:
        """Record the handling result (办理回复), with attachments uploaded for this ticket
        before. The answer text is required. The department's clock stops; the follow-up (回访)
        is next."""
        text = _required(text, "text", 5000)
        ticket = self._claim(session, ticket_id, "reply", version)
        files = []
        for attachment_id in dict.fromkeys(attachments):
            found = session.get(TicketAttachment, attachment_id)
            if found is None or found.ticket_id != ticket.id or found.event_id is not None:
                raise NoSuchAttachment(attachment_id)
            files.append(found)
        if ticket.first_contacted_at is None and ticket.first_contact_due_at is not None:
            ticket.first_contacted_at = self.clock()
        event = self._move(ticket, "reply", actor, text).events[-1]
        session.flush()
        for found in files:
            found.event_id = event.id
        self._tell_reporters(session, ticket)
        return ticket

    def _tell_reporters(self, session: Session, ticket: Ticket) -> None:
        """A ticket reported by several citizens (一事多诉): each of them is called back with
        the answer, the first reporter too unless a promised callback is already pending for
        them. One callback each, due now, which the scheduler places (attempts, retries and
        SLA of its own). A ticket with one reporter is followed up as before."""
        others = self.reporter_ids(session, ticket.id)
        if not others:
            return
        now = self.clock()
        pending = set(session.scalars(select(Callback.citizen_id).where(
            Callback.ticket_id == ticket.id, Callback.status == "pending")))
        for citizen_id in [ticket.citizen_id, *others]:
            if citizen_id is None or citizen_id in pending:
                continue
            pending.add(citizen_id)
            session.add(Callback(ticket_id=ticket.id, citizen_id=citizen_id, due_at=now,
                                 status="pending", attempts=0, created_at=now))

    def follow_up(self, session: Session, ticket_id: int, *, actor: str,
                  text: str | None = None, satisfied: bool | None = None,
                  solved: bool | None = None, version: int | None = None) -> Ticket:
        """The citizen was asked how it went (回访). With a verdict: satisfied closes the ticket
        (办结); not satisfied reopens it to the same department with a shorter deadline
        (不满意重办). Without one the ticket waits as followed up."""
        if satisfied is False and (not text or not text.strip()):
            raise InvalidRequest({"text": "say what the citizen is not satisfied with"})
        ticket = self._claim(session, ticket_id, "follow_up", version)
        parts = ["回访"]
        if solved is not None:
            parts.append("问题已解决" if solved else "问题未解决")
        if satisfied is not None:
            parts.append("满意" if satisfied else "不满意")
        summary = "：".join([parts[0], "，".join(parts[1:])]) if len(parts) > 1 else parts[0]
        summary += f"（{text.strip()}）" if text and text.strip() else ""
        self._move(ticket, "follow_up", actor, summary)
        if satisfied is True:
            self._move(ticket, "close", actor, "市民满意，办结")
            self._cancel_callbacks(session, [ticket])
        elif satisfied is False:
            self._reopen(session, ticket, actor, text or "")
        return ticket

    def close(self, session: Session, ticket_id: int, *, actor: str,
              text: str | None = None, version: int | None = None) -> Ticket:
        """Close the ticket (办结); pending callbacks for it are cancelled."""
        ticket = self._claim(session, ticket_id, "close", version)
        self._move(ticket, "close", actor, text)
        self._cancel_callbacks(session, [ticket])
        return ticket

    def reopen(self, session: Session, ticket_id: int, *, actor: str, text: str,
               version: int | None = None) -> Ticket:
        """Reopen an answered or closed ticket (the citizen is not satisfied); why is required.
        It goes back to the same department with a new, shorter deadline (不满意重办), or to the
        dispatcher's queue when no department had it."""
        text = _required(text, "text", 2000, message="reopening needs a reason")
        ticket = self._claim(session, ticket_id, "reopen", version)
        return self._reopen(session, ticket, actor, text)

    def _reopen(self, session: Session, ticket: Ticket, actor: str, text: str) -> Ticket:
        now = self.clock()
        calendar = self.calendar(session)
        if ticket.department_id is not None:
            clock = start_clock(ticket.kind, now, self.rules, calendar, self.zone,
                                reopened=True)
        else:
            clock = dispatch_clock(now, self.rules, calendar, self.zone)
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
        self._set_clock(ticket, clock)
        where = (f"重办 → {ticket.department.code} {ticket.department.name}，新期限 "
                 f"{self.local(ticket.due_at)}" if ticket.department is not None
                 else "重办 → 派单")
        self._move(ticket, "reopen", actor, f"{where}：{text.strip()}" if text.strip()
                   else where)
        # A survey still owed for the answer just rejected would ask about it again.
        session.execute(update(SurveyCall).where(SurveyCall.ticket_id == ticket.id,
                                                 SurveyCall.status == "pending")
                        .values(status="cancelled", finished_at=now))
        return ticket

    def edit(self, session: Session, ticket_id: int, changes: Mapping[str, Any], *,
             actor: str, version: int | None = None) -> Ticket:
        """Correct a ticket's category, address, grid, content, kind (before dispatch) or the
        citizen's name and phone; each change is kept in the ticket's history (old → new).
        Raises InvalidRequest naming every bad field, NoSuchGrid, TicketChanged."""
        problems: dict[str, str] = {}
        unknown = sorted(set(changes) - set(EDITABLE))
        for field in unknown:
            problems[field] = f"cannot be edited (editable: {', '.join(EDITABLE)})"
        values: dict[str, Any] = {}
        for field in set(changes) & set(EDITABLE):
            raw = changes[field]
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if field in ("description", "kind", "phone"):
                    problems[field] = "cannot be emptied"
                else:
                    values[field] = None
                continue
            if not isinstance(raw, str):
                problems[field] = f"must be text, got {type(raw).__name__}"
                continue
            raw = raw.strip()
            if len(raw) > EDITABLE[field]:
                problems[field] = f"is {len(raw)} characters; at most {EDITABLE[field]}"
                continue
            values[field] = raw
        if "kind" in values:
            try:
                values["kind"] = TicketKind(values["kind"]).value
            except ValueError:
                problems["kind"] = (f"unknown kind {values['kind']!r} "
                                    f"(one of {', '.join(k.value for k in TicketKind)})")
        if values.get("phone") is not None:
            try:
                values["phone"] = phone.normalise(values["phone"])
            except phone.InvalidPhoneNumber as e:
                problems["phone"] = str(e)
        if not changes:
            problems["changes"] = "name at least one field to correct"
        if problems:
            raise InvalidRequest(problems)
        grid = self._grid(session, values["grid"]) if values.get("grid") else None
        ticket = self._claim(session, ticket_id, "edit", version)
        if "kind" in values and values["kind"] != ticket.kind and ticket.status not in (
                S.RECEIVED, S.RETURNED):
            raise InvalidRequest({"kind": "can only be corrected before the ticket is "
                                          "dispatched (its deadline depends on it)"})
        notes = []

        def show(value: Any) -> str:
            return "（空）" if value in (None, "") else str(value)

        for field in ("kind", "category", "address", "description"):
            if field in values and values[field] != getattr(ticket, field):
                notes.append(f"{EDIT_LABELS[field]}：{show(getattr(ticket, field))} → "
                             f"{show(values[field])}")
                setattr(ticket, field, values[field])
        if "grid" in values:
            old = ticket.grid.code if ticket.grid else None
            new = grid.code if grid else None
            if old != new:
                notes.append(f"{EDIT_LABELS['grid']}：{show(old)} → {show(new)}")
                ticket.grid = grid
        if values.get("phone") is not None:
            old_phone = ticket.citizen.phone if ticket.citizen else None
            if values["phone"] != old_phone:
                citizen = get_or_create_citizen(session, values["phone"])
                notes.append(f"{EDIT_LABELS['phone']}：{show(phone.mask(old_phone)) if old_phone else '（空）'}"
                             f" → {phone.mask(values['phone'])}")
                ticket.citizen = citizen
        if "citizen_name" in values:
            if ticket.citizen is None:
                if values["citizen_name"] is not None:
                    raise InvalidRequest({"citizen_name": "the ticket has no citizen: give the "
                                                          "phone number first"})
            elif values["citizen_name"] != ticket.citizen.name:
                notes.append(f"{EDIT_LABELS['citizen_name']}：{show(ticket.citizen.name)} → "
                             f"{show(values['citizen_name'])}")
                ticket.citizen.name = values["citizen_name"]
        now = self.clock()
        ticket.needs_completion = False
        ticket.updated_at = now
        self._event(ticket, now, actor, "edit", None, None,
                    "更正 " + "；".join(notes) if notes else "核对无误（未更改）")
        session.flush()
        return ticket

    def merge(self, session: Session, ticket_id: int, *, into: int, actor: str,
              text: str | None = None, version: int | None = None) -> Ticket:
        """Merge a duplicate into another open ticket; the duplicate ends as ``merged``."""
        target = self.get(session, into)
        if target.id == ticket_id:
            raise TicketError("a ticket cannot be merged into itself", {"ticket": target.number})
        if target.status in (S.MERGED, S.CLOSED):
            raise IllegalTransition("merge into", {target.number: target.status},
                                    sorted(OPEN_STATUSES))
        ticket = self._claim(session, ticket_id, "merge", version)
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

    # -- the clock -------------------------------------------------------------------------------

    def calendar(self, session: Session) -> WorkCalendar:
        """China's working days with the site's exceptions as stored now."""
        from hotline.tickets.calendar import load_calendar

        return load_calendar(session)

    def local(self, at: dt.datetime | None) -> str:
        """A time as the site reads it in event texts."""
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if at else "-"

    @staticmethod
    def _clock_of(ticket: Ticket) -> Clock:
        assert ticket.clock_started_at is not None and ticket.due_at is not None
        return Clock(ticket.clock_started_at, ticket.due_at, ticket.warn_at or ticket.due_at,
                     ticket.first_contact_due_at)

    @staticmethod
    def _set_clock(ticket: Ticket, clock: Clock, *, keep_first_contact: bool = False) -> None:
        """A new deadline: its reminder and 督办 notice are owed afresh."""
        ticket.clock_started_at, ticket.due_at, ticket.warn_at = (
            clock.started_at, clock.due_at, clock.warn_at)
        if not keep_first_contact:
            ticket.first_contact_due_at = clock.first_contact_due_at
        ticket.warned_at = ticket.overdue_at = None

    # -- checks and the record -------------------------------------------------------------------

    def _claim(self, session: Session, ticket_id: int, action: str,
               version: int | None) -> Ticket:
        """The ticket, checked and claimed for ``action`` (see the section's comment).

        Raises NoSuchTicket, TicketChanged (``version`` is not the ticket's, or another change
        won the race), IllegalTransition.
        """
        ticket = self.get(session, ticket_id)
        if version is not None and ticket.version != version:
            raise TicketChanged(ticket.number, version, ticket_summary(ticket))
        self._check(action, [ticket])
        read = ticket.version
        won = session.execute(
            update(Ticket).where(Ticket.id == ticket.id, Ticket.version == read)
            .values(version=read + 1).execution_options(synchronize_session=False))
        if won.rowcount != 1:
            session.refresh(ticket)
            raise TicketChanged(ticket.number, read, ticket_summary(ticket))
        set_committed_value(ticket, "version", read + 1)
        return ticket

    def _act(self, session: Session, ticket_id: int, action: str, actor: str,
             text: str | None) -> Ticket:
        ticket = self._claim(session, ticket_id, action, None)
        return self._move(ticket, action, actor, text)

    def _check(self, action: str, tickets: Sequence[Ticket]) -> None:
        """Refuse the action unless it is legal for every ticket; nothing is changed before."""
        allowed = allowed_from(action)
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
                         now: dt.datetime, *, owner_agent_id: int | None = None) -> None:
        """One pending callback per ticket carries the promise; a new time moves it."""
        pending = None
        if ticket.id is not None:
            # The first reporter's: co-reporters and an incident's citizens have their own.
            pending = session.scalars(
                select(Callback).where(Callback.ticket_id == ticket.id,
                                       Callback.status == CallbackStatus.PENDING,
                                       or_(Callback.citizen_id == ticket.citizen_id,
                                           Callback.citizen_id.is_(None)))
                .order_by(Callback.id)).first()
        if pending is None:
            session.add(Callback(ticket=ticket, citizen=ticket.citizen, due_at=due_at,
                                 status=CallbackStatus.PENDING, attempts=0, created_at=now,
                                 owner_agent_id=owner_agent_id))
        else:
            pending.due_at = due_at

    @staticmethod
    def _cancel_callbacks(session: Session, tickets: Iterable[Ticket]) -> None:
        ids = [t.id for t in tickets]
        session.execute(update(Callback).where(Callback.ticket_id.in_(ids),
                                               Callback.status == CallbackStatus.PENDING)
                        .values(status=CallbackStatus.CANCELLED))

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

    # -- duplicates at intake, co-reporters ------------------------------------------------------

    def duplicates(self, session: Session, query: DuplicateQuery, *, days: float = 7,
                   limit: int = 10) -> Duplicates:
        """The open tickets that may be the same problem as ``query`` and the caller's own
        open ones (hotline.tickets.duplicates). Reads only."""
        return find_duplicates(session, query, now=self.clock(), days=days, limit=limit,
                               locator=self.locator)

    def reporter_ids(self, session: Session, ticket_id: int) -> list[int]:
        """The citizens who reported the ticket after its first reporter, in order."""
        return list(session.scalars(select(TicketReporter.citizen_id)
                                    .where(TicketReporter.ticket_id == ticket_id)
                                    .order_by(TicketReporter.id)))

    def add_reporter(self, session: Session, ticket_id: int, *, phone_number: str, actor: str,
                     citizen_name: str | None = None, call_uniqueid: str | None = None,
                     text: str | None = None) -> TicketReporter | None:
        """Attach a caller to an existing open ticket instead of opening a new one (一事多诉):
        the citizen becomes a co-reporter, told the outcome like the first reporter; the call
        is linked to the ticket. The first reporter or a citizen already attached is not added
        twice (None is returned). Raises NoSuchTicket, InvalidRequest, IllegalTransition."""
        problems: dict[str, str] = {}
        try:
            number = phone.normalise(phone_number or "")
        except phone.InvalidPhoneNumber as e:
            problems["phone"] = str(e)
        if text is not None and len(text) > 10_000:
            problems["text"] = f"is {len(text)} characters; at most 10000"
        if citizen_name is not None and len(citizen_name) > 50:
            problems["citizen_name"] = f"is {len(citizen_name)} characters; at most 50"
        if problems:
            raise InvalidRequest(problems)
        ticket = self.get(session, ticket_id)
        if ticket.status not in OPEN_STATUSES:
            raise IllegalTransition("attach a reporter", {ticket.number: ticket.status},
                                    sorted(str(s) for s in OPEN_STATUSES))
        citizen = get_or_create_citizen(session, number, citizen_name)
        now = self.clock()
        if call_uniqueid:
            call = session.scalars(select(Call).where(Call.uniqueid == call_uniqueid)) \
                .one_or_none()
            if call is not None:
                call.ticket = ticket
                call.citizen_id = call.citizen_id or citizen.id
        if citizen.id == ticket.citizen_id or citizen.id in self.reporter_ids(session, ticket.id):
            return None
        reporter = TicketReporter(ticket_id=ticket.id, citizen_id=citizen.id,
                                  description=text.strip() if text and text.strip() else None,
                                  call_id=None, added_by=actor, added_at=now)
        if call_uniqueid:
            reporter.call_id = session.scalar(select(Call.id)
                                              .where(Call.uniqueid == call_uniqueid))
        session.add(reporter)
        ticket.version += 1
        ticket.updated_at = now
        self._event(ticket, now, actor, "co_report", None, None,
                    f"一事多诉：{phone.mask(number)} 也反映此问题"
                    + (f"（{text.strip()}）" if text and text.strip() else ""))
        session.flush()
        return reporter

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
            title=(title or "").strip()[:200] or f"{first.category}（{len(tickets)} 件）",
            kind=first.kind,
            category=first.category, grid_id=first.grid_id, address=first.address,
            status="open", confirmed_by=actor, confirmed_at=now)
        session.add(incident)
        session.flush()
        for t in tickets:
            t.incident = incident
            t.updated_at = now
            self._event(t, now, actor, "incident", None, None,
                        f"并入事件 {incident.id}：{incident.title}")
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
        self._department(session, department)
        tickets = self._incident_tickets(session, incident_id)
        self._check("dispatch", tickets)
        note = text.strip() if text and text.strip() else f"事件 {incident_id} 批量派单"
        return [self.dispatch(session, t.id, department=department, actor=actor, text=note)
                for t in tickets]

    def reply_incident(self, session: Session, incident_id: int, *, actor: str,
                       text: str) -> list[Ticket]:
        """One answer for every ticket of the incident, all or none: the department replying
        takes up (签收) the tickets still waiting for it, each ticket is replied (and later
        followed up) on its own, and every citizen in it (first reporters and co-reporters,
        once each) gets a callback, which the scheduler places at its bounded rate."""
        text = _required(text, "text", 5000)
        incident = self.get_incident(session, incident_id)
        tickets = self._incident_tickets(session, incident_id)
        waiting = allowed_from("accept") - allowed_from("reply")
        self._check("reply", [t for t in tickets if t.status not in waiting])
        self._check("accept", [t for t in tickets if t.status in waiting])
        now = self.clock()
        replied = []
        for t in tickets:
            if t.status in waiting:
                self.accept(session, t.id, actor=actor, text=f"事件 {incident_id} 统一答复")
            replied.append(self._reply_quietly(session, t.id, actor=actor, text=text))
        told: set[int] = set()
        for t in replied:
            for citizen_id in [t.citizen_id, *self.reporter_ids(session, t.id)]:
                if citizen_id is None or citizen_id in told:
                    continue
                told.add(citizen_id)
                session.add(Callback(ticket_id=t.id, citizen_id=citizen_id, due_at=now,
                                     status="pending", attempts=0, created_at=now))
        incident.replied_at = now
        incident.replied_by = actor
        incident.status = "replied"
        session.flush()
        return replied

    def _reply_quietly(self, session: Session, ticket_id: int, *, actor: str,
                       text: str) -> Ticket:
        """``reply`` without its callbacks to co-reporters: the incident calls each citizen
        once itself."""
        ticket = self._claim(session, ticket_id, "reply", None)
        if ticket.first_contacted_at is None and ticket.first_contact_due_at is not None:
            ticket.first_contacted_at = self.clock()
        self._move(ticket, "reply", actor, text)
        return ticket

    def tell_outcome(self, session: Session, ticket_id: int, *, actor: str,
                     text: str) -> str:
        """Give the citizen of a ticket the outcome of collective action on it (a council's
        decision, a finished project) through the ticket itself: its reply when the ticket
        awaits one (taken up first if only dispatched; co-reporters are called as for any
        reply), else a note on it and a callback, since its answer was already given. A ticket
        whose citizen asked to be called back (a timed reply) gets the callback either way.
        Returns how: ``reply``, ``note``, each ``+callback`` when one was owed."""
        text = _required(text, "text", 5000)
        ticket = self.get(session, ticket_id)
        waiting = allowed_from("accept") - allowed_from("reply")
        if ticket.status in waiting:
            self.accept(session, ticket.id, actor=actor, text="签收以答复议事/项目结果")
        if ticket.status in allowed_from("reply"):
            self.reply(session, ticket.id, actor=actor, text=text)
            how = "reply"
        else:
            self.add_note(session, ticket.id, actor=actor, text=text)
            how = "note"
        if ticket.citizen_id is not None and (how == "note"
                                              or ticket.promised_reply_at is not None):
            now = self.clock()
            self._ensure_callback(session, ticket, now, now)
            how += "+callback"
        session.flush()
        return how

    def incident_progress(self, session: Session, incident_id: int) -> dict[str, int]:
        """How many citizens of a replied incident were reached: the callbacks of its tickets
        created at its reply, by status (``reached`` n of ``total`` N)."""
        incident = self.get_incident(session, incident_id)
        if incident.replied_at is None:
            return {"total": 0, "reached": 0, "not_reached": 0, "pending": 0}
        rows = session.execute(
            select(Callback.status, Callback.outcome, func.count())
            .join(Ticket, Ticket.id == Callback.ticket_id)
            .where(Ticket.incident_id == incident_id,
                   Callback.created_at >= incident.replied_at)
            .group_by(Callback.status, Callback.outcome)).all()
        out = {"total": 0, "reached": 0, "not_reached": 0, "pending": 0}
        for status, outcome, n in rows:
            out["total"] += n
            if outcome == CallbackOutcome.REACHED:
                out["reached"] += n
            elif status in (CallbackStatus.DONE, CallbackStatus.FAILED, CallbackStatus.CANCELLED):
                out["not_reached"] += n
            else:
                out["pending"] += n
        return out

    def close_incident(self, session: Session, incident_id: int, *, actor: str,
                       text: str | None = None) -> list[Ticket]:
        """Close every ticket of the incident and the incident itself, all or none."""
        incident = self.get_incident(session, incident_id)
        tickets = self._incident_tickets(session, incident_id)
        self._check("close", tickets)
        closed = [self.close(session, t.id, actor=actor, text=text) for t in tickets]
        incident.status = "closed"
        return closed


class _LazyRules:
    """The default rules, read from the embedded defaults once, when first needed."""

    def __init__(self) -> None:
        self._rules: DeadlineRules | None = None

    def get(self) -> DeadlineRules:
        if self._rules is None:
            self._rules = default_rules()
        return self._rules


_DEFAULT_RULES = _LazyRules()


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

# Prepared once (db.prepared): every ringing number runs them. Bound at call time.
_CITIZEN_BY_PHONE = Prepared(select(Citizen.id, Citizen.name)
                             .where(Citizen.phone == bindparam("phone")))
_CALLER_TICKETS = Prepared(union_all(
    select(*_SUMMARY_COLUMNS).where(Ticket.citizen_id == bindparam("citizen_id"),
                                    Ticket.status.in_(sorted(str(s) for s in OPEN_STATUSES))),
    select(select(*_SUMMARY_COLUMNS).where(Ticket.citizen_id == bindparam("citizen_id"))
           .order_by(Ticket.created_at.desc()).limit(bindparam("history_limit"))
           .subquery())))


def lookup_caller(unit: Session | Cursor, caller_number: str, *, now: dt.datetime | None = None,
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
    cursor = cursor_for(unit)  # prepared statements: no ORM work for each ringing number
    row = cursor.first(_CITIZEN_BY_PHONE, phone=number)
    if row is None:
        return CallerInfo(number, phone.mask(number), None, None, (), (), False)
    citizen_id, name = row
    rows = cursor.all(_CALLER_TICKETS, citizen_id=citizen_id, history_limit=history_limit)
    seen: dict[int, TicketSummary] = {}
    for r in rows:
        if r[0] not in seen:
            seen[r[0]] = TicketSummary(*r)
    tickets = list(seen.values())  # times aware: prepared results go through their types
    tickets.sort(key=lambda t: t.created_at, reverse=True)
    open_tickets = tuple(t for t in tickets if t.status in OPEN_STATUSES)
    history = tuple(tickets[:history_limit])
    since = (now or utcnow()) - repeat_window
    repeat = bool(open_tickets) or any(t.created_at >= since for t in history)
    return CallerInfo(number, phone.mask(number), citizen_id, name, open_tickets, history, repeat)
