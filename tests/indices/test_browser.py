"""The leader's page in headless Chromium: a leader reads the indices with their formulas (all
labels Chinese); a supervisor's open page gets a warning pushed the moment a refresh raises
it, and turns it into a proactive task with one click. Screenshots are kept as artifacts."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import pytest_twisted

from hotline.indices.aggregate import catch_up
from tests.indices.conftest import LEADER
from tests.indices.seed import TZ
from tests.web.conftest import PASSWORDS
from tests.web.test_browser import _sign_in

pytestmark = pytest.mark.browser

#: Words a leader's page must not show: English labels left over.
_ENGLISH = re.compile(r"\b(Dispatched|Response rate|Resolution|Satisfaction|Warning|Index)\b")


@pytest_twisted.ensureDeferred
async def test_leader_reads_indices_and_supervisor_acts_on_a_pushed_warning(leader_console,
                                                                            db, browser):
    """The leader lands on the page, sees the grid ranking, definitions and trend charts in
    Chinese; the supervisor's page shows the warning pushed after a refresh and its button
    turns it into a ticket received on the proactive channel."""
    base = f"http://127.0.0.1:{leader_console.port}"
    # The history is folded first (no scan: the warning is to be raised while a page is open).
    await db.run(catch_up, dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date(), timezone=TZ)
    leader = await browser.page(base)

    def read(page):
        landed = _sign_in(page, *LEADER)
        page.select_option("select[name=by]", "street")
        page.click("#index-filters button[type=submit]")
        page.wait_for_selector("#index-table tbody tr[data-code='S1']")
        browser.shot(page, "leader-indices")
        return landed, page.inner_text("main")

    landed, text = await browser.run(read, leader)
    assert landed.endswith("/leader")
    for words in ("维度指数", "街道排名（按综合指数）", "综合指数 = 100", "办理及时率", "趋势（全区，按日）",
                  "风险预警", "控制限"):
        assert words in text, words
    assert not _ENGLISH.search(text), _ENGLISH.search(text)
    assert "转为未诉先办任务" not in text

    boss = await browser.page(base)

    def open_board(page):
        _sign_in(page, "boss", PASSWORDS["boss"])
        page.goto("/leader")
        page.wait_for_function("window.hotlineLeader && window.hotlineLeader.live")

    await browser.run(open_board, boss)
    result = await leader_console.indices.refresh_now()
    assert [w["grid"] for w in result["raised"]] == ["G003"]

    def act(page):
        page.wait_for_selector("#warning-table tr[data-warning] button.to-task")
        live = page.inner_text("#warning-live")
        browser.shot(page, "leader-warning-pushed")
        page.click("#warning-table tr[data-warning] button.to-task")
        page.wait_for_url(re.compile(r"/tickets/\d+$"))
        browser.shot(page, "leader-proactive-task")
        return live, page.inner_text("main")

    live, ticket = await browser.run(act, boss)
    assert "新预警" in live and "G003" in live and "供水" in live
    assert "未诉先办" in ticket
