"""The citizen's own status line on the web, over the JSON API and from the command line (no
sign-in), on SQLite and PostgreSQL: the number plus the last four digits give the status, the
department and the deadline, and nothing personal; anything else gives the same 未找到."""

from __future__ import annotations

import re

import pytest_twisted

from hotline.cli.main import main
from hotline.tickets.service import TicketService
from tests.web.support import HTTP

PHONE = re.compile(r"1[3-9]\d{9}")


def dispatched(db) -> str:
    """A complaint by 张敏 at 幸福路 8 号, a co-reporter, dispatched to 区水务局; its number."""
    with db.begin() as s:
        service = TicketService()
        t = service.intake(s, {"channel": "hotline", "kind": "complaint",
                               "phone": "13812345678", "citizen_name": "张敏",
                               "address": "幸福路 8 号", "description": "自来水发黄已三天"},
                           actor="agent1")
        service.add_reporter(s, t.id, phone_number="13700002468", actor="agent1")
        service.dispatch(s, t.id, department="W01", actor="disp")
        return t.number


@pytest_twisted.ensureDeferred
async def test_status_page_shows_where_it_stands_and_nothing_personal(life_console, db):
    """With the right digits (first or co-reporter's) the page shows status, department and
    deadline; the HTML holds no phone number, name, address or content."""
    number = dispatched(db)
    client = HTTP(life_console.port)  # not signed in
    for last4 in ("5678", "2468"):
        page = await client.get(f"/status?number={number}&last4={last4}")
        assert page.status == 200
        assert 'data-status="dispatched"' in page.text and "区水务局" in page.text
        assert PHONE.findall(page.text) == []
        for private in ("张敏", "幸福路", "自来水发黄", "5678", "2468"):
            assert private not in page.text
    wrong = await client.get(f"/status?number={number}&last4=0000")
    unknown = await client.get("/status?number=RX20990101-000001&last4=5678")
    assert "未找到" in wrong.text and "未找到" in unknown.text
    assert 'id="status-answer"' not in wrong.text
    bad = await client.get("/status?number=abc&last4=12")
    assert bad.status == 200 and 'id="status-error"' in bad.text


@pytest_twisted.ensureDeferred
async def test_status_api_answers_404_for_wrong_digits_and_400_for_bad_input(life_console, db):
    """The JSON call: 200 with the status, 404 for wrong digits, 400 naming a bad field."""
    number = dispatched(db)
    client = HTTP(life_console.port)
    ok = await client.get(f"/api/public/status?number={number}&last4=5678")
    assert ok.status == 200 and ok.json()["department"] == "区水务局"
    assert PHONE.findall(ok.text) == []
    assert (await client.get(f"/api/public/status?number={number}&last4=1111")).status == 404
    bad = await client.get(f"/api/public/status?number={number}&last4=12a4")
    assert bad.status == 400 and "last4" in bad.json()["details"]["fields"]


def test_status_from_the_command_line(db_url, db, monkeypatch, tmp_path, capsys):
    """`hotline ticket status NUMBER --last4 DDDD` prints the same answer, or fails."""
    from db.models import Department

    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with db.begin() as s:
        s.add(Department(code="W01", name="区水务局"))
    number = dispatched(db)
    assert main(["ticket", "status", number, "--last4", "5678"]) == 0
    out = capsys.readouterr().out
    assert "dispatched" in out and "区水务局" in out and not PHONE.findall(out)
    assert main(["ticket", "status", number, "--last4", "0000"]) != 0


@pytest_twisted.ensureDeferred
async def test_guessing_the_digits_of_one_ticket_is_slowed_down(life_console, db):
    """Misses on one ticket spend its allowance: then even the right digits get 429 with a
    Retry-After (and the page says so) while another ticket still answers."""
    number = dispatched(db)
    other = dispatched(db)
    client = HTTP(life_console.port)
    refused = None
    for guess in range(100):
        answer = await client.get(f"/api/public/status?number={number}&last4={guess:04d}")
        if answer.status == 429:
            refused = answer
            break
        assert answer.status == 404
    assert refused is not None and refused.headers.get("Retry-After")
    right = await client.get(f"/api/public/status?number={number}&last4=5678")
    assert right.status == 429
    page = await client.get(f"/status?number={number}&last4=5678")
    assert "查询过于频繁" in page.text and 'id="status-answer"' not in page.text
    assert (await client.get(f"/api/public/status?number={other}&last4=5678")).status == 200


