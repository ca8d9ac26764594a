# -*- test-case-name: tests.db.test_migrations -*-
"""The hotline's records: SQLAlchemy 2 typed declarative models, one ``Base`` for all.

Times: every datetime column is ``UTCDateTime``: it accepts timezone-aware datetimes only, stores
UTC (naive UTC text on SQLite, ``timestamp with time zone`` on PostgreSQL) and always hands back
aware UTC datetimes, so no code has to guess a zone. The site's zone is for display only.

Enumerations (ticket kind, channel, status, ...) are plain short strings checked by the services,
not database enums: a new intake channel or call outcome must not need a migration. Each status
set is one StrEnum here (L{CallStatus}, L{TranscriptStatus}, L{CallbackStatus}, ...).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from hotline import phone

__all__ = [
    "Base", "UTCDateTime", "utcnow", "KeptPlace", "KeptPlaceStatus",
    "Department", "Grid", "GridWorker", "Citizen", "Agent", "AgentSession", "AgentStateChange",
    "Incident", "Ticket", "TicketEvent", "TicketSequence", "MunicipalHotline",
    "Call", "CallRecording", "Bridge", "BridgeParticipant",
    "Callback", "CallbackAttempt", "Transcript", "TranscriptSegment", "SurveyResult",
]

#: Constraint names fixed here so migrations on SQLite (batch mode) and PostgreSQL agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC: the only kind of datetime the models accept."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime stored in UTC and returned aware; naive input is refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """The one declarative base: its metadata is what Alembic compares the migrations with."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


# -- organisation ---------------------------------------------------------------------------------

