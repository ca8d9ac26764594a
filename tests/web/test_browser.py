"""The console in headless Chromium against the real controller and PBX sandbox: an agent signs
in, a simulated citizen calls, the desk pops the caller while the phone still rings, the agent
fills the ticket (autosaved, surviving a reload) and saves it with the keyboard, searches the
directory by pinyin initials; roles, masking, CSRF and escaping seen from the browser."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Call, Department, Ticket, TicketDraft
from hotline.tickets.service import TicketService
from tests.support.hotline import end_bridged_call, wait_final_call
from tests.support.waiting import sleep, until, until_true
from tests.web.conftest import ensure_user

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

AGENT_PASSWORD = "desk-agent-pass-1"
HOSTILE = '<b>粗体</b><img src=x onerror="window.__xss=1">路灯坏了三天'


def _sign_in(page, username: str, password: str) -> str:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state("domcontentloaded")
    return page.url


@pytest_twisted.ensureDeferred
async def test_agent_desk_pops_caller_saves_ticket_and_searches_directory(
        web_controller, city, browser):
    """Sign in, log the seat in, a repeat caller rings: the pop shows number, repeat flag, open
    ticket and last contacts before the agent's phone answers; the typed ticket is autosaved,
    survives a reload, is saved with Ctrl+Enter and is in the database linked to the call; the
    directory finds an entry by pinyin initials; the description's HTML shows as text."""
    ctl = web_controller
    number = "13812349901"
    ensure_user(ctl.db, "desk-agent", role="agent", password=AGENT_PASSWORD,
                display_name="李娜", agent_code="1002")
    earlier = await ctl.db.run(lambda s: TicketService().intake(
        s, {"channel": "hotline", "kind": "complaint", "description": "上周反映的路灯问题",
            "phone": number}, actor="test").number)
    base = f"http://127.0.0.1:{ctl.web.port}"
    page = await browser.page(base)
    assert (await browser.run(_sign_in, page, "desk-agent", AGENT_PASSWORD)).endswith("/desk")
    await browser.run(lambda: page.wait_for_function(
        "document.getElementById('desk').dataset.live === 'yes'"))
    await browser.run(page.click, "#queue-login")
    await browser.run(lambda: page.wait_for_function(
        "document.getElementById('seat-state').dataset.state === 'free'", timeout=15000))

    rang: list[float] = []

    def on_change(payload):
        call = payload.get("call")
        if call and call["caller"] == number and call["state"] == "ringing" and not rang:
            rang.append(reactor.seconds())
    remove = ctl.tracker.notifier.add_listener(on_change)
    await city.ami.when_ready()
    await city.set_agent("1002", delay_s=6, tone="1000")
    try:
        placed = await city.call(number, tone="400", hold_s=40)
        await browser.run(lambda: page.wait_for_function(
            f"document.getElementById('caller-number').textContent === '{number}'",
            timeout=40000))
        pop = await browser.run(page.evaluate, "window.hotlineDesk.pops[0]")
        shown = await browser.run(lambda: {
            "repeat": page.is_visible("#repeat-flag"),
            "open": page.inner_text("#open-tickets"),
            "contacts": page.inner_text("#last-contacts"),
            "phone_field": page.input_value("#f-phone"),
            "focused": page.evaluate("document.activeElement.id")})
        await browser.run(browser.shot, page, "desk-1-pop")
        # Popped while the phone still rang (the simulated agent answers after 6 s).
        assert pop["state"] == "ringing"
        assert shown["repeat"] is True and earlier in shown["open"]
        assert shown["phone_field"] == number and shown["focused"] == "f-description"
        browser.record("call-pop", {"ringing_at": rang[0], "popped_at": pop["at"] / 1000,
                                    "latency_s": round(pop["at"] / 1000 - rang[0], 3),
                                    "sent_at": pop["sent_at"]})

        def fill():
            page.select_option("#f-kind", "complaint")
            page.fill("#f-category", "路灯")
            page.fill("#f-address", "幸福路 12 号")
            page.fill("#f-grid", "G001-01")
            page.fill("#f-description", HOSTILE)
            page.fill("#f-promised", (dt.datetime.now() + dt.timedelta(days=1))
                      .strftime("%Y-%m-%dT10:00"))
            page.wait_for_function(
                "document.getElementById('draft-state').textContent.startsWith('草稿已保存')")
        await browser.run(fill)
        call_id = await browser.run(page.input_value, "#f-call")
        with ctl.db.begin() as s:
            draft = s.scalars(select(TicketDraft).where(TicketDraft.key == call_id)).one()
            assert draft.data["description"] == HOSTILE
        # A dropped page loses nothing: after a reload the pop and the typed text come back.
        await browser.run(page.reload)
        await browser.run(lambda: page.wait_for_function(
            "document.getElementById('f-description').value.includes('路灯坏了三天')",
            timeout=15000))
        assert await browser.run(page.input_value, "#f-address") == "幸福路 12 号"
        await browser.run(page.focus, "#f-description")
        await browser.run(page.keyboard.press, "Control+Enter")
        await browser.run(lambda: page.wait_for_function(
            "document.getElementById('ticket-message').dataset.ticket", timeout=15000))
        saved = await browser.run(page.evaluate,
                                  "document.getElementById('ticket-message').dataset.ticket")
        # The promise made on the form is now in "my callbacks due".
        await browser.run(lambda: page.wait_for_function(
            f"document.getElementById('callbacks').textContent.includes('{saved}')",
            timeout=15000))
        await browser.run(browser.shot, page, "desk-2-saved")

        # Directory by pinyin initials, from the keyboard.
        await browser.run(page.keyboard.press, "Alt+f")
        assert await browser.run(page.evaluate, "document.activeElement.id") == "dir-q"
        await browser.run(page.keyboard.type, "zls")
        await browser.run(lambda: page.wait_for_function(
            "document.getElementById('dir-results').dataset.query === 'zls'"))
        first = await browser.run(page.inner_text, "#dir-results li:first-child")
        await browser.run(browser.shot, page, "desk-3-directory")
        expected = ctl.web.directory.search("zls")[0]
        assert first.startswith(expected.name) and "zls" in expected.pinyin_initials
        # The citizen hangs up now rather than at the end of the 40 s hold.
        await city.hangup(placed.channel_id)
        row, linked = await wait_final_call(ctl.db, number, lambda r: r.ticket_id)
    finally:
        remove()
        await ctl.agents.logout("1002")
    with ctl.db.begin() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == saved)).one()
        assert (ticket.kind, ticket.category, ticket.address, ticket.description) == (
            "complaint", "路灯", "幸福路 12 号", HOSTILE)
        assert ticket.grid.code == "G001-01" and ticket.promised_reply_at is not None
        assert [(e.actor, e.action) for e in ticket.events] == [("desk-agent", "intake")]
        assert ticket.callbacks and ticket.callbacks[0].status == "pending"
        assert s.scalars(select(TicketDraft).where(TicketDraft.key == call_id)).first() is None
        call = s.scalars(select(Call).where(Call.uniqueid == call_id)).one()
        assert call.ticket_id == ticket.id and linked == ticket.id
    # The description's HTML is text on the ticket page: no element, no script ran.
    await browser.run(page.goto, f"/tickets/{ticket.id}")
    await browser.run(lambda: page.wait_for_function(
        "(document.getElementById('ticket-description') || {}).textContent", timeout=15000))
    text = await browser.run(page.inner_text, "#ticket-description")
    elements = await browser.run(page.evaluate,
                                 "document.querySelectorAll('#ticket-description *').length")
    xss = await browser.run(page.evaluate, "window.__xss === undefined")
    await browser.run(browser.shot, page, "desk-4-ticket-page")
    assert text == HOSTILE and elements == 0 and xss


