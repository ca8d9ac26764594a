"""The JSON API and Open311 on the real controller: OpenAPI document, a schemathesis property
run finding no server error, ticket visibility by role, Open311 keys and field checks."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import threads

from db.models import Department, Ticket
from hotline.tickets.service import TicketService
from hotline.web import accounts
from tests.web.conftest import ensure_user
from tests.web.support import HTTP, sign_in

pytestmark = pytest.mark.pbx

ADMIN_PASSWORD = "api-admin-pass-1"


def _is_stream(operation: dict) -> bool:
    """Whether the documented operation answers with an event stream (text/event-stream)."""
    return any("text/event-stream" in (response.get("content") or {})
               for response in (operation.get("responses") or {}).values()
               if isinstance(response, dict))


def _schemathesis_run(port: int, cookies: dict[str, str], csrf: str,
                      max_examples: int) -> tuple[dict[int, int], list[str]]:
    """Every documented operation but the event stream, with generated input; returns the number
    of responses by status and a line per server error (blocking: runs on a worker thread)."""
    import hypothesis
    import requests
    import schemathesis
    from hypothesis import HealthCheck

    base = f"http://127.0.0.1:{port}"
    schema = schemathesis.openapi.from_url(base + "/api/openapi.json")
    schema.validate()
    failures: list[str] = []
    statuses: dict[int, int] = {}
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        if _is_stream(operation.definition.raw):
            continue  # an endless stream (the desk's, the lists', ...); the browser tests read them

        @hypothesis.settings(max_examples=max_examples, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck), derandomize=True)
        @hypothesis.given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=base, session=session, cookies=cookies,
                                 headers={"X-CSRF-Token": csrf}, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"{case.body!r} -> {response.status_code} {response.text[:200]}")

        check()
    return statuses, failures


@pytest_twisted.ensureDeferred
async def test_openapi_validates_and_property_run_finds_no_server_error(web_controller):
    """The served OpenAPI 3.1 document validates, and generated calls to every operation
    (signed in as an admin with a seat, CSRF token sent) never get a 5xx."""
    ctl = web_controller
    ensure_user(ctl.db, "api-admin", role="admin", password=ADMIN_PASSWORD, agent_code="1004")
    client = HTTP(ctl.web.port)
    await sign_in(client, "api-admin", ADMIN_PASSWORD)
    csrf = await client.csrf()
    try:
        statuses, failures = await threads.deferToThread(_schemathesis_run, ctl.web.port,
                                                         dict(client.cookies), csrf, 25)
    finally:
        await ctl.agents.logout("1004")
    assert failures == []
    # The run reached the handlers (signed in, token accepted), not just the front door.
    assert sum(n for code, n in statuses.items() if 200 <= code < 300) > 100, statuses
    assert sum(statuses.values()) > 250, statuses


def _department_with_two(db):
    with db.begin() as s:
        codes = list(s.scalars(select(Department.code).order_by(Department.code)).all())
    return codes[0], codes[1]


@pytest_twisted.ensureDeferred
async def test_liaison_sees_own_department_masked_and_replies(web_controller):
    """A ticket filed over the API and dispatched shows in its department's liaison's list with
    the number masked; another department's ticket is invisible; the reply is recorded."""
    ctl = web_controller
    own, other = _department_with_two(ctl.db)
    ensure_user(ctl.db, "api-admin", role="admin", password=ADMIN_PASSWORD, agent_code="1004")
    ensure_user(ctl.db, "liaison-a", role="liaison", password="liaison-pass-1",
                department=own)
    admin = HTTP(ctl.web.port)
    await sign_in(admin, "api-admin", ADMIN_PASSWORD)
    csrf = await admin.csrf()
    ids = []
    for dept in (own, other):
        reply = await admin.post("/api/tickets", json={
            "kind": "help", "description": f"楼道积水 {dept}", "phone": "13912345678",
            "address": "幸福路 1 号"}, headers={"X-CSRF-Token": csrf})
        assert reply.status == 201, reply.text
        created = reply.json()
        assert created["caller_phone"] == "13912345678"  # the desk sees the full number
        ids.append(created["id"])
        await ctl.db.run(lambda s, i=created["id"], d=dept: TicketService().dispatch(
            s, i, department=d, actor="test"))
    liaison = HTTP(ctl.web.port)
    await sign_in(liaison, "liaison-a", "liaison-pass-1")
    listed = (await liaison.get("/api/tickets?limit=200")).json()["tickets"]
    assert ids[0] in [t["id"] for t in listed] and ids[1] not in [t["id"] for t in listed]
    mine = next(t for t in listed if t["id"] == ids[0])
    assert mine["citizen_phone"] == "139****5678" and "caller_phone" not in mine
    assert "13912345678" not in (await liaison.get("/liaison")).text
    assert (await liaison.get(f"/api/tickets/{ids[1]}")).status == 404
    assert (await liaison.get("/desk")).status == 403
    token = await liaison.csrf()
    refused = await liaison.post(f"/api/tickets/{ids[1]}/reply", json={"text": "已处理"},
                                 headers={"X-CSRF-Token": token})
    assert refused.status == 404
    done = await liaison.post(f"/api/tickets/{ids[0]}/reply", json={"text": "已派人疏通"},
                              headers={"X-CSRF-Token": token})
    assert done.status == 200 and done.json()["status"] == "replied"
    with ctl.db.begin() as s:
        t = s.get(Ticket, ids[0])
        assert [(e.actor, e.action) for e in t.events][-2:] == [
            ("liaison-a", "accept"), ("liaison-a", "reply")]


