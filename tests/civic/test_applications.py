"""Applications (申报制) as units of work on SQLite and PostgreSQL: submitted by an
organisation, scored by several reviewers on 0-100, decided with a subsidy ratio and
published; a score off the scale, a review by the applicant's own organisation, a second
review and a decision before two reviews are refused and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import ApplicationReview, AuditEntry
from hotline.civic import applications
from hotline.civic.exceptions import WrongStep
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import accounts
from tests.civic.support import as_user, organisation

APPLICATION = {"title": "孤独症儿童康复陪伴", "summary": "每周两次康复训练陪伴", "budget": 200000,
               "benefit": "服务40个家庭"}


def _setup(db) -> int:
    with db.begin() as s:
        accounts.create_user(s, "boss", role="supervisor", password="boss-pass-0001")
        accounts.create_user(s, "chief", role="leader", password="chief-pass-0001")
        for name in ("hope", "hope2", "acme"):
            accounts.create_user(s, name, role="organisation", password=f"{name}-pass-0001")
        organisation(s, "HOPE", "希望公益", "hope")
        organisation(s, "ACME", "爱心建设公司", "acme")
        from db.models import CivicMember, CivicOrganisation, ConsoleUser

        hope = s.scalars(select(CivicOrganisation).where(CivicOrganisation.code == "HOPE")).one()
        user = s.scalars(select(ConsoleUser).where(ConsoleUser.username == "hope2")).one()
        s.add(CivicMember(user_id=user.id, organisation_id=hope.id))
        s.flush()
        return applications.submit(s, TicketService(), as_user(s, "hope"), APPLICATION,
                                   ip="t")["id"]


def _reviews(db) -> int:
    with db.begin() as s:
        return s.scalar(select(func.count()).select_from(ApplicationReview))


def test_two_reviews_then_decision_published(db):
    """A leader and another organisation score it; approved at 60 %: the public view gives
    the average, the scores without reviewers and the subsidy of 120000 yuan."""
    aid = _setup(db)
    service = TicketService()
    with db.begin() as s, pytest.raises(WrongStep):
        applications.decide(s, service, as_user(s, "boss"), aid,
                            {"approve": True, "subsidy_ratio": 60}, ip="t")
    with db.begin() as s:
        applications.review(s, service, as_user(s, "chief"), aid, {"score": 90}, ip="t")
        applications.review(s, service, as_user(s, "acme"), aid, {"score": 80,
                                                                 "comment": "需求明确"}, ip="t")
        assert applications.public_list(s) == []
        applications.decide(s, service, as_user(s, "boss"), aid,
                            {"approve": True, "subsidy_ratio": 60, "note": "按60%补贴"}, ip="t")
        public = applications.public_view(s, aid)
    assert (public["status"], public["average_score"], public["scores"], public["subsidy"]) == (
        "approved", 85.0, [90, 80], 120000)
    assert "chief" not in str(public) and "acme" not in str(public)
    with db.begin() as s:
        assert [a for a in s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("application.%")).order_by(AuditEntry.id))] == [
            "application.submit", "application.review", "application.review",
            "application.decide"]


@pytest.mark.parametrize("who, body, error", [
    ("chief", {"score": 101}, InvalidRequest),
    ("chief", {"score": -1}, InvalidRequest),
    ("chief", {"score": "很好"}, InvalidRequest),
    ("chief", {"score": 75.5}, InvalidRequest),
    ("hope2", {"score": 100}, NotAllowed),
    ("hope", {"score": 100}, NotAllowed),
])
def test_bad_reviews_are_refused(db, who, body, error):
    """A score off the 0-100 scale and a review by the applicant's own organisation are
    refused; no review is stored."""
    aid = _setup(db)
    with db.begin() as s, pytest.raises(error):
        applications.review(s, TicketService(), as_user(s, who), aid, body, ip="t")
    assert _reviews(db) == 0


def test_second_review_and_decision_after_decision_are_refused(db):
    """One reviewer reviews once; a decided application takes no more reviews or decisions;
    approving without a ratio is refused."""
    aid = _setup(db)
    service = TicketService()
    with db.begin() as s:
        applications.review(s, service, as_user(s, "chief"), aid, {"score": 70}, ip="t")
    with db.begin() as s, pytest.raises(WrongStep):
        applications.review(s, service, as_user(s, "chief"), aid, {"score": 95}, ip="t")
    with db.begin() as s:
        applications.review(s, service, as_user(s, "boss"), aid, {"score": 60}, ip="t")
    with db.begin() as s, pytest.raises(InvalidRequest) as e:
        applications.decide(s, service, as_user(s, "boss"), aid, {"approve": True}, ip="t")
    assert "subsidy_ratio" in e.value.details["fields"]
    with db.begin() as s:
        applications.decide(s, service, as_user(s, "boss"), aid, {"approve": False}, ip="t")
    with db.begin() as s, pytest.raises(WrongStep):
        applications.review(s, service, as_user(s, "acme"), aid, {"score": 50}, ip="t")
    with db.begin() as s, pytest.raises(WrongStep):
        applications.decide(s, service, as_user(s, "boss"), aid,
                            {"approve": True, "subsidy_ratio": 50}, ip="t")
    assert _reviews(db) == 2
    with db.begin() as s:
        assert applications.public_view(s, aid)["subsidy"] is None
