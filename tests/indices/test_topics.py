"""Tests for L{hotline.indices.topics} and its page and calls: 每月一题's shortlist ranks the cell
with many demands and low satisfaction first, drills down to exactly its tickets, and a
leader picks and follows it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
import pytest_twisted
from sqlalchemy.orm import Session

from hotline.indices.aggregate import catch_up
from hotline.indices.exceptions import BadIndexQuery
from hotline.indices.history import Spike, generate_history
from hotline.indices.topics import cell_tickets, parse_month, pick, shortlist, topics
from tests.indices.conftest import LEADER
from tests.indices.seed import TZ, recompute, small_district
from tests.web.support import HTTP, form_csrf, sign_in

NOW = dt.datetime(2026, 10, 2, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def month(session: Session) -> Session:
    small_district(session)
    generate_history(session, first_day=dt.date(2026, 9, 1), days=30, per_day=30, timezone=TZ,
                     now=NOW, citizens=150,
                     spikes=[Spike(dt.date(2026, 9, d), "G002", "停车", 8)
                             for d in (3, 6, 9, 12, 17, 20, 24, 27)])
    catch_up(session, NOW.date(), timezone=TZ)
    return session


def test_shortlist_ranks_the_recurring_cell_first_and_drills_down(month: Session) -> None:
    """The planted recurring problem (G002 停车) tops September's shortlist; its demands equal
    the raw rows' count, and the drill-down lists exactly that many tickets of that cell."""
    top = shortlist(month, "2026-09")[0]
    assert (top["grid"], top["category"]) == ("G002", "停车")
    rows = cell_tickets(month, "2026-09", "G002", "停车", timezone=TZ)
    assert len(rows) == top["demands"]
    assert top["demands"] > 64
    grid_total = recompute(month, dt.date(2026, 9, 1), dt.date(2026, 9, 30), "grid")["G002"]
    assert top["demands"] <= grid_total["demands"]


def test_pick_and_follow(month: Session) -> None:
    """Picking a cell makes it the month's topic (picking again replaces it); its follow-up
    starts with that month's demands; bad months and grids are refused."""
    pick(month, "2026-09", "G001", "供水", actor="chief")
    pick(month, "2026-09", "G002", "停车", actor="chief", note="停车难")
    (topic,) = topics(month)
    assert (topic["grid"], topic["category"], topic["note"]) == ("G002", "停车", "停车难")
    assert topic["follow"][0]["demands"] == shortlist(month, "2026-09")[0]["demands"]
    assert [f["month"] for f in topic["follow"][:2]] == ["2026-09", "2026-10"]
    with pytest.raises(BadIndexQuery):
        parse_month("2026-13")
    with pytest.raises(BadIndexQuery):
        pick(month, "2026-09", "G999", "供水", actor="chief")


@pytest_twisted.ensureDeferred
async def test_leader_picks_the_months_topic_on_the_page(leader_console, db):
    """A leader reads the shortlist page, picks the first candidate with the form (CSRF), and
    it is listed as the month's topic in the page and the API; without the token nothing is
    picked."""
    today = dt.datetime.now(dt.UTC).astimezone(leader_console.zone).date()
    await db.run(catch_up, today, timezone=TZ)
    leader = HTTP(leader_console.port)
    assert (await sign_in(leader, *LEADER)).status == 303
    month = f"{today - dt.timedelta(days=1):%Y-%m}"
    page = await leader.get(f"/leader/topics?month={month}")
    assert page.status == 200 and "每月一题" in page.text and "候选问题" in page.text
    first = (await leader.get(f"/api/topics/shortlist?month={month}")).json()["shortlist"][0]
    form = {"month": month, "grid": first["grid"], "category": first["category"]}
    assert (await leader.post("/leader/topics", form=form)).status == 403
    picked = await leader.post("/leader/topics", form={**form, "_csrf": form_csrf(page.text)})
    assert picked.status == 303
    listed = (await leader.get("/api/topics")).json()["topics"]
    assert [(t["month"], t["grid"], t["category"]) for t in listed] == [
        (month, first["grid"], first["category"])]
    query = urlencode({"month": month, "grid": first["grid"], "category": first["category"]})
    drill = (await leader.get(f"/api/topics/tickets?{query}")).json()["tickets"]
    assert len(drill) == first["demands"]