@pytest_twisted.ensureDeferred
async def test_open311_keys_and_fields(web_controller):
    """Open311: services are public; filing needs a valid key (401 none, 403 bad or revoked);
    bad fields get 4xx naming the field; a good request files a ticket on the key's channel,
    readable back without the phone number, and invisible to another channel's key."""
    ctl = web_controller

    def keys(s):
        out = {}
        for name, channel in (("wechat-test", "wechat"), ("web-test", "web")):
            existing = [k for k in accounts.list_api_keys(s) if k.name == name]
            if existing:
                existing[0].name = f"{name}-old-{existing[0].id}"
                s.flush()
            out[channel] = accounts.create_api_key(s, name, channel=channel)[1]
        return out
    key = await ctl.db.run(keys)
    client = HTTP(ctl.web.port)
    services = (await client.get("/open311/v2/services.json")).json()
    assert {s["service_code"] for s in services} == {
        "complaint", "help", "consultation", "suggestion", "praise"}
    good = {"service_code": "complaint", "description": "夜间施工噪音扰民",
            "address_string": "和平街 5 号", "phone": "13700001111", "first_name": "敏",
            "last_name": "张", "attribute[category]": "噪音"}

    async def post(fields):
        return await client.post("/open311/v2/requests.json", form=fields)

    none = await post(good)
    assert none.status == 401 and "api_key is required" in none.json()[0]["description"]
    bad = await post({**good, "api_key": "hk_not-a-key"})
    assert bad.status == 403 and "not valid" in bad.json()[0]["description"]
    cases = [({"service_code": "parking"}, 404, "service_code"),
             ({"phone": "12ab"}, 400, "phone"),
             ({"description": ""}, 400, "description"),
             ({"address_string": ""}, 400, "location"),
             ({"lat": "91", "long": "10"}, 400, "lat"),
             ({"colour": "red"}, 400, "unknown field")]
    with ctl.db.begin() as s:
        before = s.query(Ticket).count()
    for change, status, words in cases:
        reply = await post({**good, **change, "api_key": key["wechat"]})
        assert reply.status == status, (change, reply.text)
        assert words in reply.json()[0]["description"], reply.text
    with ctl.db.begin() as s:
        assert s.query(Ticket).count() == before  # refused input changed nothing
    filed = await post({**good, "api_key": key["wechat"]})
    assert filed.status == 201, filed.text
    number = filed.json()[0]["service_request_id"]
    got = await client.get(f"/open311/v2/requests/{number}.json?api_key={key['wechat']}")
    assert got.status == 200
    (request,) = got.json()
    assert request["status"] == "open" and request["description"] == good["description"]
    assert "13700001111" not in got.text
    listed = await client.get(f"/open311/v2/requests.json?api_key={key['wechat']}"
                              f"&service_request_id={number}")
    assert [r["service_request_id"] for r in listed.json()] == [number]
    other = await client.get(f"/open311/v2/requests/{number}.json?api_key={key['web']}")
    assert other.status == 404
    with ctl.db.begin() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (ticket.channel, ticket.kind, ticket.category) == ("wechat", "complaint", "噪音")
        assert ticket.citizen.phone == "13700001111" and ticket.citizen.name == "张敏"
    await ctl.db.run(lambda s: accounts.revoke_api_key(s, "wechat-test"))
    assert (await post({**good, "api_key": key["wechat"]})).status == 403