class Department(Base):
    """A body that handles tickets: one of the partner departments or a utility."""

    __tablename__ = "department"
    __table_args__ = (CheckConstraint("kind in ('partner', 'utility')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="partner")
    #: Hours the department has to answer a dispatched ticket.
    response_time_limit_hours: Mapped[int] = mapped_column(default=72)
    #: The department's duty phone (值班电话): deadline reminders and 督办 notices are called
    #: here (migration 0010); none: pages only.
    duty_number: Mapped[str | None] = mapped_column(String(20))

    hotlines: Mapped[list[MunicipalHotline]] = relationship(back_populates="department")
    tickets: Mapped[list[Ticket]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class Grid(Base):
    """A grid of the district's grid management: level 1 (网格, inside a community), or level 2
    (子网格) inside a level-1 grid. ``geometry`` is its GeoJSON outline (lon/lat) once a map
    was imported (``hotline grid import``); point-in-polygon assignment reads it."""

    __tablename__ = "grid"
    __table_args__ = (CheckConstraint("level in (1, 2)", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    # -- the map hierarchy (hotline/grid, migration 0013) --
    #: The community (社区) a level-1 grid lies in; None for level 2 (see ``parent``).
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    geometry: Mapped[dict[str, Any] | None]
    #: Residents of a level-1 grid (site data, migration 0017): the demand intensity index
    #: divides by it; None where the site has not said.
    population: Mapped[int | None]

    parent: Mapped[Grid | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Grid]] = relationship(back_populates="parent")
    workers: Mapped[list[GridWorker]] = relationship(back_populates="grid")
    community: Mapped[Community | None] = relationship(back_populates="grids")

    def __repr__(self) -> str:
        return f"<Grid {self.code} L{self.level}>"


class GridWorker(Base):
    """The full-time grid worker (专职网格员) of a level-1 grid and its sub-grids; ``user_id``
    is their console account (role grid_worker) once they have one."""

    __tablename__ = "grid_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    # -- migration 0013 --
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_user.id"), unique=True)

    grid: Mapped[Grid] = relationship(back_populates="workers")

    def __repr__(self) -> str:
        return f"<GridWorker {self.name} grid={self.grid_id}>"


class Citizen(Base):
    """A caller or writer, known by a normalised phone number (see ``hotline.phone``)."""

    __tablename__ = "citizen"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    tickets: Mapped[list[Ticket]] = relationship(back_populates="citizen")
    calls: Mapped[list[Call]] = relationship(back_populates="citizen")

    @property
    def masked_phone(self) -> str:
        """The number as departments and reports see it (138****0000)."""
        return phone.mask(self.phone)

    def __repr__(self) -> str:
        return f"<Citizen {self.id} {self.masked_phone}>"


class Agent(Base):
    """A hotline agent at a softphone seat, known by a short code such as 1001."""

    __tablename__ = "agent"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    #: offline, available, busy, paused.
    state: Mapped[str] = mapped_column(String(16), default="offline")

    sessions: Mapped[list[AgentSession]] = relationship(back_populates="agent")
    state_changes: Mapped[list[AgentStateChange]] = relationship(back_populates="agent")

    def __repr__(self) -> str:
        return f"<Agent {self.code} {self.state}>"


class AgentSession(Base):
    """One login of an agent, from login to logout (open while ``logout_at`` is null)."""

    __tablename__ = "agent_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    login_at: Mapped[dt.datetime]
    logout_at: Mapped[dt.datetime | None]

    agent: Mapped[Agent] = relationship(back_populates="sessions")

    def __repr__(self) -> str:
        return f"<AgentSession agent={self.agent_id} {self.login_at:%Y-%m-%d %H:%M}>"


class AgentStateChange(Base):
    """An agent's change of state (login, logout, pause, unpause), with the pause reason."""

    __tablename__ = "agent_state_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(100))

    agent: Mapped[Agent] = relationship(back_populates="state_changes")

    def __repr__(self) -> str:
        return f"<AgentStateChange agent={self.agent_id} {self.state}>"


# -- tickets --------------------------------------------------------------------------------------

class Incident(Base):
    """A group of similar tickets (同类事件) a supervisor confirmed, handled in one batch."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(50))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    address: Mapped[str | None] = mapped_column(String(200))
    #: open, closed.
    status: Mapped[str] = mapped_column(String(16), default="open")
    confirmed_by: Mapped[str] = mapped_column(String(50))
    confirmed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The one reply to every ticket (migration 0016): the callbacks to its citizens are those
    #: of its tickets created since, which is how its page counts "n of N reached".
    replied_at: Mapped[dt.datetime | None]
    replied_by: Mapped[str | None] = mapped_column(String(64))

    tickets: Mapped[list[Ticket]] = relationship(back_populates="incident")

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.kind}/{self.category} {self.status}>"


class Ticket(Base):
    """A citizen's request (诉求), from intake to closure; every change is a ``TicketEvent``."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_citizen_created", "citizen_id", "created_at"),
        #: The repeat-demand rule's look-up (L{hotline.indices.aggregate.count_events}).
        Index("ix_ticket_citizen_category_created", "citizen_id", "category", "created_at"),
        Index("ix_ticket_citizen_status", "citizen_id", "status"),
        Index("ix_ticket_kind_category_created", "kind", "category", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: RX + site-local date + daily sequence: RX20261126-000123.
    number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    #: The timed reply (定时回复) promised to the citizen: what the scheduler enforces.
    promised_reply_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # -- the life after intake and its clock (hotline/tickets, migration 0010) --
    #: Bumped by every change through the ticket service: a change made against an older
    #: version is refused (409), so two people acting at once never lose an update.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    #: The running clock (hotline.tickets.clock): the dispatcher's while the ticket waits to be
    #: dispatched, the department's from dispatch (or reopening) to reply; when it turns yellow.
    clock_started_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]
    warn_at: Mapped[dt.datetime | None]
    #: Complaints and requests for help: the citizen must be contacted by then (24 h).
    first_contact_due_at: Mapped[dt.datetime | None]
    first_contacted_at: Mapped[dt.datetime | None]
    #: The reminder (临期) and the 督办 notice of the current clock, once sent.
    warned_at: Mapped[dt.datetime | None]
    overdue_at: Mapped[dt.datetime | None]
    #: Times the citizen was not satisfied and the ticket went back (不满意重办).
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Opened by the system for an answered call the agent filed nothing for: the agent who
    #: took the call still has to complete it (category, address, content).
    needs_completion: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Where the problem is (WGS-84), when the channel knows (a grid worker's phone, Open311).
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    citizen: Mapped[Citizen | None] = relationship(back_populates="tickets")
    department: Mapped[Department | None] = relationship(back_populates="tickets")
    grid: Mapped[Grid | None] = relationship()
    incident: Mapped[Incident | None] = relationship(back_populates="tickets")
    merged_into: Mapped[Ticket | None] = relationship(remote_side=[id])
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id")
    calls: Mapped[list[Call]] = relationship(back_populates="ticket")
    callbacks: Mapped[list[Callback]] = relationship(back_populates="ticket")
    surveys: Mapped[list[SurveyResult]] = relationship(back_populates="ticket")
    co_departments: Mapped[list[Department]] = relationship(
        secondary="ticket_co_department", order_by="Department.code", viewonly=True)
    attachments: Mapped[list[TicketAttachment]] = relationship(
        back_populates="ticket", order_by="TicketAttachment.id")
    extensions: Mapped[list[TicketExtension]] = relationship(
        back_populates="ticket", order_by="TicketExtension.id")

    def __repr__(self) -> str:
        return f"<Ticket {self.number} {self.kind} {self.status}>"


class TicketEvent(Base):
    """One step of a ticket's life: who did what, when, and the status before and after."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: Indexed (migration 0021): the indices' daily fold reads one day's events.
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<TicketEvent {self.ticket_id} {self.action} {self.from_status}->{self.to_status}>"


class TicketSequence(Base):
    """The last ticket number given out on a site-local day; one row per day, locked to count."""

    __tablename__ = "ticket_sequence"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<TicketSequence {self.day} {self.last_value}>"


class MunicipalHotline(Base):
    """A directory entry: a municipal hotline an agent can bridge into a call (三方通话)."""

    __tablename__ = "municipal_hotline"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    fallback_numbers: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    #: "24/7", or clauses like "mon-fri 08:30-12:00 14:00-17:30; sat 09:00-12:00" (site time).
    service_hours: Mapped[str] = mapped_column(String(200), default="24/7")
    notes: Mapped[str | None] = mapped_column(Text)
    #: First letters of the name's pinyin (供水 → gs), for search from a Latin keyboard.
    pinyin_initials: Mapped[str] = mapped_column(String(100), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    department: Mapped[Department] = relationship(back_populates="hotlines")

    def __repr__(self) -> str:
        return f"<MunicipalHotline {self.number} {self.name}>"


# -- calls ----------------------------------------------------------------------------------------

class CallStatus(enum.StrEnum):
    """Where a call's row stands (``call.status``); the one set every module uses."""

    RINGING = "ringing"      # the row's default: nothing known yet
    QUEUED = "queued"        # the inbound script opened the row; in the dialplan or the queue
    ANSWERED = "answered"    # an agent took it (a row written while the call is up)
    COMPLETED = "completed"  # ended after an agent (or, for a callback, the citizen) answered
    ABANDONED = "abandoned"  # the citizen hung up before any agent answered
    FAILED = "failed"        # a callback's call that never reached the citizen


class TranscriptStatus(enum.StrEnum):
    """Where a speech-to-text job stands (``transcript.status``)."""

    QUEUED = "queued"    # waiting for a worker (again, after a failed try within the bound)
    RUNNING = "running"  # claimed by a worker (``worker``, ``claimed_at``)
    DONE = "done"        # decoded and stored
    FAILED = "failed"    # given up: bad audio or attempts exhausted
    SKIPPED = "skipped"  # not transcribed on purpose: nobody answered, the caller gave up early


class Call(Base):
    """One call leg as Asterisk saw it: inbound from a citizen, or a callback/survey we placed."""

    __tablename__ = "call"

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    #: inbound, callback, survey, outbound.
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str | None] = mapped_column(String(20))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    queue_wait_s: Mapped[float | None]
    talk_s: Mapped[float | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    hangup_cause: Mapped[int | None]
    #: citizen, agent, department, system.
    hungup_by: Mapped[str | None] = mapped_column(String(16))
    #: A L{CallStatus}.
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.RINGING)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)

    citizen: Mapped[Citizen | None] = relationship(back_populates="calls")
    agent: Mapped[Agent | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship(back_populates="calls")
    recordings: Mapped[list[CallRecording]] = relationship(back_populates="call")
    bridges: Mapped[list[Bridge]] = relationship(back_populates="call")
    transcripts: Mapped[list[Transcript]] = relationship(back_populates="call")

    def __repr__(self) -> str:
        return f"<Call {self.uniqueid} {self.direction} {self.status}>"


class CallRecording(Base):
    """A recording file of a call, one per direction (citizen, agent), the mix, or a room."""

    __tablename__ = "call_recording"
    __table_args__ = (
        CheckConstraint("direction in ('citizen', 'agent', 'mix', 'room')", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int | None]

    call: Mapped[Call] = relationship(back_populates="recordings")

    def __repr__(self) -> str:
        return f"<CallRecording {self.call_id} {self.direction}>"


class Bridge(Base):
    """A three-way call: the citizen's call moved into a room with a municipal hotline dialled in."""

    __tablename__ = "bridge"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("municipal_hotline.id"))
    room: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    # -- hotline/bridge (migration 0004): how it ended, the room's recording, who asked --
    #: answered (a department joined), no_answer, busy, congestion, unreachable, failed.
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: The whole room's audio (ConfBridge's own recording), as the controller's host sees it.
    recording_path: Mapped[str | None] = mapped_column(String(500))
    #: The agent who bridged (their code), for the ticket's record.
    agent_code: Mapped[str | None] = mapped_column(String(20))
    #: The directory entry's name when dialled (entries are renamed and removed).
    entry_name: Mapped[str | None] = mapped_column(String(100))

    call: Mapped[Call] = relationship(back_populates="bridges")
    hotline: Mapped[MunicipalHotline | None] = relationship()
    participants: Mapped[list[BridgeParticipant]] = relationship(back_populates="bridge")

    def __repr__(self) -> str:
        return f"<Bridge {self.id} room={self.room}>"


class BridgeParticipant(Base):
    """Who was in a bridge, from when to when, and how their leg ended."""

    __tablename__ = "bridge_participant"
    __table_args__ = (
        CheckConstraint("role in ('citizen', 'agent', 'department')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bridge_id: Mapped[int] = mapped_column(ForeignKey("bridge.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(100))
    number_dialled: Mapped[str | None] = mapped_column(String(20))
    joined_at: Mapped[dt.datetime | None]
    left_at: Mapped[dt.datetime | None]
    #: answered, no_answer, busy, failed, left.
    outcome: Mapped[str | None] = mapped_column(String(16))

    bridge: Mapped[Bridge] = relationship(back_populates="participants")

    def __repr__(self) -> str:
        return f"<BridgeParticipant {self.bridge_id} {self.role} {self.outcome}>"


# -- follow-up: callbacks, transcripts, surveys (migration 0002) ----------------------------------

class CallbackStatus(enum.StrEnum):
    """Where a timed reply stands (``callback.status``); the one set every module uses."""

    PENDING = "pending"          # waiting for its due time (or its next attempt)
    IN_PROGRESS = "in_progress"  # an attempt is being placed now
    DONE = "done"                # the citizen was reached (outcome ``reached``)
    FAILED = "failed"            # attempts exhausted (outcome ``not_reached``)
    CANCELLED = "cancelled"      # the ticket no longer needs it


class CallbackOutcome(enum.StrEnum):
    """How a finished timed reply ended (``callback.outcome``)."""

    REACHED = "reached"
    NOT_REACHED = "not_reached"


class SurveyStatus(enum.StrEnum):
    """Where a satisfaction survey call stands (``survey_call.status``)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Callback(Base):
    """A timed reply to keep: call the citizen back by ``due_at``; SLA met = reached in time."""

    __tablename__ = "callback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"), index=True)
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    #: Null: any free agent may take it.
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    #: A L{CallbackStatus}.
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sla_met: Mapped[bool | None]
    reached_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # -- scheduler (migration 0005) --
    #: When the next attempt is due (retry, quiet hours); null: at ``due_at``.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: reached, not_reached: how the promise ended (status done / failed).
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: The SLA deadline (due + grace) fixed when the callback was first scheduled, so reports
    #: never recompute history with a later grace setting.
    sla_deadline_at: Mapped[dt.datetime | None]
    #: The first attempt started after the due time (+ tolerance), e.g. the scheduler was down.
    late: Mapped[bool | None]
    first_attempt_at: Mapped[dt.datetime | None]
    #: An attempt fell in quiet hours and was moved to the next allowed time.
    quiet_hours_moved: Mapped[bool] = mapped_column(default=False)
    department_reminded_at: Mapped[dt.datetime | None]
    agent_reminded_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]
    #: The owner did not take it in time: handed to any free agent.
    handed_over_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="callbacks")
    citizen: Mapped[Citizen | None] = relationship()
    owner_agent: Mapped[Agent | None] = relationship()
    attempt_log: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="callback", order_by="CallbackAttempt.id")

    def __repr__(self) -> str:
        return f"<Callback {self.id} ticket={self.ticket_id} {self.status}>"


class CallbackAttempt(Base):
    """One try at a callback: when, by whom, over which channel, and how it ended."""

    __tablename__ = "callback_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id"), index=True)
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    #: answered, no_answer, busy, failed, citizen_hangup.
    outcome: Mapped[str | None] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    channel: Mapped[str | None] = mapped_column(String(100))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    # -- scheduler (migration 0005) --
    #: The agent leg's ChannelId (cb-<callback>-<n>): finds the call again after a restart.
    attempt_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    citizen_answered_at: Mapped[dt.datetime | None]
    #: What Asterisk said (DIALSTATUS, Originate reason), or why the scheduler decided.
    detail: Mapped[str | None] = mapped_column(String(200))

    callback: Mapped[Callback] = relationship(back_populates="attempt_log")

    def __repr__(self) -> str:
        return f"<CallbackAttempt {self.callback_id} {self.outcome}>"


class Transcript(Base):
    """A speech-to-text job and its result; the row is the persisted job (status says where)."""

    __tablename__ = "transcript"
    #: One job of a kind per call: a finaliser reporting the call twice queues it once.
    __table_args__ = (Index("ix_transcript_call_kind", "call_id", "kind", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id"), index=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("call_recording.id"))
    model: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(16))
    #: queued, running, done, failed.
    status: Mapped[str] = mapped_column(String(16), default=TranscriptStatus.QUEUED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # -- speech-to-text jobs (hotline/stt, migration 0006) --
    #: "call": every speaker's recording of the call, merged into one dialog.
    kind: Mapped[str] = mapped_column(String(16), default="call")
    #: Tries so far; bounded by stt.retries.
    attempts: Mapped[int] = mapped_column(default=0)
    #: A queued job is not taken before this time (the wait before a retry).
    retry_at: Mapped[dt.datetime | None]
    #: Which controller runs it, since when (a stopped controller's job is taken back).
    worker: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime | None]
    #: Category / department / hotline suggested from the words (never applied by itself).
    suggestion: Mapped[dict[str, Any] | None]
    #: The ticket note that carries the merged dialog, once written.
    ticket_event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    # -- live captions (hotline/floor/captions.py, migration 0014) --
    #: "recording": decoded after hang-up; "live": the captions shown during the call.
    source: Mapped[str] = mapped_column(String(16), default="recording",
                                        server_default="recording")

    call: Mapped[Call] = relationship(back_populates="transcripts")
    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="transcript", order_by="TranscriptSegment.start_s")

    def __repr__(self) -> str:
        return f"<Transcript {self.id} call={self.call_id} {self.status}>"


class KeptPlaceStatus(enum.StrEnum):
    """Where a kept place stands (``kept_place.status``)."""

    WAITING = "waiting"          # the stand-in holds the place in the queue
    CALLING = "calling"          # its turn came: an agent is reserved, the citizen dialled
    REACHED = "reached"          # the citizen answered
    NOT_REACHED = "not_reached"  # the citizen did not answer
    CANCELLED = "cancelled"      # taken back (取消) while still waiting


class KeptPlace(Base):
    """A waiting citizen who pressed 1 to keep their place in the queue and be called back
    (hotline/floor/keepplace.py): their place is held in the queue by a stand-in that arrived
    when they did; when its turn comes an agent is reserved and the citizen is dialled.
    """

    __tablename__ = "kept_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The citizen's channel of the call in which they kept their place.
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str] = mapped_column(String(64))
    #: When they joined the queue: the place they keep.
    joined_at: Mapped[dt.datetime]
    kept_at: Mapped[dt.datetime]
    position: Mapped[int | None]
    #: L{KeptPlaceStatus}.
    status: Mapped[str] = mapped_column(String(16), index=True)
    agent_code: Mapped[str | None] = mapped_column(String(16))
    called_at: Mapped[dt.datetime | None]
    reached_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    #: How the callback ended (the dialplan's DIALSTATUS, lower case: answer, noanswer, ...).
    outcome: Mapped[str | None] = mapped_column(String(16))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))

    def __repr__(self) -> str:
        return f"<KeptPlace {self.id} {self.caller_number} {self.status}>"


class TranscriptSegment(Base):
    """One utterance: who spoke, from when to when (seconds into the call), and what was said."""

    __tablename__ = "transcript_segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcript.id"), index=True)
    speaker: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float]
    end_s: Mapped[float]
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None]

    transcript: Mapped[Transcript] = relationship(back_populates="segments")

    def __repr__(self) -> str:
        return f"<TranscriptSegment {self.speaker} {self.start_s:.1f}-{self.end_s:.1f}>"


class SurveyResult(Base):
    """The citizen's rating of how a ticket was handled (满意度), or why there is none."""

    __tablename__ = "survey_result"
    __table_args__ = (
        CheckConstraint("score is null or (score >= 1 and score <= 5)", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    score: Mapped[int | None] = mapped_column(Integer)
    #: rated, no_answer, refused, no_input.
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    ticket: Mapped[Ticket] = relationship(back_populates="surveys")

    def __repr__(self) -> str:
        return f"<SurveyResult ticket={self.ticket_id} {self.outcome} {self.score}>"


# -- scheduler: survey calls and scheduler state (migration 0005) --------------------------------

class SurveyCall(Base):
    """The satisfaction survey call owed for a closed ticket: the persisted job behind a
    ``SurveyResult`` (one per ticket; status pending, in_progress, done)."""

    __tablename__ = "survey_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    #: The ticket's ``reopen_count`` when the survey was owed: a reopened ticket is surveyed
    #: again after its next reply (migration 0010; one survey per ticket and round).
    round: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(index=True)
    #: The ChannelId of the attempt in progress (sv-<id>-<n>).
    attempt_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<SurveyCall ticket={self.ticket_id} {self.status}>"


class SchedulerState(Base):
    """Small facts the scheduler keeps between runs (the last ticket event it scanned, the
    node that holds the lead), shared by every node."""

    __tablename__ = "scheduler_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<SchedulerState {self.key}={self.value}>"


__all__ += ["SurveyCall", "SchedulerState"]

#: Tables created by migration 0002 (the rest by 0001); the migration test checks the split.
REVISION_0002_TABLES = frozenset(
    {"callback", "callback_attempt", "transcript", "transcript_segment", "survey_result"})

__all__ += ["REVISION_0002_TABLES", "NAMING_CONVENTION"]


# -- reports: stored reports and the indexes the report queries use (migration 0008) -------------

class ReportRecord(Base):
    """A report as it was written (the daily public-sentiment report, 民情报告): its figures as
    JSON and the HTML page, one row per kind and site-local day; writing it again replaces it."""

    __tablename__ = "report_record"
    __table_args__ = (Index("ix_report_record_kind_day", "kind", "day", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: daily (民情报告).
    kind: Mapped[str] = mapped_column(String(16))
    #: The site-local day reported on, YYYY-MM-DD.
    day: Mapped[str] = mapped_column(String(10))
    generated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    html: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<ReportRecord {self.kind} {self.day}>"


#: The three rates look up dispatch and answer events by action within a period; with the
#: ticket id in it the indices' daily fold reads no event row (migration 0024).
Index("ix_ticket_event_action_at_ticket", TicketEvent.action, TicketEvent.at,
      TicketEvent.ticket_id)
#: The indices' daily fold reads a day's ratings from this index alone (migration 0024).
Index("ix_survey_result_fold", SurveyResult.at, SurveyResult.outcome, SurveyResult.score,
      SurveyResult.ticket_id)
#: The SLA report reads callbacks by due time and needs only these columns: a covering index
#: spares a table lookup per callback (a year of 145,000 callbacks on SQLite: ~3.2 s → ~2.0 s).
Index("ix_callback_report", Callback.due_at, Callback.status, Callback.sla_met,
      Callback.reached_at, Callback.sla_deadline_at, Callback.ticket_id, Callback.owner_agent_id)
#: The scheduler's rescan reads the pending callbacks falling due within its horizon, by due time
#: or by next attempt (migration 0009): with the status alone it walked every pending callback.
Index("ix_callback_pending_due", Callback.status, Callback.due_at)
Index("ix_callback_pending_next", Callback.status, Callback.next_attempt_at)

__all__ += ["ReportRecord"]


# -- console accounts, API keys, sessions, audit log, ticket drafts (hotline/web, migration 0007) -

class ConsoleUser(Base):
    """A person who signs in to the web console: agent, supervisor, admin or department liaison.

    Only an argon2 hash of the password is kept. An agent's ``agent_code`` is the queue seat
    (``queue.agents``) the desk logs in and pauses; a liaison's ``department_id`` scopes what
    they see.
    """

    __tablename__ = "console_user"
    __table_args__ = (
        CheckConstraint("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                        "'dispatcher', 'leader', 'organisation')",
                        name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    agent_code: Mapped[str | None] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    department: Mapped[Department | None] = relationship()

    def __repr__(self) -> str:
        return f"<ConsoleUser {self.username} {self.role}>"


class ConsoleSession(Base):
    """A signed-in browser: the cookie carries a random id, the table only its SHA-256, so a
    stolen database cannot be replayed as cookies and logging out really ends the session."""

    __tablename__ = "console_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[ConsoleUser] = relationship()

    def __repr__(self) -> str:
        return f"<ConsoleSession user={self.user_id}>"


class ApiKey(Base):
    """A key another intake channel (web form, WeChat bridge, grid workers' app) files tickets
    with over Open311; only its SHA-256 is kept, the prefix finds it in lists and logs."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The intake channel its tickets are filed under (hotline.tickets.schemas.CHANNELS).
    channel: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<ApiKey {self.name} {self.prefix}… {self.channel}>"


class AuditEntry(Base):
    """One action in the console or the APIs: who, from where, what, on what, and the outcome
    (ok, denied, failed); refusals are recorded as well as successes."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.actor} {self.action} {self.outcome}>"


class TicketDraft(Base):
    """What an agent has typed into a ticket form but not saved yet, kept server-side as they
    type so a dropped connection or a closed tab loses nothing; one per user and form key."""

    __tablename__ = "ticket_draft"
    __table_args__ = (Index("ix_ticket_draft_user_key", "user_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.id"))
    #: The form's key: the call's uniqueid, or "new" for a ticket without a call.
    key: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<TicketDraft user={self.user_id} {self.key}>"


__all__ += ["ConsoleUser", "ConsoleSession", "ApiKey", "AuditEntry", "TicketDraft"]


# -- the ticket's life after intake: dispatch, extensions, attachments, the calendar, notices ---
# (hotline/tickets, scheduler; migration 0010)

class TicketCoDepartment(Base):
    """A co-handling department (协办) of a dispatched ticket; the lead (主办) is
    ``Ticket.department``."""

    __tablename__ = "ticket_co_department"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True,
                                               index=True)

    def __repr__(self) -> str:
        return f"<TicketCoDepartment ticket={self.ticket_id} dept={self.department_id}>"


class TicketExtension(Base):
    """A department's request for more time (延期申请) and the supervisor's decision."""

    __tablename__ = "ticket_extension"
    #: The supervisor's list reads the oldest pending requests first; a department's page its
    #: own.
    __table_args__ = (
        Index("ix_ticket_extension_pending", "status", "requested_at"),
        Index("ix_ticket_extension_department", "department_id", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: The department that asked (the ticket's lead department then).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: Working days asked for, counted from the deadline in force.
    days: Mapped[float]
    reason: Mapped[str] = mapped_column(Text)
    #: pending, approved, refused.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(String(50))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decided_at: Mapped[dt.datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: The deadline before and after an approval.
    old_due_at: Mapped[dt.datetime | None]
    new_due_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="extensions")

    def __repr__(self) -> str:
        return f"<TicketExtension {self.id} ticket={self.ticket_id} {self.status}>"


class TicketAttachment(Base):
    """A file attached to a ticket's reply, stored under the state directory (never served
    to a role that may not read the ticket)."""

    __tablename__ = "ticket_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    #: The reply it came with (null until the reply is recorded).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    #: Relative to ``tickets.attachment_dir``.
    path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[str] = mapped_column(String(50))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")

    def __repr__(self) -> str:
        return f"<TicketAttachment {self.id} {self.filename}>"


class WorkCalendarDay(Base):
    """A site's own exception to China's calendar: a local holiday, or a day worked anyway."""

    __tablename__ = "work_calendar_day"

    #: Site-local date, YYYY-MM-DD.
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    workday: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<WorkCalendarDay {self.day} {'work' if self.workday else 'off'}>"


class ReminderCallStatus(enum.StrEnum):
    """Where a notice's reminder call stands (``department_notice.call_status``)."""

    NONE = "none"                # no call owed: the department has no duty number
    PENDING = "pending"          # waiting for its time (``call_next_at``): first try or a retry
    IN_PROGRESS = "in_progress"  # an attempt is being placed now (``call_key``)
    DONE = "done"                # finished, with ``call_outcome``


class ReminderCallOutcome(enum.StrEnum):
    """How a finished reminder call ended (``department_notice.call_outcome``)."""

    CONFIRMED = "confirmed"  # answered and 1 pressed
    ANSWERED = "answered"    # answered, no confirmation
    NO_ANSWER = "no_answer"  # every attempt went unanswered


class DepartmentNotice(Base):
    """A deadline reminder (临期) or a 督办 notice (overdue) to a department: shown on its page
    and the supervisor's, and called to its duty number ("press 1 to confirm")."""

    __tablename__ = "department_notice"
    __table_args__ = (Index("ix_department_notice_call", "call_status", "call_next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    #: remind (临期), supervise (督办).
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: The deadline the notice is about.
    due_at: Mapped[dt.datetime]
    text: Mapped[str] = mapped_column(Text)
    duty_number: Mapped[str | None] = mapped_column(String(20))
    #: The reminder call (L{ReminderCallStatus}).
    call_status: Mapped[str] = mapped_column(String(16), default=ReminderCallStatus.NONE)
    call_attempts: Mapped[int] = mapped_column(default=0)
    call_next_at: Mapped[dt.datetime | None]
    #: The ChannelId of the attempt in progress (rm-<id>-<n>).
    call_key: Mapped[str | None] = mapped_column(String(64))
    #: L{ReminderCallOutcome}.
    call_outcome: Mapped[str | None] = mapped_column(String(16))
    call_digit: Mapped[str | None] = mapped_column(String(4))
    call_finished_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<DepartmentNotice {self.id} {self.kind} ticket={self.ticket_id}>"


#: The worklists: the dispatcher's queue by status and age, a department's and the 督办 list by
#: deadline; the scheduler's scans for reminders and 督办 notices still to send.
Index("ix_ticket_status_created", Ticket.status, Ticket.created_at)
Index("ix_ticket_status_due", Ticket.status, Ticket.due_at)
Index("ix_ticket_department_status_due", Ticket.department_id, Ticket.status, Ticket.due_at)
Index("ix_ticket_warn_scan", Ticket.status, Ticket.warned_at, Ticket.warn_at)
Index("ix_ticket_overdue_scan", Ticket.status, Ticket.overdue_at, Ticket.due_at)
Index("ix_ticket_needs_completion", Ticket.needs_completion, Ticket.created_at)
#: One survey per ticket and round (a reopened ticket is surveyed again).
Index("ix_survey_call_ticket_round", SurveyCall.ticket_id, SurveyCall.round, unique=True)

__all__ += ["TicketCoDepartment", "TicketExtension", "TicketAttachment", "WorkCalendarDay",
            "DepartmentNotice", "ReminderCallStatus", "ReminderCallOutcome"]
# -- the district's map and its grid workers (hotline/grid, migration 0013) ---------------------

class Street(Base):
    """A street office's area (街道), the top of the map hierarchy."""

    __tablename__ = "street"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    geometry: Mapped[dict[str, Any] | None]

    communities: Mapped[list[Community]] = relationship(back_populates="street")

    def __repr__(self) -> str:
        return f"<Street {self.code} {self.name}>"


class Community(Base):
    """A community (社区) inside a street; its level-1 grids are ``grids``."""

    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    geometry: Mapped[dict[str, Any] | None]

    street: Mapped[Street] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community")

    def __repr__(self) -> str:
        return f"<Community {self.code} {self.name}>"


class MapImport(Base):
    """One accepted map file: what it was called, whether it is the shipped SAMPLE map, what it
    held, who imported it. The newest row describes the map in force (and versions the
    point-in-polygon index: a new row makes every controller rebuild it)."""

    __tablename__ = "map_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sample: Mapped[bool] = mapped_column(default=False)
    #: Records per level: {"street": 7, "community": 45, "grid": 120, "sub_grid": 532}.
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<MapImport {self.id} {self.name}{' SAMPLE' if self.sample else ''}>"


class GridAddress(Base):
    """An address the site knows the grid of (门牌地址表): a ticket with an address and no
    coordinates is placed by it. ``address`` is stored normalised (NFKC, no spaces)."""

    __tablename__ = "grid_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(200), unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    grid: Mapped[Grid] = relationship()

    def __repr__(self) -> str:
        return f"<GridAddress {self.address} grid={self.grid_id}>"


class GridReport(Base):
    """A problem a grid worker reported from the phone: the idempotency key the phone made for
    it (a report sent twice after a patchy network files one ticket), when it was made on the
    phone and when it arrived."""

    __tablename__ = "grid_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    made_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    worker: Mapped[GridWorker] = relationship()
    ticket: Mapped[Ticket] = relationship()

    def __repr__(self) -> str:
        return f"<GridReport {self.key} ticket={self.ticket_id}>"


class TicketPhoto(Base):
    """A photo on a ticket (a grid worker's report or verification answer), stored once by its
    SHA-256 under the state directory; served only to those who may see the ticket."""

    __tablename__ = "ticket_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    #: The verification task it answers (None: the report's own photo).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("verification_task.id"))
    taken_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<TicketPhoto {self.sha256[:12]} ticket={self.ticket_id}>"


class GridVisit(Base):
    """A visit (走访) a grid worker made: the household or key person, where and what was said."""

    __tablename__ = "grid_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    #: The sub-grid (or the worker's grid) the visit was in.
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    #: household (住户), key_person (重点人员).
    subject: Mapped[str] = mapped_column(String(16))
    visitee: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str] = mapped_column(Text)
    visited_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    worker: Mapped[GridWorker] = relationship()
    grid: Mapped[Grid] = relationship()

    def __repr__(self) -> str:
        return f"<GridVisit {self.id} {self.subject} worker={self.worker_id}>"


class VerificationTask(Base):
    """A ticket sent to the grid worker of its grid to check on site (核实), and the answer."""

    __tablename__ = "verification_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    #: open, answered, cancelled (hotline.grid.schemas.TaskStatus).
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    #: confirmed (属实), not_found (不属实), resolved (已解决) (hotline.grid.schemas.TaskResult).
    result: Mapped[str | None] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None]
    #: The phone's idempotency key of the answer (an answer sent twice is recorded once).
    answer_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    ticket: Mapped[Ticket] = relationship()
    worker: Mapped[GridWorker] = relationship()

    def __repr__(self) -> str:
        return f"<VerificationTask {self.id} ticket={self.ticket_id} {self.status}>"


class GridLog(Base):
    """A grid worker's daily log (民情日志): one per worker and site-local day."""

    __tablename__ = "grid_log"
    __table_args__ = (Index("ix_grid_log_worker_day", "worker_id", "day", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"))
    #: The site-local day, YYYY-MM-DD.
    day: Mapped[str] = mapped_column(String(10), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    worker: Mapped[GridWorker] = relationship()

    def __repr__(self) -> str:
        return f"<GridLog worker={self.worker_id} {self.day}>"


__all__ += ["Street", "Community", "MapImport", "GridAddress", "GridReport", "TicketPhoto",
            "GridVisit", "VerificationTask", "GridLog"]


# -- duplicates at intake and co-reporters (hotline/tickets/duplicates.py; migration 0016) -------

class TicketReporter(Base):
    """A citizen who reported a ticket's problem after its first reporter (一事多诉): the agent
    attached their call to the existing ticket instead of opening a new one. They are told the
    outcome like the first reporter (``Ticket.citizen``)."""

    __tablename__ = "ticket_reporter"
    __table_args__ = (Index("ix_ticket_reporter_ticket_citizen", "ticket_id", "citizen_id",
                            unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    #: The call the agent attached (null: attached from the API or the command line).
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    #: What this citizen said, in their own words.
    description: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    citizen: Mapped[Citizen] = relationship()

    def __repr__(self) -> str:
        return f"<TicketReporter ticket={self.ticket_id} citizen={self.citizen_id}>"


#: The candidates of one intake: open tickets of the same grid and category, newest first within
#: the window; without a grid, the same category (hotline.tickets.duplicates).
Index("ix_ticket_grid_category_created", Ticket.grid_id, Ticket.category, Ticket.created_at)
Index("ix_ticket_category_created", Ticket.category, Ticket.created_at)

__all__ += ["TicketReporter"]


# -- the leader's indices and early warnings (hotline/indices, migration 0017) -----------------

class IndexDay(Base):
    """One site-local day's counts for one level-1 grid × category, or for one department: the
    aggregate the dimension indices read. A day's rows are rewritten whole when that day is folded
    (``hotline.indices.aggregate.fold_day``), from that day's events only."""

    __tablename__ = "index_day"
    __table_args__ = (Index("ix_index_day_cut_day", "cut", "day"),
                      CheckConstraint("cut in ('area', 'grid', 'category', 'department')",
                                      name="cut"))

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    #: ``area``: one row per level-1 grid × category (department None); ``grid``: one row per
    #: level-1 grid (category ''); ``category``: one row per category (grid None);
    #: ``department``: one row per lead department (grid None, category '').
    cut: Mapped[str] = mapped_column(String(12))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: '' for tickets without a category (a key part, never NULL).
    category: Mapped[str] = mapped_column(String(50), default="")
    demands: Mapped[int] = mapped_column(default=0)
    repeats: Mapped[int] = mapped_column(default=0)
    finished: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[int] = mapped_column(default=0)
    surveyed: Mapped[int] = mapped_column(default=0)
    satisfied: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<IndexDay {self.day} grid={self.grid_id} {self.category} n={self.demands}>"


class IndexFold(Base):
    """A day folded into ``index_day``: when, and how many events it read."""

    __tablename__ = "index_fold"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    folded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    events: Mapped[int] = mapped_column(default=0)
    #: The highest ticket, event and rating ids when the fold began: a row above them arrived
    #: later (``hotline.indices.aggregate.catch_up`` refolds the finished days it falls in).
    ticket_mark: Mapped[int | None] = mapped_column(BigInteger)
    event_mark: Mapped[int | None] = mapped_column(BigInteger)
    survey_mark: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"<IndexFold {self.day} {self.events}>"


class EarlyWarning(Base):
    """An early warning (风险预警): a level-1 grid × category whose day count crossed its
    control limit; ``evidence`` keeps the baseline days and the day's ticket numbers; turned
    into a proactive task (未诉先办) it points at that ticket."""

    __tablename__ = "early_warning"
    __table_args__ = (
        Index("ix_early_warning_cell", "day", "grid_id", "category", unique=True),
        CheckConstraint("status in ('open', 'tasked', 'dismissed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    category: Mapped[str] = mapped_column(String(50))
    count: Mapped[int]
    baseline: Mapped[float]
    control_limit: Mapped[int]
    evidence: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    handled_by: Mapped[str | None] = mapped_column(String(50))

    grid: Mapped[Grid] = relationship()
    ticket: Mapped[Ticket | None] = relationship()

    def __repr__(self) -> str:
        return f"<EarlyWarning {self.day} grid={self.grid_id} {self.category} {self.count}>"


class MonthlyTopic(Base):
    """每月一题: the recurring problem (a level-1 grid × category) a leader picked as a month's
    topic to follow; one per month."""

    __tablename__ = "monthly_topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: YYYY-MM.
    month: Mapped[str] = mapped_column(String(7), unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    category: Mapped[str] = mapped_column(String(50))
    picked_by: Mapped[str] = mapped_column(String(50))
    picked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    grid: Mapped[Grid] = relationship()

    def __repr__(self) -> str:
        return f"<MonthlyTopic {self.month} grid={self.grid_id} {self.category}>"


__all__ += ["IndexDay", "IndexFold", "EarlyWarning", "MonthlyTopic"]


# -- residents' hearings and public-welfare projects (hotline/civic, migration 0018) ------------

class CouncilTopic(Base):
    """A residents' hearing topic (听证议事): collected from tickets or an incident, classified,
    noticed publicly, discussed at a street or community council, then reported on."""

    __tablename__ = "council_topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50), index=True)
    #: street or community (hotline.civic.status.CouncilLevel).
    level: Mapped[str] = mapped_column(String(16))
    council: Mapped[str] = mapped_column(String(100))
    #: What the public notice says about the topic (checked for the citizens' data).
    summary: Mapped[str] = mapped_column(Text)
    #: hotline.civic.status.TopicStatus.
    status: Mapped[str] = mapped_column(String(16), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    created_by: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    noticed_at: Mapped[dt.datetime | None]
    notice_until: Mapped[dt.datetime | None]
    meeting_at: Mapped[dt.datetime | None]
    meeting_place: Mapped[str | None] = mapped_column(String(200))
    participants: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    met_at: Mapped[dt.datetime | None]
    report: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[dt.datetime | None]
    reported_by: Mapped[str | None] = mapped_column(String(50))

    links: Mapped[list[CouncilTopicTicket]] = relationship(
        back_populates="topic", order_by="CouncilTopicTicket.ticket_id")

    def __repr__(self) -> str:
        return f"<CouncilTopic {self.id} {self.category} {self.status}>"


class CouncilTopicTicket(Base):
    """A demand behind a topic; ``told`` says how its citizen was given the outcome."""

    __tablename__ = "council_topic_ticket"

    topic_id: Mapped[int] = mapped_column(ForeignKey("council_topic.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, index=True)
    #: reply, note, reply+callback, note+callback; None until the after-report.
    told: Mapped[str | None] = mapped_column(String(24))

    topic: Mapped[CouncilTopic] = relationship(back_populates="links")
    ticket: Mapped[Ticket] = relationship()


class CivicOrganisation(Base):
    """A company, social organisation or donor that claims proposals and applies for subsidy."""

    __tablename__ = "civic_organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<CivicOrganisation {self.code}>"


class CivicMember(Base):
    """A console account acting for an organisation (one organisation per account)."""

    __tablename__ = "civic_member"

    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("civic_organisation.id"), index=True)

    organisation: Mapped[CivicOrganisation] = relationship()


class ProjectProposal(Base):
    """A project proposal (社会项目推介书, 申领制): merged demands for an organisation to claim."""

    __tablename__ = "project_proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50), index=True)
    area: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    #: Citizens behind the merged demands (first reporters and co-reporters, once each).
    citizens: Mapped[int] = mapped_column(Integer)
    #: Yuan.
    estimated_cost: Mapped[int] = mapped_column(Integer)
    #: hotline.civic.status.ProposalStatus.
    status: Mapped[str] = mapped_column(String(16), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("civic_organisation.id"))
    created_by: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(50))
    claimed_at: Mapped[dt.datetime | None]
    result: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[dt.datetime | None]

    organisation: Mapped[CivicOrganisation | None] = relationship()
    tickets: Mapped[list[Ticket]] = relationship(secondary="project_proposal_ticket",
                                                 order_by="Ticket.id")
    progress: Mapped[list[ProjectProgress]] = relationship(
        back_populates="proposal", order_by="ProjectProgress.id")

    def __repr__(self) -> str:
        return f"<ProjectProposal {self.id} {self.category} {self.status}>"


class ProjectProposalTicket(Base):
    """A demand merged into a proposal."""

    __tablename__ = "project_proposal_ticket"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("project_proposal.id"),
                                             primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, index=True)


class ProjectProgress(Base):
    """A progress report of the claiming organisation, with its photos."""

    __tablename__ = "project_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("project_proposal.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)

    proposal: Mapped[ProjectProposal] = relationship(back_populates="progress")
    photos: Mapped[list[ProjectPhoto]] = relationship(order_by="ProjectPhoto.id")


class ProjectPhoto(Base):
    """A photo of a progress report, kept by the tickets' attachment store (same limits)."""

    __tablename__ = "project_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    progress_id: Mapped[int] = mapped_column(ForeignKey("project_progress.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))


class ProjectApplication(Base):
    """An organisation's own project (申报制), scored by reviewers and subsidised in part."""

    __tablename__ = "project_application"
    __table_args__ = (
        CheckConstraint("subsidy_ratio is null or (subsidy_ratio >= 0 and subsidy_ratio <= 100)",
                        name="subsidy_ratio"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("civic_organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    #: Yuan.
    budget: Mapped[int] = mapped_column(Integer)
    benefit: Mapped[str] = mapped_column(Text)
    #: hotline.civic.status.ApplicationStatus.
    status: Mapped[str] = mapped_column(String(16), index=True)
    submitted_by: Mapped[str] = mapped_column(String(50))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Percent of the budget the district pays (0-100).
    subsidy_ratio: Mapped[int | None] = mapped_column(Integer)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decided_at: Mapped[dt.datetime | None]

    organisation: Mapped[CivicOrganisation] = relationship()
    reviews: Mapped[list[ApplicationReview]] = relationship(order_by="ApplicationReview.id")

    def __repr__(self) -> str:
        return f"<ProjectApplication {self.id} {self.status}>"


class ApplicationReview(Base):
    """One reviewer's score of an application (联合评审), once per reviewer."""

    __tablename__ = "application_review"
    __table_args__ = (
        CheckConstraint("score >= 0 and score <= 100", name="score"),
        Index("ix_application_review_reviewer", "application_id", "reviewer", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("project_application.id"))
    reviewer: Mapped[str] = mapped_column(String(50))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


__all__ += ["CouncilTopic", "CouncilTopicTicket", "CivicOrganisation", "CivicMember",
            "ProjectProposal", "ProjectProposalTicket", "ProjectProgress", "ProjectPhoto",
            "ProjectApplication", "ApplicationReview"]
