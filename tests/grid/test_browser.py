"""The grid worker's phone page in headless Chromium with mobile emulation (360x740, touch,
geolocation granted at a point inside a known sub-grid), against a real console and database:
a report with a photo lands in the right sub-grid; a dispatcher's verification task reaches
the worker and the answer comes back on the ticket; offline, two reports wait on the phone and
are filed exactly once each when the network is back, even when a response is lost."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import GridReport, Ticket, TicketPhoto, VerificationTask
from tests.grid.conftest import DISPATCHER_PASSWORD, WORKERS, inside
from tests.grid.test_photos import jpeg
from tests.support.waiting import until
from tests.web.test_browser import _sign_in

pytestmark = pytest.mark.browser


async def _phone(browser, base: str, *, latitude: float, longitude: float):
    """A page in a phone-sized context: 360x740, touch, Simplified Chinese, the geolocation
    permission granted at (latitude, longitude), the page's own CSP in force (the waits below
    are selectors, which need no evaluated strings)."""
    return await browser.page(
        base, viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
        has_touch=True, timezone_id="Asia/Shanghai", bypass_csp=False,
        permissions=["geolocation"],
        geolocation={"latitude": latitude, "longitude": longitude, "accuracy": 10})


def _grid_tickets(db) -> list[tuple[str, str | None, str]]:
    with db.begin() as s:
        return [(t.number, t.grid.code if t.grid else None, t.description)
                for t in s.scalars(select(Ticket).where(Ticket.channel == "grid_worker")
                                   .order_by(Ticket.id))]


def _open_phone(page, user: str) -> dict:
    """Sign in on the phone and wait for the page to have placed itself."""
    landed = _sign_in(page, user, WORKERS[user][0])
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#position[data-code]")
    heights = page.eval_on_selector_all(
        "button:visible, select:visible, textarea:visible, input:visible:not(.photo-input), "
        "label.camera:visible",
        "els => els.map(e => e.getBoundingClientRect().height)")
    return {"url": landed, "position": page.inner_text("#position"),
            "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
            "smallest_control": min(heights)}


@pytest_twisted.ensureDeferred
async def test_report_with_photo_then_verification_round_trip(grid_console, db, browser,
                                                              tmp_path):
    """On a 360 px phone placed in G001-02 the worker reports with a photo: the ticket is in
    G001-02 with the photo. A dispatcher sends it back to verify; the task shows on the
    phone, the answer with its photo comes back on the ticket and the dispatcher's list."""
    lat, lon = inside(db, "G001-02")
    base = f"http://127.0.0.1:{grid_console.port}"
    phone = await _phone(browser, base, latitude=lat, longitude=lon)
    photo = tmp_path / "street.jpg"
    photo.write_bytes(jpeg(2400, 1800))

    opened = await browser.run(_open_phone, phone, "wang")
    assert opened["url"].endswith("/grid/")
    assert opened["position"].startswith("位置：G001-02")
    assert opened["scroll_width"] <= 360  # nothing wider than the phone
    assert opened["smallest_control"] >= 44  # thumb-sized targets

    def report(page) -> None:
        page.select_option("#r-category", "市容环境")
        page.fill("#r-description", "路口垃圾堆放，影响通行")
        page.set_input_files("#r-photos", str(photo))
        page.wait_for_selector("#r-previews img")
        page.tap("#r-submit")
        page.wait_for_selector("#report-list li[data-ticket]")
        browser.shot(page, "grid-phone-report")

    await browser.run(report, phone)
    tickets = await until(lambda: _grid_tickets(db), timeout=20)
    assert [(grid, text) for _, grid, text in tickets] == [("G001-02", "路口垃圾堆放，影响通行")]
    number = tickets[0][0]
    with db.begin() as s:
        kept = list(s.scalars(select(TicketPhoto)))
        assert len(kept) == 1 and max(kept[0].width, kept[0].height) == 1600

    desk = await browser.page(base)

    def dispatch(page) -> str:
        _sign_in(page, "paidan", DISPATCHER_PASSWORD)
        page.goto("/grid/verify")
        page.fill("#verify-number", number)
        page.fill("#verify-note", "请现场核实并拍照")
        page.click("#verify-send")
        return page.inner_text("#verify-done")

    assert number in await browser.run(dispatch, desk)

    def answer(page) -> str:
        page.tap("#tab-tasks")
        task = page.wait_for_selector("#task-list li[data-task]")
        text = task.inner_text()
        page.check("#task-list li[data-task] input[value='confirmed']")
        page.fill("#task-list li[data-task] textarea[name='answer']", "现场确有垃圾堆放，已联系清运")
        page.set_input_files("#task-list li[data-task] input[name='photos']", str(photo))
        page.wait_for_selector("#task-list li[data-task] .previews img")
        browser.shot(page, "grid-phone-task")
        page.tap("#task-list li[data-task] button[type='submit']")
        return text

    shown = await browser.run(answer, phone)
    assert number in shown and "请现场核实并拍照" in shown

    def answered() -> bool:
        with db.begin() as s:
            task = s.scalar(select(VerificationTask))
            return task is not None and task.status == "answered"

    await until(answered, timeout=20)

    def read_back(page) -> tuple[str, int, str]:
        page.goto("/grid/verify")
        row = page.inner_text("#verify-tasks tr[data-status='answered']")
        photos = page.locator("#verify-tasks tr[data-status='answered'] img").count()
        page.click(f"text={number}")
        page.wait_for_selector("#ticket-verifications")
        browser.shot(page, "grid-ticket-verified")
        return row, photos, page.inner_text("main")

    row, photos, ticket_page = await browser.run(read_back, desk)
    assert "属实" in row and "现场确有垃圾堆放，已联系清运" in row and photos == 2
    assert "【核实反馈】属实：现场确有垃圾堆放，已联系清运" in ticket_page