def test_keyed_digits_and_the_spoken_answer():
    """A ticket number keyed as 14 digits becomes RX…-…; the spoken answer says the status,
    the department's phrase and the deadline in the site's zone in Chinese numerals."""
    import datetime as dt
    import zoneinfo

    from hotline.tickets.status import number_from_digits, spoken_status

    assert number_from_digits("20261126000123") == "RX20261126-000123"
    assert number_from_digits("2026112600012") is None
    assert number_from_digits("2026112600012#") is None
    found = {"status": "handling", "department": "区水务局",
             "due_at": dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC).isoformat()}
    words = spoken_status(found, zoneinfo.ZoneInfo("Asia/Shanghai"), department="said/x")
    assert words == ["status-intro", "status-handling", "status-department", "said/x",
                     "reminder-due", "num-10", "digit-2", "word-yue", "digit-4", "word-ri",
                     "num-10", "digit-7", "word-dian", "digit-3", "num-10", "word-fen"]
    waiting = spoken_status({"status": "received", "department": None, "due_at": None},
                            zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert waiting == ["status-intro", "status-received", "status-no-department",
                       "status-no-due"]


@pytest_twisted.ensureDeferred
async def test_the_phone_gets_the_same_answer_and_shares_the_throttle(life_console, db):
    """The phone's lookup answers the right digits (a co-reporter's too) with the ticket's
    status and department, wrong digits with nothing (未找到), and misses made on the web
    spend the same ticket's allowance on the phone."""
    import zoneinfo

    number = dispatched(db)
    other = dispatched(db)
    said = []

    async def phrase(text: str, sounds: str) -> str:
        said.append((text, sounds))
        return "said/department"
    lookup = life_console.status_line.phone_lookup(zoneinfo.ZoneInfo("Asia/Shanghai"),
                                                   phrase=phrase)
    digits = number[2:].replace("-", "")
    for last4 in ("5678", "2468"):
        reply = await lookup(digits, last4, sounds="/snd")
        assert reply.say[:4] == ("status-intro", "status-dispatched", "status-department",
                                 "said/department") and "reminder-due" in reply.say
    assert said[0] == ("区水务局", "/snd")
    assert (await lookup(digits, "0000", sounds="/snd")).say == ()
    assert (await lookup("123", "5678", sounds="/snd")).say == ()
    client = HTTP(life_console.port)
    for guess in range(100):
        answer = await client.get(f"/api/public/status?number={number}&last4={guess:04d}")
        if answer.status == 429:
            break
    throttled = await lookup(digits, "5678", sounds="/snd")
    assert throttled.say == () and throttled.retry_after_s > 0
    assert (await lookup(other[2:].replace("-", ""), "5678", sounds="/snd")).say


@pytest_twisted.ensureDeferred
async def test_one_address_walking_through_many_tickets_is_slowed_down(life_console, db):
    """Misses spread over many tickets (each within its own allowance) spend the client
    address's allowance of lookups: then even a fresh ticket's right digits get 429 from that
    address, while the phone (no address) still gets its answer."""
    import zoneinfo

    allowance = int(life_console.config["web"]["status_address_attempts"])
    per_ticket = int(life_console.config["web"]["login_attempts"]) - 1
    tickets = [dispatched(db) for _ in range(allowance // per_ticket + 1)]
    fresh = dispatched(db)
    client = HTTP(life_console.port)
    answers = []
    for number in tickets:
        for guess in range(per_ticket):
            answer = await client.get(f"/api/public/status?number={number}&last4={guess:04d}")
            answers.append(answer.status)
    assert answers[:allowance] == [404] * allowance and answers[allowance] == 429, answers
    refused = await client.get(f"/api/public/status?number={fresh}&last4=5678")
    assert refused.status == 429 and refused.headers.get("Retry-After")
    lookup = life_console.status_line.phone_lookup(zoneinfo.ZoneInfo("Asia/Shanghai"),
                                                   phrase=lambda text, sounds: _none())
    assert (await lookup(fresh[2:].replace("-", ""), "5678", sounds="/snd")).say


async def _none() -> None:
    return None


@pytest_twisted.ensureDeferred
async def test_the_phone_finds_the_callers_own_open_tickets_by_their_number(life_console, db):
    """Calling from a reporting phone (as first reporter or co-reporter, with +86 in front
    too) the status line says that phone's open tickets, newest first; a closed ticket, another
    citizen's and an unknown or malformed number give nothing."""
    import zoneinfo

    first = dispatched(db)
    with db.begin() as s:
        service = TicketService()
        newer = service.intake(s, {"channel": "hotline", "kind": "consultation",
                                   "phone": "13812345678", "description": "社保怎么转"},
                               actor="agent1")
        done = service.intake(s, {"channel": "hotline", "kind": "consultation",
                                  "phone": "13812345678", "description": "已答复的咨询"},
                              actor="agent1")
        done.status = "closed"
        newer_status = newer.status
        service.intake(s, {"channel": "hotline", "kind": "complaint", "phone": "13600001111",
                           "description": "别人的工单"}, actor="agent1")

    async def phrase(text: str, sounds: str) -> str:
        return "said/department"
    own = life_console.status_line.phone_own(zoneinfo.ZoneInfo("Asia/Shanghai"), phrase=phrase)
    reply = await own("+8613812345678", sounds="/snd")
    intros = [i for i, word in enumerate(reply.say) if word == "status-intro"]
    assert len(intros) == 2  # the newer consultation, then the dispatched complaint
    assert reply.say[intros[0] + 1] == f"status-{newer_status}"
    assert reply.say[intros[1]:intros[1] + 4] == ("status-intro", "status-dispatched",
                                                   "status-department", "said/department")
    co_reporter = await own("13700002468", sounds="/snd")
    assert co_reporter.say[:2] == ("status-intro", "status-dispatched")
    assert co_reporter.say.count("status-intro") == 1
    for nobody in ("13900000000", "anonymous", ""):
        assert (await own(nobody, sounds="/snd")).say == ()
    assert first  # the dispatched complaint is the co-reporter's one
