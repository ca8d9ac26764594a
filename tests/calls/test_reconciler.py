"""The PBX's own call summaries (AstDB ``hotline-calls``) read back into call facts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.calls.reconciler import parse_summary

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
