"""The supervisor reports in the console: roles, downloads, bad input, the wall board stream over
a real database; then in headless Chromium against the real controller and PBX sandbox the
supervisor filters the SLA report by department (numbers known by construction), downloads
the CSV, opens the heat map (120 grids) and watches the wall board change without a reload."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zoneinfo

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor, threads

from db.models import Call, Callback, Citizen, Department, Grid, Ticket
from hotline.reports.periods import period
from hotline.reports.wallboard import WallboardFeed
from tests.reports.test_chinese import english_words
from tests.support.browser import Browser
from tests.support.waiting import until
from tests.web.conftest import PASSWORDS, ensure_user, seed_directory
from tests.web.support import HTTP, sign_in
from tests.web.test_browser import _sign_in

TZ = "Asia/Shanghai"
ZONE = zoneinfo.ZoneInfo(TZ)
WEEK = period("2025-03-03", "2025-03-09", TZ)
#: Department → outcome → how many callbacks (one ticket each) fall due in WEEK.
SEED = {"RPT-A": {"met": 3, "late": 2, "not_reached": 1, "pending": 2, "cancelled": 1},
        "RPT-B": {"met": 4, "late": 1}}
NAMES = {"RPT-A": "报表测试城管局", "RPT-B": "报表测试水务局"}
#: The level-1 grid each department's tickets are filed in (heat map counts).
GRID = {"RPT-A": "G007", "RPT-B": "G042"}
#: The seed's own text a page shows as it is (codes and ticket numbers).
SEED_TEXT = ["RPT", *NAMES.values()]


def _expected(dept: str | None) -> dict[str, int]:
    """The right answers, counted from SEED independently of the report code."""
    depts = [dept] if dept else list(SEED)
    out = {o: sum(SEED[d].get(o, 0) for d in depts)
           for o in ("met", "late", "not_reached", "pending", "cancelled")}
    out["due"] = out["met"] + out["late"] + out["not_reached"] + out["pending"]
    return out


def seed_reports(session) -> None:
    """SEED as departments, tickets and callbacks due in WEEK (once per database)."""
    if session.scalar(select(Department).where(Department.code == "RPT-A")) is not None:
        return
    grids = {code: session.scalar(select(Grid).where(Grid.code == code))
             for code in GRID.values()}
    if None in grids.values():
        grids = {code: Grid(code=code, name=f"网格 {code}", level=1) for code in GRID.values()}
        session.add_all(grids.values())
    citizen = Citizen(phone="13900008877")
    session.add(citizen)
    at = WEEK.start + dt.timedelta(hours=2)
    n = 0
    for code, outcomes in SEED.items():
        dept = Department(code=code, name=NAMES[code], response_time_limit_hours=24)
        session.add(dept)
        for outcome, count in outcomes.items():
            for _ in range(count):
                n += 1
                due = at + dt.timedelta(hours=3 * n)
                ticket = Ticket(number=f"RPT-{n:04d}", kind="complaint", channel="hotline",
                                status="dispatched", category="市容", description="报表测试",
                                citizen=citizen, department=dept, grid=grids[GRID[code]],
                                created_at=at, updated_at=at)
                cb = Callback(ticket=ticket, citizen=citizen, due_at=due, attempts=1,
                              created_at=at)
                if outcome == "met":
                    cb.status, cb.reached_at = "done", due - dt.timedelta(minutes=20)
                elif outcome == "late":
                    cb.status, cb.sla_met = "done", False
                    cb.sla_deadline_at = due + dt.timedelta(minutes=10)
                    cb.reached_at = due + dt.timedelta(hours=2)
                elif outcome == "not_reached":
                    cb.status, cb.sla_met, cb.attempts = "failed", False, 3
                elif outcome == "pending":
                    cb.status, cb.attempts = "pending", 0
                else:
                    cb.status = "cancelled"
                session.add_all([ticket, cb])
    session.flush()


# -- without the PBX: the console alone over SQLite and PostgreSQL ------------------------------

@pytest_twisted.ensureDeferred
async def test_reports_for_supervisors_only_with_downloads_and_clear_errors(console, db):
    """An agent gets 403 on every report; a supervisor gets the index, the SLA page inside the
    console, the drill-down (numbers masked), the CSV as a named download, the raw SVG, the
    daily report as its printable page, and a clear 400 for a bad date."""
    with db.begin() as s:
        seed_reports(s)
    agent = HTTP(console.port)
    await sign_in(agent, "agent1", PASSWORDS["agent1"])
    for path in ("/reports", "/reports/sla", "/reports/wallboard", "/reports/heat-map",
                 "/api/reports/pressure?date=2025-03-04"):
        assert (await agent.get(path)).status == 403, path
    boss = HTTP(console.port)
    await sign_in(boss, "boss", PASSWORDS["boss"])
    index = await boss.get("/reports")
    assert index.status == 200 and "报表中心" in index.text and "RPT-A 报表测试城管局" in index.text
    q = f"from={WEEK.first}&to={WEEK.last}"
    page = await boss.get(f"/reports/sla?{q}&department=RPT-A")
    assert page.status == 200 and 'id="report-body"' in page.text and 'id="nav-reports"' in \
        page.text
    assert '<td class="n" data-k="due">8</td>' in page.text
    download = await boss.get(f"/reports/sla?{q}&format=csv")
    assert download.headers["Content-Disposition"] == \
        'attachment; filename="sla-2025-03-03-2025-03-09.csv"'
    assert download.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert rows[-1][:8] == ["", "total", "13", "7", "3", "1", "2", "1"]
    raw = await boss.get(f"/reports/heat-map?{q}&raw=1")
    assert raw.headers["Content-Type"].startswith("image/svg+xml")
    assert raw.text.count("<g class='grid'") == 120
    drill = await boss.get(f"/reports/sla?{q}&department=RPT-A&view=tickets&outcome=late")
    assert drill.status == 200 and drill.text.count('class="late"') == 2
    assert "13900008877" not in drill.text  # the citizen's number is masked
    daily = await boss.get("/reports/daily?date=2025-03-04")
    assert daily.status == 200 and daily.text.lstrip().lower().startswith("<!doctype html>")
    assert "民情报告 2025年3月4日" in daily.text
    pressure = await boss.get("/api/reports/pressure?date=2025-03-04&step=30")
    assert pressure.status == 200 and len(pressure.json()["steps"]) == 48
    assert (await boss.get("/api/reports/pressure?date=2025-03-04&step=7")).status == 400
    bad = await boss.get("/reports/sla?from=2025-13-01&to=2025-03-09")
    assert bad.status == 400 and "<html" in bad.text
    printable = await boss.get(f"/reports/sla?{q}&print=1")
    assert printable.text.lstrip().lower().startswith("<!doctype html>")
    assert 'id="nav-reports"' not in printable.text


def _read_board_stream(port: int, cookie: str) -> str:
    """Open a board stream like the page's EventSource, read until the first board, close."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/reports/wallboard/events", headers={"Cookie": cookie})
    resp = conn.getresponse()
    assert resp.getheader("Content-Type").startswith("text/event-stream")
    seen = b""
    while b"event: wallboard" not in seen or not seen.endswith(b"\n\n"):
        seen += resp.read1(4096)
    conn.close()
    return seen.decode()