@pytest_twisted.ensureDeferred
async def test_offline_reports_are_filed_exactly_once(grid_console, db, browser):
    """Offline, the page still opens from its service worker; two reports wait in the outbox;
    back online they are sent, the first response is lost on the way back and the report is
    sent again: exactly two tickets exist, made while offline."""
    lat, lon = inside(db, "G002-01")
    base = f"http://127.0.0.1:{grid_console.port}"
    phone = await _phone(browser, base, latitude=lat, longitude=lon)
    await browser.run(_open_phone, phone, "li")
    await browser.run(phone.wait_for_selector, "body[data-sw='controlled']")
    lost: list[str] = []

    def drop_first_answer(route) -> None:
        # The server files the report, then the phone never hears back (a tunnel, a lift).
        if not lost:
            route.fetch()
            lost.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    def offline_reports(page) -> int:
        page.context.set_offline(True)
        page.wait_for_selector("#net.offline")
        page.reload()  # the service worker serves the page without a network
        page.wait_for_selector("body[data-ready='1']")
        for i in (1, 2):
            page.fill("#r-description", f"离线上报 {i}：路灯不亮")
            page.tap("#r-submit")
            page.wait_for_selector(f"body[data-outbox='{i}']")
        browser.shot(page, "grid-phone-offline")
        page.route("**/api/grid/reports", drop_first_answer)
        return int(page.get_attribute("body", "data-outbox"))

    assert await browser.run(offline_reports, phone) == 2
    assert _grid_tickets(db) == []

    def back_online(page) -> None:
        page.context.set_offline(False)
        page.wait_for_selector("body[data-outbox='0']", timeout=30_000)

    await browser.run(back_online, phone)
    assert len(lost) == 1
    tickets = _grid_tickets(db)
    assert sorted(text for *_, text in tickets) == ["离线上报 1：路灯不亮", "离线上报 2：路灯不亮"]
    assert {grid for _, grid, _ in tickets} == {"G002-01"}
    with db.begin() as s:
        reports = list(s.scalars(select(GridReport)))
        assert len(reports) == 2 and all(r.made_at < r.received_at for r in reports)

    def nothing_more(page) -> str:
        page.tap("#send-now")
        page.wait_for_selector("#outbox:has-text('待发送 0 条')")
        return page.inner_text("#report-list")

    listed = await browser.run(nothing_more, phone)
    assert all(number in listed for number, *_ in tickets)
    assert len(_grid_tickets(db)) == 2