@pytest_twisted.ensureDeferred
async def test_roles_masking_csrf_in_the_browser(web_controller, browser):
    """An agent pauses with a reason and resumes from the keyboard, and is refused the supervisor
    page; a liaison sees their department's tickets with the number masked (and HTML as text)
    and answers one; the same form posted without its CSRF token is refused."""
    ctl = web_controller
    with ctl.db.begin() as s:
        dept = s.scalars(select(Department).order_by(Department.code)).first().code
    ensure_user(ctl.db, "desk-agent", role="agent", password=AGENT_PASSWORD,
                display_name="李娜", agent_code="1002")
    ensure_user(ctl.db, "liaison-b", role="liaison", password="liaison-pass-2",
                display_name="联络员", department=dept)

    def file(s):
        service = TicketService()
        ids = []
        for text in ("小区垃圾清运不及时", "<script>alert(1)</script>井盖缺失"):
            t = service.intake(s, {"channel": "hotline", "kind": "complaint",
                                   "description": text, "phone": "13698765432"}, actor="test")
            service.dispatch(s, t.id, department=dept, actor="test")
            ids.append(t.number)
        return ids
    numbers = await ctl.db.run(file)
    base = f"http://127.0.0.1:{ctl.web.port}"

    agent = await browser.page(base)
    await browser.run(_sign_in, agent, "desk-agent", AGENT_PASSWORD)

    # The seat from the keyboard: log in, Alt+P pauses with the chosen reason, Alt+P resumes.
    def seat_state(state):
        agent.wait_for_function(
            f"document.getElementById('seat-state').dataset.state === '{state}'", timeout=15000)

    try:
        await browser.run(agent.click, "#queue-login")
        await browser.run(seat_state, "free")
        await browser.run(agent.select_option, "#pause-reason", "培训")
        await browser.run(agent.keyboard.press, "Alt+p")
        await browser.run(seat_state, "paused")
        # The desk shows the PBX's pause as soon as it happens; the record follows the PBX's
        # reply to the pause (a few milliseconds, more under load): read it once it is there.
        paused = []

        async def pause_recorded() -> bool:
            paused[:] = await ctl.agents.status()
            return any(a.code == "1002" and a.state == "paused" for a in paused)
        await until_true(pause_recorded, timeout=10)
        await browser.run(agent.keyboard.press, "Alt+p")
        await browser.run(seat_state, "free")
    finally:
        await ctl.agents.logout("1002")
    seat = next(a for a in paused if a.code == "1002")
    assert (seat.state, seat.reason) == ("paused", "培训")

    # Saving without a description: a clear message naming the field, nothing filed.
    with ctl.db.begin() as s:
        before = s.query(Ticket).count()

    def save_empty():
        agent.fill("#f-address", "无内容的工单")
        agent.focus("#f-address")
        agent.keyboard.press("Control+Enter")
        agent.wait_for_function(
            "document.getElementById('ticket-message').className === 'error'")
        return agent.inner_text("#ticket-message")
    message = await browser.run(save_empty)
    assert "诉求内容 必填" in message
    with ctl.db.begin() as s:
        assert s.query(Ticket).count() == before
    status = await browser.run(lambda: agent.goto("/supervisor").status)
    heading = await browser.run(agent.inner_text, "#error-status")
    await browser.run(browser.shot, agent, "roles-1-agent-refused")
    assert status == 403 and "无权访问" in heading

    liaison = await browser.page(base)
    await browser.run(_sign_in, liaison, "liaison-b", "liaison-pass-2")
    html = await browser.run(liaison.content)
    phones = await browser.run(lambda: liaison.locator(
        f"article[data-ticket='{numbers[0]}'] .phone").inner_text())
    await browser.run(browser.shot, liaison, "roles-2-liaison-masked")
    assert phones == "136****5432" and "13698765432" not in html
    script_text = await browser.run(lambda: liaison.locator(
        f"article[data-ticket='{numbers[1]}'] .description").inner_text())
    assert script_text == "<script>alert(1)</script>井盖缺失"

    # Without its token the reply form is refused and the ticket is unchanged.
    def post_without_token():
        form = liaison.locator(f"article[data-ticket='{numbers[0]}'] form")
        form.locator("textarea").fill("已安排清运")
        form.locator("input[name=_csrf]").evaluate("e => e.remove()")
        with liaison.expect_navigation():
            form.locator("button").click()
        return liaison.inner_text("#error-message")
    message = await browser.run(post_without_token)
    await browser.run(browser.shot, liaison, "roles-3-csrf-refused")
    assert "安全令牌" in message
    with ctl.db.begin() as s:
        assert s.scalars(select(Ticket.status).where(Ticket.number == numbers[0])).one() == \
            "dispatched"

    def reply():
        liaison.goto("/liaison")
        form = liaison.locator(f"article[data-ticket='{numbers[0]}'] form")
        form.locator("textarea").fill("已安排清运，明早 9 点前完成")
        with liaison.expect_navigation():
            form.locator("button").click()
        return liaison.inner_text("#liaison-done")
    done = await browser.run(reply)
    assert numbers[0] in done
    with ctl.db.begin() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == numbers[0])).one()
        assert t.status == "replied" and t.events[-1].text == "已安排清运，明早 9 点前完成"
        assert t.events[-1].actor == "liaison-b"




