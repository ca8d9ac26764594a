"""Project proposals (申领制) as units of work on SQLite and PostgreSQL: merged from demands,
claimed once (a second claim refused, nothing changed), progress with photos within the
attachment limits, finished with every linked ticket told."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import AuditEntry, ProjectPhoto, ProjectProposal, Ticket
from hotline.civic import projects
from hotline.civic.exceptions import AlreadyClaimed
from hotline.tickets.actions import UploadedFile
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.exceptions import AttachmentRefused, InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import accounts
from tests.civic.support import as_user, courtyard_tickets, organisation

PROPOSAL = {"title": "幸福里废弃院落改造", "category": "小区环境", "area": "幸福里社区",
            "summary": "清运杂物、铺装地面、设置座椅", "estimated_cost": 80000}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _setup(db) -> list[str]:
    with db.begin() as s:
        accounts.create_user(s, "boss", role="supervisor", password="boss-pass-0001")
        for name in ("acme", "hope"):
            accounts.create_user(s, name, role="organisation", password=f"{name}-pass-0001")
        organisation(s, "ACME", "爱心建设公司", "acme")
        organisation(s, "HOPE", "希望公益", "hope")
        return courtyard_tickets(s)


def test_proposal_claimed_once_progressed_and_finished(db, tmp_path):
    """The proposal counts three citizens; ACME claims it, HOPE's second claim is refused
    with the first standing; ACME reports progress with a photo and finishes; each linked
    ticket carries the result."""
    numbers = _setup(db)
    service = TicketService()
    store = AttachmentStore(tmp_path, max_bytes=1000, types=["image/png"])
    with db.begin() as s:
        p = projects.create(s, service, as_user(s, "boss"), PROPOSAL | {"tickets": numbers},
                            ip="t")
        assert p["citizens"] == 3 and p["status"] == "published"
    with db.begin() as s:
        projects.claim(s, service, as_user(s, "acme"), p["id"], {}, ip="t")
    with db.begin() as s, pytest.raises(AlreadyClaimed):
        projects.claim(s, service, as_user(s, "hope"), p["id"], {}, ip="t")
    with db.begin() as s:
        row = s.get(ProjectProposal, p["id"])
        assert (row.status, row.organisation.code, row.claimed_by) == ("claimed", "ACME", "acme")
    with db.begin() as s, pytest.raises(NotAllowed):
        projects.progress(s, service, as_user(s, "hope"), p["id"], {"text": "我们也来"},
                          ip="t")
    with db.begin() as s, pytest.raises(AttachmentRefused):
        projects.progress(s, service, as_user(s, "acme"), p["id"], {"text": "开工"}, ip="t",
                          store=store, files=[UploadedFile("big.png", "image/png", PNG * 20)])
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(ProjectPhoto)) == 0
        done = projects.progress(s, service, as_user(s, "acme"), p["id"], {"text": "杂物清运完毕"},
                                 ip="t", store=store,
                                 files=[UploadedFile("day1.png", "image/png", PNG)])
        assert done["progress"][0]["photos"][0]["filename"] == "day1.png"
        photo_id = done["progress"][0]["photos"][0]["id"]
        assert projects.photo(s, service, as_user(s, "boss"), photo_id, store)[0] == PNG
    with db.begin() as s:
        done = projects.finish(s, service, as_user(s, "acme"), p["id"],
                               {"result": "院落已改造为口袋公园"}, ip="t")
        assert done["status"] == "finished"
        for number in numbers:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
            assert "口袋公园" in t.events[-1].text
        assert [a for a in s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("project.%")).order_by(AuditEntry.id))] == [
            "project.create", "project.claim", "project.progress", "project.finish"]


def test_bad_proposals_are_refused(db):
    """A cost outside the bounds, a missing area, a staff-less author and tickets already in a
    proposal are refused; only the one good proposal exists."""
    numbers = _setup(db)
    service = TicketService()
    with db.begin() as s, pytest.raises(InvalidRequest) as e:
        projects.create(s, service, as_user(s, "boss"),
                        PROPOSAL | {"tickets": numbers, "estimated_cost": -5, "area": ""},
                        ip="t")
    assert set(e.value.details["fields"]) == {"estimated_cost", "area"}
    with db.begin() as s, pytest.raises(NotAllowed):
        projects.create(s, service, as_user(s, "acme"), PROPOSAL | {"tickets": numbers},
                        ip="t")
    with db.begin() as s:
        projects.create(s, service, as_user(s, "boss"), PROPOSAL | {"tickets": numbers}, ip="t")
    with db.begin() as s, pytest.raises(InvalidRequest) as e:
        projects.create(s, service, as_user(s, "boss"), PROPOSAL | {"tickets": numbers[:2]},
                        ip="t")
    assert "already in a proposal" in e.value.details["fields"]["tickets"]
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(ProjectProposal)) == 1
