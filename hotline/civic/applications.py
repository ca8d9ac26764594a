# -*- test-case-name: tests.civic.test_applications -*-
"""Applications (申报制) as people take them: an organisation submits its own project with a
budget and the expected benefit; several reviewers score it on a fixed scale (SCORE_RANGE),
never a reviewer of the applicant's own organisation and each once; staff record the decision
and the subsidy ratio (percent of the budget), which are published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import ApplicationReview, ProjectApplication
from hotline.civic import demands, organisations
from hotline.civic.exceptions import NoSuchThing, WrongStep
from hotline.civic.status import LABELS, SCORE_RANGE, ApplicationStatus
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import audit
from hotline.web.roles import CIVIC_READERS, CIVIC_STAFF, REVIEWERS

__all__ = ["overview", "view", "submit", "review", "decide", "public_list", "public_view",
           "MIN_REVIEWS"]

#: Reviews an application needs before it is decided (联合评审: more than one person).
MIN_REVIEWS = 2
#: The largest budget an application states (yuan).
MAX_BUDGET = 100_000_000
_PUBLISHED = (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def _public(a: ProjectApplication) -> dict[str, Any]:
    """What anyone may read of a decided application: scores without their reviewers."""
    scores = [r.score for r in a.reviews]
    ratio = a.subsidy_ratio
    return {"id": a.id, "title": a.title, "summary": a.summary, "budget": a.budget,
            "benefit": a.benefit, "organisation": a.organisation.name, "status": a.status,
            "status_label": LABELS.get(a.status, a.status), "reviews": len(scores),
            "scores": scores,
            "average_score": round(sum(scores) / len(scores), 1) if scores else None,
            "subsidy_ratio": ratio,
            "subsidy": a.budget * ratio // 100 if ratio is not None else None,
            "decision_note": a.decision_note, "submitted_at": _iso(a.submitted_at),
            "decided_at": _iso(a.decided_at)}


def _dict(session: Session, a: ProjectApplication, user: Any) -> dict[str, Any]:
    data = _public(a) | {"organisation_code": a.organisation.code,
                         "submitted_by": a.submitted_by, "decided_by": a.decided_by}
    data["review_list"] = [{"reviewer": r.reviewer, "score": r.score, "comment": r.comment,
                            "at": _iso(r.at)} for r in a.reviews]
    own = organisations.of_user(session, user)
    data["may_review"] = (user.role in REVIEWERS and a.status == ApplicationStatus.SUBMITTED
                          and (own is None or own.id != a.organisation_id)
                          and all(r.reviewer != user.username for r in a.reviews))
    return data


def _get(session: Session, application_id: int) -> ProjectApplication:
    return demands.fetch(session, ProjectApplication, application_id, "application")


def overview(session: Session, service: TicketService, user: Any, *,
             limit: int = 100) -> list[dict[str, Any]]:
    """The newest applications."""
    return [_dict(session, a, user) for a in demands.newest(
        session, user, ProjectApplication, "applications", limit=limit)]


def view(session: Session, service: TicketService, user: Any,
         application_id: int) -> dict[str, Any]:
    if user.role not in CIVIC_READERS:
        raise NotAllowed("your role may not see applications")
    return _dict(session, _get(session, application_id), user)


def submit(session: Session, service: TicketService, user: Any, body: Any, *,
           ip: str | None) -> dict[str, Any]:
    """The user's organisation applies: ``title``, ``summary``, ``budget`` (yuan), ``benefit``."""
    org = organisations.own(session, user)
    problems: dict[str, str] = {}
    fields = demands.public_fields(body, {"title": (200, True), "summary": (5000, True),
                                          "benefit": (2000, True)}, problems)
    budget = demands.whole_number(body, "budget", 1, MAX_BUDGET, problems)
    if problems:
        raise InvalidRequest(problems)
    a = ProjectApplication(organisation_id=org.id, title=fields["title"],
                           summary=fields["summary"], benefit=fields["benefit"], budget=budget,
                           status=ApplicationStatus.SUBMITTED, submitted_by=user.username,
                           submitted_at=service.clock())
    session.add(a)
    session.flush()
    audit.record(session, actor=user.username, role=user.role, action="application.submit",
                 target=str(a.id), ip=ip, details={"organisation": org.code, "budget": budget})
    return _dict(session, a, user)