def _bridge_rows(db, uniqueid: str):
    """The call's bridges with their participants (role, number, outcome, joined, left), and
    the bridge events on the call's ticket."""
    from db.models import Bridge, TicketEvent
    from hotline.bridge.records import BRIDGE_EVENT

    with db.begin() as s:
        call = s.scalars(select(Call).where(Call.uniqueid == uniqueid)).one()
        bridges = [(b.entry_name, b.outcome, b.ended_at is not None, b.agent_code,
                    sorted((p.role, p.number_dialled, p.outcome, p.joined_at is not None,
                            p.left_at is not None) for p in b.participants))
                   for b in s.scalars(select(Bridge).where(Bridge.call_id == call.id))]
        events = [e.text for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == call.ticket_id, TicketEvent.action == BRIDGE_EVENT))] \
            if call.ticket_id else []
        return call.id, call.ticket_id, bridges, events


async def _bridge_written(db, uniqueid: str):
    """``_bridge_rows`` once the call's bridge has ended and is written on its ticket."""
    def done():
        row = _bridge_rows(db, uniqueid)
        return row if row[2] and row[2][0][2] and row[3] else None
    return await until(done, timeout=20)


@pytest_twisted.ensureDeferred
async def test_agent_bridges_a_department_from_the_desk_and_leaves(web_controller, city,
                                                                   browser):
    """A citizen's call pops and is answered; the agent saves the ticket, finds a department by
    pinyin initials and presses its 「三方」 button: the participants panel shows the department
    ringing then in the call; 「离开通话」 takes the agent out while citizen and department talk
    on. The Bridge row, the participants (agent left, department answered) and the ticket's
    bridge event are in the database, and the desk's actions are in the audit log."""
    from db.models import AuditEntry

    ctl = web_controller
    code, number = "1001", "13812349951"
    ensure_user(ctl.db, "bridge-agent", role="agent", password=AGENT_PASSWORD,
                display_name="陈静", agent_code=code)
    entry = ctl.web.directory.search("zls")[0]
    await city.ami.when_ready()
    await city.set_number(entry.number, mode="answer", delay_s=1.5, tone="1800")
    base = f"http://127.0.0.1:{ctl.web.port}"
    page = await browser.page(base)
    await browser.run(_sign_in, page, "bridge-agent", AGENT_PASSWORD)
    await browser.run(lambda: page.wait_for_function(
        "document.getElementById('desk').dataset.live === 'yes'"))
    # No call yet: every 「三方」 button is there, disabled, and says why.
    idle = "#dir-results li:first-child .bridge-btn"
    await browser.run(page.wait_for_selector, idle)
    assert await browser.run(page.is_disabled, idle)
    assert await browser.run(page.get_attribute, idle, "title") == "当前没有通话，不能三方"
    await browser.run(page.click, "#queue-login")
    await browser.run(lambda: page.wait_for_function(
        "document.getElementById('seat-state').dataset.state === 'free'", timeout=15000))
    await city.set_agent(code, delay_s=1, tone="1000")
    placed = None
    try:
        placed = await city.call(number, tone="400", hold_s=90)
        await browser.run(lambda: page.wait_for_function(
            f"document.getElementById('caller-number').textContent === '{number}'",
            timeout=40000))
        # The simulated desk phone answers: the call talks, the 「三方」 buttons come alive.
        await browser.run(lambda: page.wait_for_function(
            "document.getElementById('call-state').classList.contains('talking')",
            timeout=20000))
        call_id = await browser.run(page.input_value, "#f-call")

        def fill_and_save():
            page.select_option("#f-kind", "help")
            page.fill("#f-category", "供水")
            page.fill("#f-description", "小区停水，请自来水公司协助")
            page.click("#ticket-save")
            page.wait_for_function(
                "document.getElementById('ticket-message').dataset.ticket", timeout=15000)
            return page.evaluate("document.getElementById('ticket-message').dataset.ticket")
        saved = await browser.run(fill_and_save)

        def find_and_bridge():
            page.fill("#dir-q", "zls")
            page.wait_for_function(
                "document.getElementById('dir-results').dataset.query === 'zls'")
            button = page.locator("#dir-results li:first-child .bridge-btn")
            button.wait_for(state="visible")
            page.wait_for_function("!document.querySelector("
                                   "'#dir-results li:first-child .bridge-btn').disabled")
            first = page.inner_text("#dir-results li:first-child span")
            button.click()
            page.wait_for_selector("#bridge-card:not([hidden])", timeout=10000)
            page.wait_for_selector(
                "#bridge-parties li[data-role=department][data-state=joined]", timeout=30000)
            return first
        first = await browser.run(find_and_bridge)
        assert first.startswith(entry.name)
        shown = await browser.run(lambda: {
            "parties": page.inner_text("#bridge-parties"),
            "leave": page.is_enabled("#bridge-leave"), "drop": page.is_enabled("#bridge-drop"),
            "again": page.is_enabled("#dir-results li:first-child .bridge-btn"),
            "history": page.evaluate("window.hotlineDesk.rooms.map(r => r.parts.join(','))")})
        await browser.run(browser.shot, page, "desk-5-bridged")
        assert "市民：在通话中" in shown["parties"] and "坐席：在通话中" in shown["parties"]
        assert f"部门 {entry.number}：在通话中" in shown["parties"]
        assert shown["leave"] and shown["drop"] and not shown["again"]
        # The panel followed the department live: dialled or ringing before it joined.
        assert any("department:ringing" in h or "department:dialling" in h
                   for h in shown["history"]), shown["history"]
        room = ctl.bridge.room_of(call_id)
        assert room is not None and room.in_room("department") and room.in_room("citizen")
        # A reloaded page gets the three-way call back from the stream at once.
        await browser.run(page.reload)
        await browser.run(lambda: page.wait_for_selector(
            "#bridge-parties li[data-role=department][data-state=joined]", timeout=10000))

        def leave():
            page.click("#bridge-leave")
            page.wait_for_selector("#bridge-parties li[data-role=agent][data-state=left]",
                                   timeout=15000)
            return page.inner_text("#bridge-message")
        message = await browser.run(leave)
        await browser.run(browser.shot, page, "desk-6-left")
        assert "市民与部门继续通话" in message
        await until(lambda: not room.in_room("agent"), timeout=10)
        await sleep(2)
        # Citizen and department talk on without the agent.
        assert room.in_room("citizen") and room.in_room("department") and not room.ended
        await end_bridged_call(ctl.db, city, placed, room, number)
        await browser.run(lambda: page.wait_for_selector("#bridge-card[data-ended=yes]",
                                                         timeout=15000))
    finally:
        await ctl.agents.logout(code)
        if placed is not None:
            await city.hangup_citizen(number)

    row_id, ticket_id, bridges, events = await _bridge_written(ctl.db, call_id)
    ((name, outcome, ended, agent, parties),) = bridges
    assert (name, outcome, ended, agent) == (entry.name, "answered", True, code)
    assert parties == [("agent", None, "left", True, True),
                       ("citizen", None, "left", True, True),
                       ("department", entry.number, "answered", True, True)]
    with ctl.db.begin() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == saved)).one()
        assert ticket.id == ticket_id
        assert entry.name in events[0] and "已接通" in events[0]
        audit = [(e.action, e.outcome, e.target) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.actor == "bridge-agent")
            .order_by(AuditEntry.id))]
    assert ("bridge.start", "ok", call_id) in audit and ("bridge.leave", "ok", call_id) in audit


