# -*- test-case-name: tests.civic.test_council -*-
"""Residents' hearings (听证议事) as people take them: a topic is collected from tickets or an
incident and classified (事前问政), noticed publicly with its council and meeting, discussed at
the meeting (participants, minutes, decisions; 事中协调), and reported on (事后通报), when
every citizen of a linked ticket is given the outcome through their ticket. Each function is
one unit of work for the API, the pages and ``hotline council``: roles checked, every step
audited, public text checked for the linked citizens' data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import CouncilTopic, CouncilTopicTicket, Ticket
from hotline.civic import demands
from hotline.civic.exceptions import NoSuchThing, WrongStep
from hotline.civic.status import LABELS, CouncilLevel, TopicStatus
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import audit
from hotline.web.roles import CIVIC_READERS, CIVIC_STAFF

__all__ = ["overview", "view", "create", "notice", "meeting", "report", "public_list",
           "public_view", "STEPS"]

#: The longest notice period (days).
MAX_NOTICE_DAYS = 60
#: step → (the status it starts from, the status it leads to).
STEPS: dict[str, tuple[TopicStatus, TopicStatus]] = {
    "notice": (TopicStatus.COLLECTED, TopicStatus.NOTICED),
    "meeting": (TopicStatus.NOTICED, TopicStatus.MET),
    "report": (TopicStatus.MET, TopicStatus.REPORTED),
}


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def _public(topic: CouncilTopic) -> dict[str, Any]:
    """What anyone may read: no ticket, no citizen."""
    return {"id": topic.id, "title": topic.title, "category": topic.category,
            "level": topic.level, "level_label": LABELS.get(topic.level, topic.level),
            "council": topic.council, "summary": topic.summary, "status": topic.status,
            "status_label": LABELS.get(topic.status, topic.status),
            "demands": len(topic.links), "noticed_at": _iso(topic.noticed_at),
            "notice_until": _iso(topic.notice_until), "meeting_at": _iso(topic.meeting_at),
            "meeting_place": topic.meeting_place, "participants": topic.participants,
            "minutes": topic.minutes, "decisions": topic.decisions, "report": topic.report,
            "met_at": _iso(topic.met_at), "reported_at": _iso(topic.reported_at)}


def _topic_dict(session: Session, topic: CouncilTopic, user: Any) -> dict[str, Any]:
    data = _public(topic) | {"created_by": topic.created_by,
                             "created_at": _iso(topic.created_at),
                             "incident": topic.incident_id, "reported_by": topic.reported_by}
    if user.role in CIVIC_STAFF:
        data["tickets"] = [demands.ticket_row(link.ticket) | {"told": link.told}
                           for link in topic.links]
    return data


def _get(session: Session, topic_id: int) -> CouncilTopic:
    return demands.fetch(session, CouncilTopic, topic_id, "topic")


def overview(session: Session, service: TicketService, user: Any, *,
             limit: int = 100) -> list[dict[str, Any]]:
    """The newest topics, as the console lists them."""
    return [_topic_dict(session, t, user)
            for t in demands.newest(session, user, CouncilTopic, "council topics", limit=limit)]


def view(session: Session, service: TicketService, user: Any, topic_id: int) -> dict[str, Any]:
    """One topic; staff also see its linked tickets and how each citizen was told."""
    if user.role not in CIVIC_READERS:
        raise NotAllowed("your role may not see council topics")
    return _topic_dict(session, _get(session, topic_id), user)


def _staff(user: Any) -> None:
    if user.role not in CIVIC_STAFF:
        raise NotAllowed("only the district's staff (supervisors) run council topics")


def create(session: Session, service: TicketService, user: Any, body: Any, *,
           ip: str | None) -> dict[str, Any]:
    """Collect a topic from ``tickets`` and/or an ``incident``, classified (``category``) and
    given a council (``level`` street or community, the council's name)."""
    _staff(user)
    fields = demands.public_fields(body, {"title": (200, True), "category": (50, True),
                                          "council": (100, True), "summary": (5000, True),
                                          "level": (16, True)})
    if fields["level"] not in tuple(CouncilLevel):
        raise InvalidRequest({"level": "street (街道) or community (社区)"})
    tickets, incident = demands.linked_tickets(session, body)
    demands.check_public(session, tickets, {k: fields[k] for k in ("title", "summary",
                                                                     "council")})
    topic = CouncilTopic(title=fields["title"], category=fields["category"],
                         level=fields["level"], council=fields["council"],
                         summary=fields["summary"], status=TopicStatus.COLLECTED,
                         incident_id=incident.id if incident else None,
                         created_by=user.username, created_at=service.clock())
    topic.links = [CouncilTopicTicket(ticket_id=t.id) for t in tickets]
    session.add(topic)
    session.flush()
    audit.record(session, actor=user.username, role=user.role, action="council.create",
                 target=str(topic.id), ip=ip,
                 details={"tickets": len(tickets), "incident": topic.incident_id})
    return _topic_dict(session, topic, user)


def _move(session: Session, topic: CouncilTopic, step: str, values: dict[str, Any]) -> None:
    """Take ``step`` as one conditional UPDATE: two people acting at once, one wins."""
    start, end = STEPS[step]
    won = session.execute(update(CouncilTopic).where(
        CouncilTopic.id == topic.id, CouncilTopic.status == start)
        .values(status=end, **values).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        session.refresh(topic)
        raise WrongStep(step, topic.status, [start])
    session.refresh(topic)


def _local_time(service: TicketService, text: str | None, field: str,
                problems: dict[str, str]) -> dt.datetime | None:
    if not text:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
        if at.tzinfo is None:
            at = at.replace(tzinfo=service.zone)
        return at.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # not a time; a time at the calendar's very edge
        problems[field] = "a local time like 2026-12-20T19:30"
        return None


def notice(session: Session, service: TicketService, user: Any, topic_id: int, body: Any, *,
           ip: str | None) -> dict[str, Any]:
    """Publish the topic's notice for ``notice_days`` days with the meeting's time
    (``meeting_at``, site time) and ``meeting_place``."""
    _staff(user)
    problems: dict[str, str] = {}
    fields = demands.public_fields(body, {"meeting_at": (32, False),
                                          "meeting_place": (200, True)}, problems)
    days = demands.whole_number(body, "notice_days", 1, MAX_NOTICE_DAYS, problems)
    meeting_at = _local_time(service, fields["meeting_at"], "meeting_at", problems)
    if problems:
        raise InvalidRequest(problems)
    topic = _get(session, topic_id)
    demands.check_public(session, [link.ticket for link in topic.links],
                         {"meeting_place": fields["meeting_place"]})
    now = service.clock()
    assert days is not None
    _move(session, topic, "notice", {"noticed_at": now,
                                     "notice_until": now + dt.timedelta(days=days),
                                     "meeting_at": meeting_at,
                                     "meeting_place": fields["meeting_place"]})
    audit.record(session, actor=user.username, role=user.role, action="council.notice",
                 target=str(topic.id), ip=ip, details={"days": days})
    return _topic_dict(session, topic, user)


def meeting(session: Session, service: TicketService, user: Any, topic_id: int, body: Any, *,
            ip: str | None) -> dict[str, Any]:
    """Record the meeting: ``participants``, ``minutes`` and ``decisions``."""
    _staff(user)
    fields = demands.public_fields(body, {"participants": (2000, True),
                                          "minutes": (10_000, True),
                                          "decisions": (5000, True)})
    topic = _get(session, topic_id)
    demands.check_public(session, [link.ticket for link in topic.links], fields)
    _move(session, topic, "meeting", {**fields, "met_at": service.clock()})
    audit.record(session, actor=user.username, role=user.role, action="council.meeting",
                 target=str(topic.id), ip=ip, details={})
    return _topic_dict(session, topic, user)


def report(session: Session, service: TicketService, user: Any, topic_id: int, body: Any, *,
           ip: str | None) -> dict[str, Any]:
    """Publish the after-report (``report``) and give every linked ticket's citizen the
    outcome through their ticket (TicketService.tell_outcome), all or none."""
    _staff(user)
    fields = demands.public_fields(body, {"report": (5000, True)})
    topic = _get(session, topic_id)
    tickets = [link.ticket for link in topic.links]
    demands.check_public(session, tickets, fields)
    _move(session, topic, "report", {"report": fields["report"], "reported_at": service.clock(),
                                     "reported_by": user.username})
    text = (f"您反映的问题已提交{topic.council}议事（议题 {topic.id}《{topic.title}》）。"
            f"议事决定：{topic.decisions}。通报：{topic.report}")
    told: dict[str, int] = {}
    for link in topic.links:
        link.told = service.tell_outcome(session, link.ticket_id, actor=user.username,
                                         text=text[:5000])
        told[link.told] = told.get(link.told, 0) + 1
    audit.record(session, actor=user.username, role=user.role, action="council.report",
                 target=str(topic.id), ip=ip, details={"told": told})
    session.flush()
    return _topic_dict(session, topic, user)


def public_list(session: Session) -> list[dict[str, Any]]:
    """The topics the public may read (noticed or later), newest first."""
    topics = session.scalars(select(CouncilTopic).where(
        CouncilTopic.status != TopicStatus.COLLECTED).order_by(CouncilTopic.id.desc())
        .limit(200))
    return [_public(t) for t in topics]


def public_view(session: Session, topic_id: int) -> dict[str, Any]:
    """One published topic; a topic not yet noticed is not found."""
    topic = session.get(CouncilTopic, topic_id)
    if topic is None or topic.status == TopicStatus.COLLECTED:
        raise NoSuchThing("topic", topic_id)
    return _public(topic)


def tickets_of(session: Session, topic_id: int) -> list[Ticket]:
    """The linked tickets (for tests and the command line)."""
    return [link.ticket for link in _get(session, topic_id).links]