async def _boss_cookie(console) -> str:
    boss = HTTP(console.port)
    await sign_in(boss, "boss", PASSWORDS["boss"])
    return "; ".join(f"{k}={v}" for k, v in boss.cookies.items())


@pytest_twisted.ensureDeferred
async def test_wallboard_stream_pushes_the_board_and_stops_with_its_last_page(console, db):
    """A board page's stream says hello and gets the board at once; when the page goes the
    console's own feed stops computing."""
    text = await threads.deferToThread(_read_board_stream, console.port,
                                       await _boss_cookie(console))
    assert "event: hello" in text and "callbacks_due_next_hour" in text
    streams = console.report_streams
    await until(lambda: not streams.clients and not streams.running, timeout=10)


@pytest_twisted.ensureDeferred
async def test_a_feed_hung_on_the_console_is_used_and_left_running(console, db):
    """When the controller hangs its own feed on the console, the board pages hear that one
    and leave its life to the controller."""
    feed = WallboardFeed(calls=None, database=db, timezone=TZ, interval_s=0.2, clock=reactor)
    feed.start()
    console.wallboard = feed
    try:
        await until(lambda: feed.last is not None)
        text = await threads.deferToThread(_read_board_stream, console.port,
                                           await _boss_cookie(console))
        assert "event: wallboard" in text
        streams = console.report_streams
        await until(lambda: not streams.clients, timeout=10)
        assert streams._own is None and feed._loop is not None and feed._loop.running
    finally:
        feed.stop()
        del console.wallboard


# -- in the browser, on the real controller and PBX sandbox --------------------------------------