def review(session: Session, service: TicketService, user: Any, application_id: int,
           body: Any, *, ip: str | None) -> dict[str, Any]:
    """Score the application (``score`` within SCORE_RANGE, ``comment``); refused for a
    reviewer of the applicant's own organisation, a second review by the same reviewer, or an
    application already decided."""
    if user.role not in REVIEWERS:
        raise NotAllowed("your role may not review applications")
    problems: dict[str, str] = {}
    fields = demands.public_fields(body, {"comment": (2000, False)}, problems)
    lo, hi = SCORE_RANGE
    score = demands.whole_number(body, "score", lo, hi, problems)
    if problems:
        raise InvalidRequest(problems)
    a = _get(session, application_id)
    own = organisations.of_user(session, user)
    if own is not None and own.id == a.organisation_id:
        raise NotAllowed(f"不得评审本组织的申报 (a reviewer of {own.name} may not review its "
                         "own application)", {"organisation": own.code})
    if a.status != ApplicationStatus.SUBMITTED:
        raise WrongStep("review", a.status, [ApplicationStatus.SUBMITTED])
    if any(r.reviewer == user.username for r in a.reviews):
        raise WrongStep("review again", "reviewed by you", ["not yet reviewed by you"])
    a.reviews.append(ApplicationReview(reviewer=user.username, score=score,
                                       comment=fields["comment"], at=service.clock()))
    session.flush()
    audit.record(session, actor=user.username, role=user.role, action="application.review",
                 target=str(a.id), ip=ip, details={"score": score})
    return _dict(session, a, user)


def decide(session: Session, service: TicketService, user: Any, application_id: int,
           body: Any, *, ip: str | None) -> dict[str, Any]:
    """Staff decide after MIN_REVIEWS reviews: ``approve`` (true/false), the ``subsidy_ratio``
    (percent, required to approve), a ``note``; the decision is published."""
    if user.role not in CIVIC_STAFF:
        raise NotAllowed("only the district's staff decide applications")
    if not isinstance(body, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    problems: dict[str, str] = {}
    fields = demands.public_fields(body, {"note": (2000, False)}, problems)
    approve = body.get("approve")
    if isinstance(approve, str):
        approve = {"true": True, "yes": True, "1": True, "false": False, "no": False,
                   "0": False}.get(approve.strip().lower(), approve)
    if not isinstance(approve, bool):
        problems["approve"] = "is required (true: 立项, false: 不予立项)"
    ratio = demands.whole_number(body, "subsidy_ratio", 0, 100, problems,
                                 required=approve is True)
    if problems:
        raise InvalidRequest(problems)
    a = _get(session, application_id)
    if len(a.reviews) < MIN_REVIEWS:
        raise WrongStep("decide", f"reviewed {len(a.reviews)} times",
                        [f"{MIN_REVIEWS} reviews or more"])
    status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    won = session.execute(update(ProjectApplication).where(
        ProjectApplication.id == a.id, ProjectApplication.status == ApplicationStatus.SUBMITTED)
        .values(status=status, subsidy_ratio=ratio if approve else None,
                decision_note=fields["note"], decided_by=user.username,
                decided_at=service.clock()).execution_options(synchronize_session=False))
    session.refresh(a)
    if won.rowcount != 1:
        raise WrongStep("decide", a.status, [ApplicationStatus.SUBMITTED])
    audit.record(session, actor=user.username, role=user.role, action="application.decide",
                 target=str(a.id), ip=ip,
                 details={"status": str(status), "subsidy_ratio": a.subsidy_ratio})
    return _dict(session, a, user)


def public_list(session: Session) -> list[dict[str, Any]]:
    """Decided applications, newest first."""
    rows = session.scalars(select(ProjectApplication).where(
        ProjectApplication.status.in_(_PUBLISHED)).order_by(ProjectApplication.id.desc())
        .limit(200))
    return [_public(a) for a in rows]


def public_view(session: Session, application_id: int) -> dict[str, Any]:
    a = session.get(ProjectApplication, application_id)
    if a is None or a.status not in _PUBLISHED:
        raise NoSuchThing("application", application_id)
    return _public(a)
