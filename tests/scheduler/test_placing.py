"""How a placed leg's AMI events become one outcome, including the edge cases a real PBX does
not produce on demand (a lost hangup handler, a restart mid-call). The integration tests
cover the real path."""

from __future__ import annotations

import datetime as dt

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hotline import config as config_mod
from hotline.ami.actions import AMIError
from hotline.calls.tracker import CallTracker
from scheduler.placing import CallPlacer
from tests.calls.support import FakeAMI, message

T0 = 1_795_000_000.0


def _placer() -> tuple[CallPlacer, FakeAMI, Clock]:
    ami, clock = FakeAMI(), Clock()
    settings = dict(config_mod.loads("")["scheduler"], caller_id="83658365", min_talk_s=2.0)
    tracker = CallTracker(ami=ami, clock=clock, queue_name="hotline")
    tracker.subscribe()
    placer = CallPlacer(ami=ami, bus=tracker.bus, settings=settings, reactor=clock,
                        now=lambda: dt.datetime.fromtimestamp(clock.seconds(), dt.UTC))
    placer.subscribe()
    return placer, ami, clock


def _place(placer: CallPlacer, key: str = "cb-1-1") -> Deferred:
    return Deferred.fromCoroutine(placer.place_callback(
        key=key, agent_code="1001", citizen="13900000001", ticket_id=1,
        ticket_number="RX20261127-000001", callback_id=1))


def _results(d: Deferred) -> list:
    out: list = []
    d.addBoth(out.append)
    return out


def test_originate_names_agent_first_with_ticket_context():
    """One Originate to the agent's phone, ChannelId = the attempt key, ticket variables set."""
    placer, ami, _ = _placer()
    _place(placer)
    name, headers = ami.sent[0]
    assert name == "Originate" and headers["Channel"] == "PJSIP/agent-1001"
    assert headers["ChannelId"] == "cb-1-1" and headers["Context"] == "hotline-callback"
    assert "HOTLINE_TICKET_NUMBER=RX20261127-000001" in headers["Variable"]
    assert "HOTLINE_CITIZEN=13900000001" in headers["Variable"]


def test_agent_not_answering_ends_the_attempt():
    """OriginateResponse Failure with reason 3 (no answer): the citizen was never dialled."""
    placer, ami, _ = _placer()
    out = _results(_place(placer))
    ami.emit("OriginateResponse", ActionID="cb-1-1", Response="Failure", Reason=3,
             Uniqueid="cb-1-1")
    assert out[0].outcome == "agent_no_answer" and placer.in_flight == 0


def test_answered_callback_takes_the_citizens_answer_time():
    """Agent up, citizen answered at t1, end with ANSWER: answered at t1."""
    placer, ami, _ = _placer()
    out = _results(_place(placer))
    ami.emit("OriginateResponse", ActionID="cb-1-1", Response="Success", Uniqueid="cb-1-1")
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-1-1", Stage="agent",
             Timestamp=T0)
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-1-1", Stage="citizen",
             Timestamp=T0 + 4)
    assert out == []
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-1-1", Stage="end",
             DialStatus="ANSWER", CitizenAt=int(T0 + 4), EndAt=int(T0 + 30), Timestamp=T0 + 30)
    assert out[0].outcome == "answered"
    assert out[0].citizen_answered_at == dt.datetime.fromtimestamp(T0 + 4, dt.UTC)


def test_a_citizen_who_hangs_up_at_once_was_not_reached():
    """Answered then gone within min_talk_s: citizen_hangup, no reached time."""
    placer, ami, _ = _placer()
    out = _results(_place(placer))
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-1-1", Stage="citizen",
             Timestamp=T0)
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-1-1", Stage="end",
             DialStatus="ANSWER", Timestamp=T0 + 1)
    assert out[0].outcome == "citizen_hangup" and out[0].citizen_answered_at is None


def test_hangup_without_the_dialplans_report_still_ends_the_attempt():
    """If the end UserEvent never comes, the agent leg's Hangup settles it after a moment."""
    placer, ami, clock = _placer()
    out = _results(_place(placer))
    ami.emit("OriginateResponse", ActionID="cb-1-1", Response="Success", Uniqueid="cb-1-1")
    ami.emit("Hangup", Uniqueid="cb-1-1", Cause=16)
    assert out == []
    clock.advance(CallPlacer.SETTLE_S)
    assert out[0].outcome == "agent_hangup"


def test_other_legs_events_are_ignored():
    """Events about other channels or keys never end this attempt."""
    placer, ami, clock = _placer()
    out = _results(_place(placer))
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-9-1", Stage="end",
             DialStatus="NOANSWER")
    ami.emit("Hangup", Uniqueid="1718000000.5")
    ami.emit("OriginateResponse", ActionID="other", Response="Failure", Reason=5)
    clock.advance(5)
    assert out == [] and placer.in_flight == 1


def _recover(placer: CallPlacer, key: str, kind: str = "callback") -> list:
    return _results(Deferred.fromCoroutine(placer.recover(key, kind)))