def _totals(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#report-body table.totals td[data-k]')].map(td => [td.dataset.k, td.innerText.trim()]))""")


@pytest.mark.pbx
@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_supervisor_reads_filters_downloads_and_watches_the_board(web_controller, browser,
                                                                        tmp_path):
    """The supervisor opens the reports from the console's menu, filters the SLA report by
    department (totals equal the seed's known answers), downloads the CSV (its rows checked),
    opens the heat map (120 grids, the seeded counts) and the wall board, which changes when a
    call is abandoned without the page reloading; an agent gets 403 on /reports/sla."""
    ctl = web_controller
    seed_directory(ctl.db)
    # A unit of work: it reads, then writes while the controller writes too (see ensure_user).
    ctl.db.unit(seed_reports)
    ensure_user(ctl.db, "rpt-boss", role="supervisor", password="rpt-boss-pass-1",
                display_name="报表班长")
    ensure_user(ctl.db, "rpt-agent", role="agent", password="rpt-agent-pass-1",
                display_name="报表坐席", agent_code="1009")
    base = f"http://127.0.0.1:{ctl.web.port}"
    page = await browser.page(base)
    await browser.run(_sign_in, page, "rpt-boss", "rpt-boss-pass-1")

    def open_sla() -> dict[str, str]:
        page.click("#nav-reports")
        page.wait_for_selector("#reports-index")
        Browser.shot(page, "reports-0-index")
        page.fill("#r-from", WEEK.first.isoformat())
        page.fill("#r-to", WEEK.last.isoformat())
        page.click("#r-sla")
        page.wait_for_selector("#report-body table.totals")
        return _totals(page)

    everything = await browser.run(open_sla)
    want = _expected(None)
    assert {k: int(everything[k]) for k in want} == want

    def filter_department() -> dict[str, str]:
        page.select_option("#r-department", "RPT-A")
        page.click("#r-sla")
        page.wait_for_url("**department=RPT-A**")
        page.wait_for_selector("#report-body table.totals")
        Browser.shot(page, "reports-1-sla-department")
        assert english_words(page.inner_html("#report-body"), SEED_TEXT) == set()
        return _totals(page)

    filtered = await browser.run(filter_department)
    want = _expected("RPT-A")
    assert {k: int(filtered[k]) for k in want} == want
    assert filtered["met_rate"] == "50.0%"  # 3 met of 6 settled

    def download() -> tuple[str, str]:
        with page.expect_download() as info:
            page.click("#r-csv")
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        return info.value.suggested_filename, target.read_text("utf-8-sig")

    name, text = await browser.run(download)
    assert name == "sla-2025-03-03-2025-03-09.csv"
    rows = list(csv.DictReader(io.StringIO(text)))
    by_key = {r["department"]: r for r in rows}
    assert set(by_key) == {"RPT-A", ""}  # the department's row and the total row
    for key in ("RPT-A", ""):
        r = by_key[key]
        assert {o: int(r[o]) for o in ("due", "met", "late", "not_reached", "pending",
                                       "cancelled")} == want
    assert by_key["RPT-A"]["label"] == "RPT-A 报表测试城管局" and by_key["RPT-A"]["sla_rate"] == "0.5000"

    def heat_map() -> dict[str, object]:
        page.click("#r-heat")
        page.wait_for_selector("#report-body svg g.grid")
        Browser.shot(page, "reports-2-heat-map")
        assert english_words(page.inner_html("#report-body"), SEED_TEXT) == set()
        return page.evaluate("""() => ({grids: document.querySelectorAll(
            '#report-body svg g.grid').length, counts: Object.fromEntries([...document
            .querySelectorAll('#report-body svg g.grid')].filter(g => g.dataset.count !== '0')
            .map(g => [g.dataset.code, Number(g.dataset.count)]))})""")

    heat = await browser.run(heat_map)
    assert heat["grids"] == 120
    assert heat["counts"] == {"G007": 9, "G042": 5}

    def open_board() -> int:
        page.click("a[href='/reports/wallboard']")
        # The click navigates: a predicate evaluated on the page being left finds no board and
        # throws (wait_for_function does not retry a throwing predicate), so wait for the board.
        page.wait_for_url("**/reports/wallboard")
        page.wait_for_selector("#wallboard-page")
        page.wait_for_function("document.getElementById('wallboard-page')?.dataset.live === 'yes'"
                               " && Number(document.getElementById('wallboard-page')?.dataset"
                               ".pushes || 0) >= 1", timeout=20000)
        return int(page.inner_text("#wallboard-tiles [data-k=abandoned_today] .v"))

    before = await browser.run(open_board)
    now = dt.datetime.now(dt.UTC)
    ctl.db.unit(lambda s: s.add(Call(
        uniqueid=f"rpt-{uuid.uuid4().hex[:12]}", linkedid="rpt", direction="inbound",
        caller_number="13900008877", started_at=now - dt.timedelta(seconds=40), ended_at=now,
        queue_wait_s=40.0, status="abandoned")))

    def board_changes() -> int:
        page.wait_for_function(
            f"Number(document.querySelector('#wallboard-tiles [data-k=abandoned_today] .v')"
            f".innerText) === {before + 1}", timeout=30000)
        Browser.shot(page, "reports-3-wallboard")
        assert english_words(page.inner_html("#wallboard-page")) == set()
        return page.evaluate("window.hotlineWallboard.pushes")

    pushes = await browser.run(board_changes)
    assert pushes >= 2  # the first board and the change, on the same page load

    def pressure() -> int:
        page.goto(f"{base}/reports/pressure?date={now.astimezone(ZONE).date().isoformat()}")
        page.wait_for_selector("#report-body svg.pressure-thresholds")
        page.locator("#report-body svg.pressure-thresholds").scroll_into_view_if_needed()
        Browser.shot(page, "reports-4-pressure")
        assert english_words(page.inner_html("#report-body")) == set()
        return page.locator("#report-body svg .panel").count()

    assert await browser.run(pressure) == 3

    await browser.run(lambda: page.context.close())
    streams = ctl.web.report_streams
    await until(lambda: not streams.clients and not streams.running, timeout=10)

    agent = HTTP(ctl.web.port)
    await sign_in(agent, "rpt-agent", "rpt-agent-pass-1")
    refused = await agent.get(f"/reports/sla?from={WEEK.first}&to={WEEK.last}")
    assert refused.status == 403 and "无权访问" in refused.text