@pytest_twisted.ensureDeferred
async def test_busy_department_is_named_fallback_tried_and_dropped_from_the_desk(
        web_controller, city, browser):
    """With automatic fallback off, a busy main number shows 「对方忙」 in the panel with a
    「改拨备用号码」 button; pressed, the fallback number joins; 「挂断部门」 releases it while
    citizen and agent talk on. The rows name both numbers' outcomes and the ticket says busy."""
    from db.models import AuditEntry

    ctl = web_controller
    ctl.bridge.auto_fallback = False  # the agent decides (this test's controller only)
    code, number = "1003", "13812349952"
    ensure_user(ctl.db, "fallback-agent", role="agent", password=AGENT_PASSWORD,
                display_name="赵敏", agent_code=code)
    entry = next(e for e in ctl.web.directory.search("qjtwyh") if e.fallback_numbers)
    main, fallback = entry.number, entry.fallback_numbers[0]
    await city.ami.when_ready()
    await city.set_number(main, mode="busy")
    await city.set_number(fallback, mode="answer", delay_s=0.5, tone="1800")
    page = await browser.page(f"http://127.0.0.1:{ctl.web.port}")
    await browser.run(_sign_in, page, "fallback-agent", AGENT_PASSWORD)
    await browser.run(lambda: page.wait_for_function(
        "document.getElementById('desk').dataset.live === 'yes'"))
    await ctl.agents.login(code)
    await city.set_agent(code, delay_s=1, tone="1000")
    placed = None
    try:
        placed = await city.call(number, tone="400", hold_s=90)
        await browser.run(lambda: page.wait_for_selector("#call-state.talking", timeout=40000))
        call_id = await browser.run(page.input_value, "#f-call")

        def bridge_busy():
            page.fill("#dir-q", "qjtwyh")
            button = f"#dir-results li[data-id='{entry.id}'] .bridge-btn:not([disabled])"
            page.wait_for_selector(button)
            page.click(button)
            page.wait_for_selector("#bridge-fallback:not([hidden])", timeout=30000)
            return {"failure": page.inner_text("#bridge-failure"),
                    "button": page.inner_text("#bridge-fallback"),
                    "main": page.inner_text(f"#bridge-parties li[data-number='{main}']"),
                    "leave": page.is_enabled("#bridge-leave")}
        shown = await browser.run(bridge_busy)
        await browser.run(browser.shot, page, "desk-9-busy")
        assert f"{entry.name} {main} 对方忙" in shown["failure"]
        assert shown["button"] == f"改拨备用号码 {fallback}"
        assert shown["main"] == f"部门 {main}：对方忙" and not shown["leave"]

        def fallback_then_drop():
            page.click("#bridge-fallback")
            page.wait_for_selector(
                f"#bridge-parties li[data-number='{fallback}'][data-state=joined]",
                timeout=30000)
            page.wait_for_selector("#bridge-drop:not([disabled])")
            page.click("#bridge-drop")
            page.wait_for_selector(
                f"#bridge-parties li[data-number='{fallback}'][data-state=dropped]",
                timeout=15000)
            return page.inner_text("#bridge-parties")
        parties = await browser.run(fallback_then_drop)
        await browser.run(browser.shot, page, "desk-10-dropped")
        assert "市民：在通话中" in parties and "坐席：在通话中" in parties
        assert f"部门 {fallback}：已挂断" in parties
        room = ctl.bridge.room_of(call_id)
        await sleep(1)
        assert room.in_room("citizen") and room.in_room("agent") and \
            not room.in_room("department")
        await end_bridged_call(ctl.db, city, placed, room, number)
    finally:
        await ctl.agents.logout(code)
        if placed is not None:
            await city.hangup_citizen(number)

    _, _, bridges, events = await _bridge_written(ctl.db, call_id)
    ((name, outcome, ended, agent, parties),) = bridges
    assert (name, outcome, ended, agent) == (entry.name, "answered", True, code)
    assert parties == [("agent", None, "left", True, True),
                       ("citizen", None, "left", True, True),
                       ("department", main, "busy", False, True),
                       ("department", fallback, "answered", True, True)]
    assert "对方忙" in events[0]
    with ctl.db.begin() as s:
        audit = [(e.action, e.outcome) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.actor == "fallback-agent")
            .order_by(AuditEntry.id)) if e.action.startswith("bridge.")]
    assert audit == [("bridge.start", "ok"), ("bridge.fallback", "ok"),
                     ("bridge.drop-department", "ok")]
