"""The three civic flows in headless Chromium on a served console (no PBX call is placed, so
no PBX): a council topic from three linked tickets through notice, meeting and after-report,
each ticket then carrying the outcome; a proposal claimed (a rival's later claim refused) and
finished by an organisation; an application reviewed by two reviewers and decided. The
public pages are read in a context with no sign-in. Screenshots under
``var/test-artifacts/web/civic-*.png``."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Ticket
from tests.civic.conftest import CIVIC_USERS
from tests.civic.support import CITIZENS
from tests.support.browser import Browser

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def _sign_in(page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", CIVIC_USERS[username][1])
    page.click("#login-submit")
    page.wait_for_load_state("domcontentloaded")


def _submit(page, form: str) -> str:
    """Submit the form; the page it lands on says what was done (or the error)."""
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#civic-done, #civic-error", timeout=15000)
    if page.query_selector("#civic-error"):
        return "error: " + page.inner_text("#civic-error")
    return page.get_attribute("#civic-done", "data-done")


@pytest_twisted.ensureDeferred
async def test_council_topic_from_three_tickets_to_each_citizens_outcome(civic_console,
                                                                         browser, db):
    """The supervisor collects a topic from the three tickets, notices it, records the
    meeting and publishes the after-report; the public page shows the decisions and no
    citizen's data; each ticket's page carries the outcome."""
    console, numbers = civic_console
    base = f"http://127.0.0.1:{console.port}"
    page = await browser.page(base)
    public = await browser.page(base)

    def run() -> tuple[str, str, list[str]]:
        _sign_in(page, "boss")
        page.goto("/civic")
        page.fill("#topic-new [name=title]", "废弃院落改造")
        page.fill("#topic-new [name=category]", "小区环境")
        page.select_option("#topic-new [name=level]", "community")
        page.fill("#topic-new [name=council]", "幸福里社区议事会")
        page.fill("#topic-new [name=tickets]", " ".join(numbers))
        page.fill("#topic-new [name=summary]", "居民反映院落杂物堆积，议定整治方案")
        assert _submit(page, "#topic-new") == "create"
        page.fill("#topic-notice [name=notice_days]", "7")
        page.fill("#topic-notice [name=meeting_at]", "2026-12-20T19:30")
        page.fill("#topic-notice [name=meeting_place]", "幸福里社区活动室")
        assert _submit(page, "#topic-notice") == "notice"
        page.fill("#topic-meeting [name=participants]", "社区书记、居民代表5人、物业")
        page.fill("#topic-meeting [name=minutes]", "讨论清运与绿化方案")
        page.fill("#topic-meeting [name=decisions]", "一周内清运杂物，改建为口袋公园")
        assert _submit(page, "#topic-meeting") == "meeting"
        page.fill("#topic-report-form [name=report]", "杂物已清运，口袋公园开工")
        assert _submit(page, "#topic-report-form") == "report"
        told = [page.get_attribute(f"#civic-tickets tr[data-number='{n}']", "data-told")
                for n in numbers]
        Browser.shot(page, "civic-topic")
        public.goto(page.get_attribute("#topic-public", "href"))
        Browser.shot(public, "civic-topic-public")
        texts = []
        topic_url = page.url.split("?")[0]
        for n in numbers:
            page.goto(topic_url)
            page.click(f"#civic-tickets tr[data-number='{n}'] a")
            page.wait_for_load_state("domcontentloaded")
            texts.append(page.content())
        return public.inner_text("#public-decisions"), public.content(), told, texts

    decisions, public_html, told, ticket_pages = await browser.run(run)
    assert decisions == "一周内清运杂物，改建为口袋公园"
    assert told == ["reply+callback", "reply", "note+callback"]
    assert all("口袋公园开工" in html for html in ticket_pages)
    for number, name, address in CITIZENS:
        assert number[-4:] not in public_html and name not in public_html
        assert address not in public_html
    with db.begin() as s:
        assert {t.status for t in s.scalars(select(Ticket))} == {"replied"}


@pytest_twisted.ensureDeferred
async def test_proposal_claimed_and_finished_by_an_organisation(civic_console, browser,
                                                                tmp_path):
    """The supervisor publishes a proposal from the tickets; ACME claims it; HOPE, on a page
    opened before the claim, is refused; ACME reports progress with a photo and finishes it;
    the public page shows it finished by ACME."""
    console, numbers = civic_console
    base = f"http://127.0.0.1:{console.port}"
    boss, acme, hope, public = [await browser.page(base) for _ in range(4)]
    photo = tmp_path / "清运.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    def run() -> tuple[str, str, str]:
        _sign_in(boss, "boss")
        boss.goto("/civic")
        for field, value in (("title", "幸福里废弃院落改造"), ("category", "小区环境"),
                             ("area", "幸福里社区"), ("estimated_cost", "80000"),
                             ("tickets", ", ".join(numbers)), ("summary", "清运、铺装、座椅")):
            boss.fill(f"#proposal-new [name={field}]", value)
        assert _submit(boss, "#proposal-new") == "create"
        url = boss.url.split("?")[0]
        assert boss.inner_text("#proposal-citizens").startswith("3 人")
        _sign_in(acme, "acme")
        _sign_in(hope, "hope")
        acme.goto(url)
        hope.goto(url)
        assert _submit(acme, "#proposal-claim") == "claim"
        refused = _submit(hope, "#proposal-claim")
        acme.fill("#proposal-progress-form [name=text]", "杂物清运完毕")
        acme.set_input_files("#proposal-progress-form [name=files]", str(photo))
        assert _submit(acme, "#proposal-progress-form") == "progress"
        assert acme.inner_text("#proposal-progress a.photo") == "清运.png"
        acme.fill("#proposal-finish [name=result]", "院落已改造为口袋公园")
        assert _submit(acme, "#proposal-finish") == "finish"
        Browser.shot(acme, "civic-proposal")
        public.goto(acme.get_attribute("#proposal-public", "href"))
        Browser.shot(public, "civic-proposal-public")
        return refused, acme.inner_text("#proposal-organisation"), public.content()

    refused, organisation, public_html = await browser.run(run)
    assert refused.startswith("error: ") and "已被认领" in refused
    assert organisation == "爱心建设公司"
    assert "已完成" in public_html and "爱心建设公司" in public_html
    assert not any(n[-4:] in public_html or a in public_html for n, _, a in CITIZENS)


@pytest_twisted.ensureDeferred
async def test_application_reviewed_by_two_reviewers(civic_console, browser):
    """HOPE applies; its second account finds no review form (own organisation); the leader
    scores 90, ACME 80 (a score of 101 refused first); the supervisor approves at 60 %; the
    public page shows the average 85 and a subsidy of 120000 yuan."""
    console, _ = civic_console
    base = f"http://127.0.0.1:{console.port}"
    hope, hope2, chief, acme, boss, public = [await browser.page(base) for _ in range(6)]

    def review(page, score: str) -> str:
        page.fill("#application-review [name=score]", score)
        return _submit(page, "#application-review")

    def run() -> tuple[bool, str, str, str]:
        _sign_in(hope, "hope")
        hope.goto("/civic")
        for field, value in (("title", "孤独症儿童康复陪伴"), ("budget", "200000"),
                             ("summary", "每周两次康复训练陪伴"), ("benefit", "服务40个家庭")):
            hope.fill(f"#application-new [name={field}]", value)
        assert _submit(hope, "#application-new") == "create"
        url = hope.url.split("?")[0]
        _sign_in(hope2, "hope2")
        hope2.goto(url)
        own_form = hope2.query_selector("#application-review") is not None
        _sign_in(chief, "chief")
        chief.goto(url)
        assert review(chief, "90") == "review"
        _sign_in(acme, "acme")
        acme.goto(url)
        off_scale = review(acme, "101")
        assert review(acme, "80") == "review"
        _sign_in(boss, "boss")
        boss.goto(url)
        boss.select_option("#application-decide [name=approve]", "true")
        boss.fill("#application-decide [name=subsidy_ratio]", "60")
        assert _submit(boss, "#application-decide") == "decide"
        Browser.shot(boss, "civic-application")
        public.goto(boss.get_attribute("#application-public", "href"))
        Browser.shot(public, "civic-application-public")
        return own_form, off_scale, public.inner_text("#public-subsidy"), public.content()

    own_form, off_scale, subsidy, public_html = await browser.run(run)
    assert own_form is False
    assert off_scale.startswith("error: ") and "score" in off_scale
    assert subsidy == "60%，120000 元"
    assert "平均 85.0 分" in public_html and "chief" not in public_html
