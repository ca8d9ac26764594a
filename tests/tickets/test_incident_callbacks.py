"""An incident replied once reaches every citizen on the real PBX: the scheduler places one
callback per citizen at its bounded rate, counted at the city simulator's side as the
scheduler's own tests count them."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Callback, CallbackAttempt, Department
from hotline.tickets.service import TicketService
from tests.scheduler.support import ensure_agents
from tests.scheduler.test_integration import make_harness  # noqa: F401 - the fixture
from tests.support.waiting import until

pytestmark = pytest.mark.pbx

CITIZENS = [f"139000011{i:02d}" for i in range(20)]
AT_ONCE = 2


class Concurrency:
    """The citizens' legs open at the city side now, and the most ever open at once."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.most = 0

    def on_newchannel(self, m) -> None:
        if str(m.get("Context") or "") == "from-hotline" and str(m.get("Exten") or "") \
                in CITIZENS:
            self.open.add(str(m.get("Channel")))
            self.most = max(self.most, len(self.open))

    def on_hangup(self, m) -> None:
        self.open.discard(str(m.get("Channel") or ""))


def _incident_of_twenty(s) -> int:
    service = TicketService()
    s.add(Department(code="W01", name="区水务局"))
    s.flush()
    ids = [service.intake(s, {"channel": "hotline", "kind": "complaint", "category": "供水",
                              "phone": number, "address": "胜利路12号",
                              "description": f"胜利路水管爆裂 {n}"}, actor="1001").id
           for n, number in enumerate(CITIZENS)]
    incident = service.confirm_incident(s, ids, actor="boss", title="胜利路爆管")
    service.dispatch_incident(s, incident.id, department="W01", actor="disp")
    return incident.id


@pytest_twisted.ensureDeferred
async def test_incident_reply_calls_every_citizen_once_at_a_bounded_rate(make_harness):  # noqa: F811
    """Twenty tickets confirmed, dispatched and replied once: the city receives twenty calls,
    one per citizen, never more than max_concurrent at once, each recorded once reached."""
    h = await make_harness(max_concurrent=AT_ONCE)
    await h.write(lambda s: ensure_agents(s, "1001", "1002", "1003"))
    watch = Concurrency()
    h.city.ami.subscribe("Newchannel", watch.on_newchannel)
    h.city.ami.subscribe("Hangup", watch.on_hangup)
    for code in ("1001", "1002", "1003"):
        await h.in_queue(code)
        await h.city.set_agent(code, delay_s=0.3)
    for number in CITIZENS:
        await h.city.set_number(number, mode="answer", delay_s=0.3)
    incident_id = await h.write(_incident_of_twenty)
    await h.write(lambda s: TicketService().reply_incident(s, incident_id, actor="water",
                                                            text="已关阀抢修，今晚恢复供水"))

    def finished():
        rows = h.read(lambda s: [(cb.status, cb.outcome) for cb in s.scalars(select(Callback))])
        return rows if len(rows) == 20 and all(st in ("done", "failed") for st, _ in rows) \
            else None
    rows = await until(finished, timeout=300)
    assert rows == [("done", "reached")] * 20
    assert [h.watch.count(f"number {n}") for n in CITIZENS] == [1] * 20
    assert 1 <= watch.most <= AT_ONCE
    attempts = h.read(lambda s: s.scalars(select(CallbackAttempt.outcome)).all())
    assert attempts == ["answered"] * 20
    progress = h.read(lambda s: TicketService().incident_progress(s, incident_id))
    assert progress == {"total": 20, "reached": 20, "not_reached": 0, "pending": 0}
