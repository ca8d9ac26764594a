# -*- test-case-name: tests.civic.test_projects -*-
"""Project proposals (社会项目推介书, 申领制) as people take them: staff merge demands into a
proposal (category, area, the citizens behind it, estimated cost) published at once; an
organisation claims it (one conditional UPDATE: a second claim is refused and changes
nothing), reports progress with photos (the tickets' attachment store and its limits), and
finishes it, when every linked ticket's citizen is given the result through their ticket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import ProjectPhoto, ProjectProgress, ProjectProposal, ProjectProposalTicket
from hotline.civic import demands, organisations
from hotline.civic.exceptions import AlreadyClaimed, WrongStep
from hotline.civic.status import LABELS, ProposalStatus
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import audit
from hotline.web.roles import CIVIC_READERS, CIVIC_STAFF

__all__ = ["overview", "view", "create", "claim", "progress", "finish", "photo",
           "public_list", "public_view", "MAX_PHOTOS"]

#: The most photos one progress report carries.
MAX_PHOTOS = 6
#: The largest estimated cost a proposal states (yuan).
MAX_COST = 100_000_000


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def _public(p: ProjectProposal) -> dict[str, Any]:
    """What anyone may read: no ticket, no citizen, progress without its photos."""
    return {"id": p.id, "title": p.title, "category": p.category, "area": p.area,
            "summary": p.summary, "citizens": p.citizens, "demands": len(p.tickets),
            "estimated_cost": p.estimated_cost, "status": p.status,
            "status_label": LABELS.get(p.status, p.status),
            "organisation": p.organisation.name if p.organisation else None,
            "claimed_at": _iso(p.claimed_at), "finished_at": _iso(p.finished_at),
            "result": p.result, "created_at": _iso(p.created_at),
            "progress": [{"at": _iso(r.at), "text": r.text, "photos": len(r.photos)}
                         for r in p.progress]}


def _dict(p: ProjectProposal, user: Any) -> dict[str, Any]:
    data = _public(p) | {"created_by": p.created_by, "claimed_by": p.claimed_by}
    data["progress"] = [{"at": _iso(r.at), "actor": r.actor, "text": r.text,
                         "photos": [{"id": f.id, "filename": f.filename,
                                     "url": f"/api/civic/photos/{f.id}"} for f in r.photos]}
                        for r in p.progress]
    if user.role in CIVIC_STAFF:
        data["tickets"] = [demands.ticket_row(t) for t in p.tickets]
    return data


def _get(session: Session, proposal_id: int) -> ProjectProposal:
    return demands.fetch(session, ProjectProposal, proposal_id, "proposal")


def overview(session: Session, service: TicketService, user: Any, *,
             limit: int = 100) -> list[dict[str, Any]]:
    """The newest proposals."""
    return [_dict(p, user) for p in demands.newest(session, user, ProjectProposal,
                                                   "project proposals", limit=limit)]


def view(session: Session, service: TicketService, user: Any,
         proposal_id: int) -> dict[str, Any]:
    if user.role not in CIVIC_READERS:
        raise NotAllowed("your role may not see project proposals")
    return _dict(_get(session, proposal_id), user)


def create(session: Session, service: TicketService, user: Any, body: Any, *,
           ip: str | None) -> dict[str, Any]:
    """Merge ``tickets`` and/or an ``incident`` into a proposal with ``title``, ``category``,
    ``area``, ``summary`` and ``estimated_cost`` (yuan); the citizens behind it are counted."""
    if user.role not in CIVIC_STAFF:
        raise NotAllowed("only the district's staff write project proposals")
    problems: dict[str, str] = {}
    fields = demands.public_fields(body, {"title": (200, True), "category": (50, True),
                                          "area": (100, True), "summary": (5000, True)},
                                   problems)
    cost = demands.whole_number(body, "estimated_cost", 1, MAX_COST, problems)
    if problems:
        raise InvalidRequest(problems)
    tickets, _ = demands.linked_tickets(session, body)
    demands.check_public(session, tickets, fields)
    taken = session.scalars(select(ProjectProposalTicket.ticket_id).where(
        ProjectProposalTicket.ticket_id.in_([t.id for t in tickets]))).all()
    if taken:
        numbers = [t.number for t in tickets if t.id in set(taken)]
        raise InvalidRequest({"tickets": "already in a proposal: " + ", ".join(numbers)})
    p = ProjectProposal(title=fields["title"], category=fields["category"], area=fields["area"],
                        summary=fields["summary"], estimated_cost=cost,
                        citizens=len(demands.citizen_ids(session, tickets)),
                        status=ProposalStatus.PUBLISHED, created_by=user.username,
                        created_at=service.clock())
    p.tickets = list(tickets)
    session.add(p)
    session.flush()
    audit.record(session, actor=user.username, role=user.role, action="project.create",
                 target=str(p.id), ip=ip, details={"tickets": len(tickets), "cost": cost})
    return _dict(p, user)


def claim(session: Session, service: TicketService, user: Any, proposal_id: int, body: Any,
          *, ip: str | None) -> dict[str, Any]:
    """The user's organisation claims the proposal: one conditional UPDATE, so of two claims
    one wins and the other is refused (AlreadyClaimed) with nothing changed."""
    org = organisations.own(session, user)
    p = _get(session, proposal_id)
    won = session.execute(update(ProjectProposal).where(
        ProjectProposal.id == p.id, ProjectProposal.status == ProposalStatus.PUBLISHED)
        .values(status=ProposalStatus.CLAIMED, organisation_id=org.id,
                claimed_by=user.username, claimed_at=service.clock())
        .execution_options(synchronize_session=False))
    session.refresh(p)
    if won.rowcount != 1:
        raise AlreadyClaimed(p.id, p.organisation.name if p.organisation else None)
    audit.record(session, actor=user.username, role=user.role, action="project.claim",
                 target=str(p.id), ip=ip, details={"organisation": org.code})
    return _dict(p, user)


def _claimed_by_own(session: Session, user: Any, proposal_id: int,
                    step: str) -> ProjectProposal:
    org = organisations.own(session, user)
    p = _get(session, proposal_id)
    if p.organisation_id != org.id:
        raise NotAllowed(f"项目 {p.id} 不是本组织认领的 (not claimed by {org.name})")
    if p.status != ProposalStatus.CLAIMED:
        raise WrongStep(step, p.status, [ProposalStatus.CLAIMED])
    return p


def progress(session: Session, service: TicketService, user: Any, proposal_id: int, body: Any,
             *, ip: str | None, store: AttachmentStore | None = None,
             files: Sequence[Any] = ()) -> dict[str, Any]:
    """The claiming organisation reports progress (``text``) with up to MAX_PHOTOS photos
    (``files``: filename, content_type, data), each checked by the attachment store."""
    fields = demands.public_fields(body, {"text": (5000, True)})
    if len(files) > MAX_PHOTOS:
        raise InvalidRequest({"photos": f"at most {MAX_PHOTOS} photos per report"})
    if files and store is None:
        raise InvalidRequest({"photos": "this node keeps no files"})
    p = _claimed_by_own(session, user, proposal_id, "progress")
    demands.check_public(session, p.tickets, fields)
    report = ProjectProgress(proposal_id=p.id, at=service.clock(), actor=user.username,
                             text=fields["text"])
    kept: list[str] = []
    try:
        for f in files:
            assert store is not None
            name, ctype, digest, relative = store.keep(
                f.data, folder=f"civic/{p.id}", filename=f.filename,
                content_type=f.content_type)
            kept.append(relative)
            report.photos.append(ProjectPhoto(filename=name, content_type=ctype,
                                              size_bytes=len(f.data), sha256=digest,
                                              path=relative))
        session.add(report)
        session.flush()
    except BaseException:
        for relative in kept:
            assert store is not None
            store.discard(relative)
        raise
    audit.record(session, actor=user.username, role=user.role, action="project.progress",
                 target=str(p.id), ip=ip, details={"photos": len(files)})
    session.refresh(p)
    return _dict(p, user)


def finish(session: Session, service: TicketService, user: Any, proposal_id: int, body: Any,
           *, ip: str | None) -> dict[str, Any]:
    """The claiming organisation finishes the project (``result``); every linked ticket's
    citizen is given the result through their ticket (TicketService.tell_outcome)."""
    fields = demands.public_fields(body, {"result": (5000, True)})
    p = _claimed_by_own(session, user, proposal_id, "finish")
    demands.check_public(session, p.tickets, fields)
    won = session.execute(update(ProjectProposal).where(
        ProjectProposal.id == p.id, ProjectProposal.status == ProposalStatus.CLAIMED)
        .values(status=ProposalStatus.FINISHED, result=fields["result"],
                finished_at=service.clock()).execution_options(synchronize_session=False))
    session.refresh(p)
    if won.rowcount != 1:
        raise WrongStep("finish", p.status, [ProposalStatus.CLAIMED])
    text = (f"您反映的问题已纳入公益项目《{p.title}》，由{p.organisation.name}认领实施，"
            f"现已完成：{p.result}")
    told: dict[str, int] = {}
    for t in p.tickets:
        how = service.tell_outcome(session, t.id, actor=user.username, text=text[:5000])
        told[how] = told.get(how, 0) + 1
    audit.record(session, actor=user.username, role=user.role, action="project.finish",
                 target=str(p.id), ip=ip, details={"told": told})
    return _dict(p, user)


def photo(session: Session, service: TicketService, user: Any, photo_id: int,
          store: AttachmentStore) -> tuple[bytes, str, str]:
    """A progress photo's bytes, name and type, for the console's readers."""
    if user.role not in CIVIC_READERS:
        raise NotAllowed("your role may not see project photos")
    row = demands.fetch(session, ProjectPhoto, photo_id, "photo")
    return store.read(row), row.filename, row.content_type


def public_list(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ProjectProposal).order_by(ProjectProposal.id.desc())
                           .limit(200))
    return [_public(p) for p in rows]


def public_view(session: Session, proposal_id: int) -> dict[str, Any]:
    return _public(_get(session, proposal_id))
