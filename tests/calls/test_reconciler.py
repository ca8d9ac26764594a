"""The PBX's own call summaries (AstDB ``hotline-calls``) read back into call facts."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from db.models import Call
from hotline.calls.reconciler import CallReconciler, parse_summary
from tests.support.waiting import until

T0 = 1_795_700_000


def _summary(**over: str) -> str:
    fields = {"v": "v1", "linkedid": "pbx-1.7", "caller": "13800138000", "start": str(T0),
              "qstart": str(T0 + 8), "hold": "3", "member": "agent 1002", "cause": "16",
              "source": "PJSIP/hotline-00000012", "recording": "/srv/hotline/pbx/recordings/x",
              "end": str(T0 + 41)}
    fields.update(over)
    return "|".join(fields.values())


def _at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


def test_answered_call_hung_up_by_citizen():
    s = parse_summary("pbx-1.7", _summary())
    assert (s.started_at, s.answered_at, s.ended_at) == (_at(0), _at(11), _at(41))
    assert s.queue_wait_s == 3.0 and s.agent_code == "1002"
    assert s.hungup_by == "citizen" and s.hangup_cause == 16
    assert s.recording == "/srv/hotline/pbx/recordings/x"


def test_agent_hung_up():
    s = parse_summary("pbx-1.7", _summary(source="PJSIP/agent-1002-00000013"))
    assert s.hungup_by == "agent"


def test_abandoned_call_has_no_answer_and_no_agent():
    s = parse_summary("pbx-1.9", _summary(hold="", member="", qstart=str(T0 + 8)))
    assert s.answered_at is None and s.agent_code is None and s.queue_wait_s is None
    assert s.hungup_by == "citizen"


def test_call_that_never_reached_the_queue():
    s = parse_summary("pbx-1.9", _summary(qstart="", hold="", member="", recording=""))
    assert s.answered_at is None and s.recording is None


def test_v2_fields_are_uri_decoded_so_a_separator_in_caller_id_is_data():
    """A v2 summary's fields are URI-encoded by the dialplan: '|' in the caller is data."""
    s = parse_summary("pbx-1.7", _summary(v="v2", caller="1381234%7C0078",
                                          recording="%2Fsrv%2Fhotline%2Fx",
                                          source="PJSIP%2Fagent-1002-00000013"))
    assert s.caller == "1381234|0078"
    assert s.recording == "/srv/hotline/x" and s.hungup_by == "agent"


@pytest.mark.parametrize("value", [
    "", "v2|a|b", "v3|" + "|".join(["x"] * 10), _summary(v="v0"), _summary(start=""), _summary(end="soon"),
    _summary() + "|extra",
])
def test_values_it_cannot_use_are_refused_with_the_reason(value):
    with pytest.raises(ValueError, match="summary"):
        parse_summary("pbx-1.1", value)


@given(st.text())
def test_any_text_is_parsed_or_refused_with_value_error(value):
    try:
        parse_summary("k", value)
    except ValueError:
        pass


class _SummaryPBX:
    """Just enough of an AMI client for the sweep: one summary in the AstDB, DBDel recorded."""

    ready = True

    def __init__(self, key: str, value: str) -> None:
        self.tree = {key: value}
        self.deleted: list[str] = []

    def add_resync_hook(self, hook) -> None:
        pass

    async def action(self, name: str, **headers: str):
        if name == "DBGetTree":
            return [{"Event": "DBGetTreeResponse", "Key": f"/hotline-calls/{k}", "Val": v}
                    for k, v in self.tree.items()]
        assert name == "DBDel"
        self.deleted.append(headers["Key"])
        del self.tree[headers["Key"]]
        return {"Response": "Success"}


@pytest_twisted.ensureDeferred
async def test_a_summary_too_fresh_to_read_is_swept_once_it_settles(db):
    """A call that ended a moment ago is left for its recordings to close, then recorded as
    soon as it has settled, not a whole sweep interval later."""
    now = int(time.time())
    pbx = _SummaryPBX("pbx-9.1", _summary(start=str(now - 20), qstart=str(now - 18),
                                           end=str(now), recording=""))
    finaliser = type("Finaliser", (), {"is_following": lambda self, key: False})()
    reconciler = CallReconciler(ami=pbx, db=db, finaliser=finaliser, interval_s=3600.0,
                                settle_s=1.0)
    reconciler.start()
    try:
        assert await reconciler.sweep() == 0 and pbx.deleted == []
        await until(lambda: pbx.deleted, timeout=10)
    finally:
        reconciler.stop()
    assert pbx.deleted == ["pbx-9.1"] and reconciler.recorded == 1
    assert list(reconciler.recently_recorded) == ["pbx-9.1"]
    with db.begin() as s:
        row = s.scalars(select(Call).where(Call.uniqueid == "pbx-9.1")).one()
        assert (row.caller_number, row.ended_at is not None) == ("13800138000", True)


@pytest_twisted.ensureDeferred
async def test_a_call_whose_hangup_came_while_the_link_was_down_is_recorded_from_its_summary(db):
    """A call the finaliser still follows, but whose summary says it ended before the latest
    AMI login (its Hangup was lost with the link), is recorded from the summary; a call that
    ended after the login is left to the finaliser."""
    from hotline.bus import EventBus
    from hotline.calls.events import CallArrived, LegKind
    from hotline.calls.finaliser import CallFinaliser

    now = int(time.time())
    pbx = _SummaryPBX("pbx-9.2", _summary(start=str(now - 40), qstart=str(now - 38),
                                           end=str(now - 20), recording=""))
    pbx.tree["pbx-9.3"] = _summary(start=str(now - 40), qstart="", hold="", member="",
                                   end=str(now - 5), recording="", caller="13900139000")
    bus = EventBus()
    finaliser = CallFinaliser(bus=bus, db=db)
    finaliser.subscribe()
    for uid in ("pbx-9.2", "pbx-9.3"):
        bus.publish(CallArrived(uid, LegKind.INBOUND, now - 40, uid, "13800138000", "PJSIP/x"))
    reconciler = CallReconciler(ami=pbx, db=db, finaliser=finaliser, interval_s=3600.0,
                                settle_s=1.0, clock=lambda: now - 10.0)
    reconciler._login_at = now - 10.0  # the link came back 10 s ago
    assert await reconciler.sweep() == 1
    assert pbx.deleted == ["pbx-9.2"] and reconciler.recorded == 1
    assert not finaliser.is_following("pbx-9.2") and finaliser.is_following("pbx-9.3")
    with db.begin() as s:
        assert s.scalars(select(Call.uniqueid)).all() == ["pbx-9.2"]