def test_recover_reads_the_trace_of_a_call_that_ended_while_down():
    """Not up any more: the AstDB trace says how it ended; no trace means never dialled."""
    placer, ami, _ = _placer()
    ami.replies["CoreShowChannels"] = [message(None, Response="Success")]
    traces = {"cb-1-1": f"end:ANSWER:{int(T0)}:{int(T0 + 60)}", "cb-2-1": "end:BUSY:-:1",
              "cb-4-1": f"citizen:{int(T0)}"}

    def dbget(Family, Key):
        if Key not in traces:
            raise AMIError(message(None, Response="Error", Message="not found"))
        return [message(None, Response="Success"),
                message("DBGetResponse", Family=Family, Key=Key, Val=traces[Key])]
    ami.replies["DBGet"] = dbget
    got = {k: _recover(placer, k)[0] for k in ("cb-1-1", "cb-2-1", "cb-3-1", "cb-4-1")}
    assert got["cb-1-1"].outcome == "answered"
    assert got["cb-1-1"].citizen_answered_at == dt.datetime.fromtimestamp(int(T0), dt.UTC)
    assert got["cb-2-1"].outcome == "busy"
    assert got["cb-3-1"].outcome == "agent_failed" and "not dialled" in got["cb-3-1"].detail
    assert got["cb-4-1"].outcome == "answered"


def test_recover_follows_a_call_still_up():
    """Still up after the restart: followed to its end like a fresh one."""
    placer, ami, _ = _placer()
    ami.replies["CoreShowChannels"] = [message(None, Response="Success"),
                                       message("CoreShowChannel", Uniqueid="cb-5-1")]
    out = _recover(placer, "cb-5-1")
    assert out == []
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-5-1", Stage="end",
             DialStatus="NOANSWER", Timestamp=T0)
    assert out[0].outcome == "no_answer"


def test_survey_digits_are_checked():
    """A survey leg: the digit 4 is a rating; 9 is no rating; no answer is not answered."""
    placer, ami, _ = _placer()
    results = []
    for key, event in (("sv-1-1", {"Score": "4"}), ("sv-2-1", {"Score": "9"}),
                       ("sv-3-1", None)):
        out = _results(Deferred.fromCoroutine(placer.place_survey(
            key=key, citizen="13900000001", ticket_number="RX1")))
        if event is None:
            ami.emit("OriginateResponse", ActionID=key, Response="Failure", Reason=3)
        else:
            ami.emit("UserEvent", UserEvent="HotlineSurvey", Key=key, **event)
        results.append((out[0].answered, out[0].score))
    assert results == [(True, 4), (True, None), (False, None)]
    assert ami.sent[0][1]["Channel"] == "PJSIP/13900000001@city"


def test_a_leg_that_ended_while_the_link_was_down_is_settled_at_the_next_login():
    """After an AMI login, a followed leg no longer up is settled from its AstDB trace at
    once (not minutes later by its guard); a leg still up is followed on."""
    placer, ami, clock = _placer()
    gone, still_up = _results(_place(placer, "cb-1-1")), _results(_place(placer, "cb-2-1"))
    # The link drops; cb-1-1's end happens meanwhile, so its events never arrive.
    ami.replies["CoreShowChannels"] = [message(None, Response="Success"),
                                       message("CoreShowChannel", Uniqueid="cb-2-1")]
    ami.replies["DBGet"] = lambda Family, Key: [
        message(None, Response="Success"),
        message("DBGetResponse", Family=Family, Key=Key,
                Val=f"end:ANSWER:{int(T0)}:{int(T0 + 30)}")]
    ami.resync()
    assert gone and gone[0].outcome == "answered"
    assert gone[0].citizen_answered_at == dt.datetime.fromtimestamp(int(T0), dt.UTC)
    assert still_up == [] and placer.following("cb-2-1") and not placer.following("cb-1-1")
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-2-1", Stage="end",
             DialStatus="NOANSWER", Timestamp=T0 + 40)
    assert still_up[0].outcome == "no_answer" and placer.in_flight == 0


def test_a_leg_whose_originate_is_still_parked_is_left_alone_at_login():
    """A leg placed while the link was down (its Originate parked until the login is ready)
    is not settled by the login's look at the legs: it is about to ring."""
    placer, ami, _ = _placer()
    parked: Deferred = Deferred()
    sent_now = ami.action

    async def action(name, **headers):
        if name == "Originate":
            ami.sent.append((name, headers))
            return await parked
        return await sent_now(name, **headers)
    ami.action = action
    out = _results(_place(placer, "cb-3-1"))
    ami.replies["CoreShowChannels"] = [message(None, Response="Success")]
    ami.resync()
    assert out == [] and placer.following("cb-3-1")
    parked.callback(message(None, Response="Success"))
    ami.emit("UserEvent", UserEvent="HotlineCallback", Key="cb-3-1", Stage="end",
             DialStatus="ANSWER", CitizenAt=int(T0), EndAt=int(T0 + 30), Timestamp=T0 + 30)
    assert out[0].outcome == "answered"
