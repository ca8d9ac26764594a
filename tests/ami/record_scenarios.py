"""Record the AMI transcripts of ``tests/ami/transcripts/`` from the real sandbox.

Not part of the suite (the file name does not start with ``test_``); run it by hand when the
dialplan or Asterisk changes what the PBX says, then run ``tests/calls/test_transcripts.py``:

    HOTLINE_TEST_PORT_SHIFT=... .venv/bin/python -m pytest tests/ami/record_scenarios.py -p no:randomly

Each scenario runs the real controller and the city simulator while an L{AMIRecorder} keeps
the PBX's whole AMI session, and writes one file. The scenarios are the hang-up orders the PBX
produces for a call (citizen first, agent first, abandoned in the queue), a three-way bridge,
a callback, a satisfaction survey and a deadline reminder to a department's duty number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from db.models import SchedulerState
from hotline.bridge.service import Target
from hotline.calls.model import CallState
from tests.bridge.conftest import AGENT_HZ, CITIZEN_HZ, DEPARTMENT_HZ, talking_call
from tests.scheduler.support import new_ticket, promise_in
from tests.scheduler.test_integration import (
    _done,
    _notices,
    _survey_results,
    _ticket_due_soon,
    closed_ticket,
    make_harness,
)
from tests.support.ami_recorder import AMIRecorder
from tests.support.hotline import wait_final_call
from tests.support.waiting import sleep, until

__all__ = ["make_harness"]  # the scheduler's fixture, used here by name

pytestmark = pytest.mark.pbx

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


async def _quiet(recorder: AMIRecorder) -> None:
    """Wait until the recorder's view has no leg left and the last events are in."""
    await until(lambda: not recorder.tracker.legs, timeout=30)
    await sleep(1.0)


async def _record(pbx_sandbox, name: str, comment: str, scenario) -> None:
    recorder = AMIRecorder(pbx_sandbox)
    await recorder.start()
    try:
        await scenario(recorder)
        await _quiet(recorder)
    finally:
        await recorder.stop()
    recorder.write(TRANSCRIPTS / name, comment)


def _talking(recorder: AMIRecorder, caller: str):
    return lambda: [c for c in recorder.tracker.calls.values()
                    if c.caller == caller and c.state == CallState.TALKING]


async def _answered_call(pbx_sandbox, controller, city, *, number: str, agent: str,
                         who_hangs_up: str, name: str) -> None:
    """Agent ``agent`` answers a citizen's call from ``number``; ``who_hangs_up`` (citizen or
    agent) ends it; the agent logs out."""

    async def scenario(recorder: AMIRecorder) -> None:
        await city.ami.when_ready()
        await city.set_agent(agent, delay_s=0.5, tone=str(AGENT_HZ))
        await controller.agents.login(agent)
        try:
            placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=60)
            await until(_talking(recorder, number), timeout=40)
            await sleep(1.0)
            if who_hangs_up == "citizen":
                await city.hangup(placed.channel_id)
            else:
                assert await city.hangup_agent(agent) == 1
            await wait_final_call(controller.db, number)
        finally:
            await controller.agents.logout(agent)

    await _record(pbx_sandbox, name,
                  f"Recorded from the sandbox by tests/ami/record_scenarios.py: agent {agent} "
                  f"logs in, a citizen\ncalls, the queue rings {agent}, it answers, the "
                  f"{who_hangs_up} hangs up first; {agent} logs out.", scenario)


@pytest_twisted.ensureDeferred
async def test_record_answered_citizen_hangs_up(pbx_sandbox, controller, city):
    """An inbound call answered by agent 1001; the citizen hangs up first."""
    await _answered_call(pbx_sandbox, controller, city, number="13812345001", agent="1001",
                         who_hangs_up="citizen", name="answered_citizen_hangs_up.txt")


@pytest_twisted.ensureDeferred
async def test_record_answered_agent_hangs_up(pbx_sandbox, controller, city):
    """An inbound call answered by agent 1002; the agent hangs up first."""
    await _answered_call(pbx_sandbox, controller, city, number="13812345002", agent="1002",
                         who_hangs_up="agent", name="answered_agent_hangs_up.txt")


@pytest_twisted.ensureDeferred
async def test_record_abandoned_in_queue(pbx_sandbox, controller, city):
    """A citizen waits in the queue with nobody logged in and hangs up."""
    number = "13812345003"

    async def scenario(recorder: AMIRecorder) -> None:
        await city.ami.when_ready()
        await city.call(number, tone=str(CITIZEN_HZ), hold_s=60)
        await until(lambda: [c for c in recorder.tracker.calls.values()
                             if c.caller == number and c.state == CallState.WAITING],
                    timeout=40)
        await sleep(2.0)
        assert await city.hangup_citizen(number) == 1
        await wait_final_call(controller.db, number)

    await _record(pbx_sandbox, "abandoned_in_queue.txt",
                  "Recorded from the sandbox by tests/ami/record_scenarios.py: no agent logged "
                  "in; a citizen\nwaits in the queue and hangs up (abandoned).", scenario)


@pytest_twisted.ensureDeferred
async def test_record_bridge(pbx_sandbox, controller, city):
    """Agent 1003 talks with a citizen and brings a department into a three-way room; the
    citizen hangs up, which ends the room."""
    number = "99900301"
    caller = "13812345004"

    async def scenario(recorder: AMIRecorder) -> None:
        await city.ami.when_ready()
        await city.set_number(number, mode="answer", delay_s=0.5, tone=str(DEPARTMENT_HZ))
        call = await talking_call(controller, city, caller=caller, agent="1003")
        try:
            attempt = await controller.bridge.bridge(call.call_id, Target(
                id=None, name="区自来水公司", number=number, fallback_numbers=()))
            assert await attempt.leg.done == "answered"
            room = attempt.room
            await until(lambda: room.in_room("department") and room.in_room("citizen"),
                        timeout=20)
            await sleep(2.0)
            await city.hangup(call.city_channel)
            await room.ended_d
            await wait_final_call(controller.db, caller)
        finally:
            await controller.agents.logout("1003")
            await city.hangup_citizen(caller)

    await _record(pbx_sandbox, "bridge_department.txt",
                  "Recorded from the sandbox by tests/ami/record_scenarios.py: agent 1003 "
                  "answers a citizen,\nthe controller moves both into a bridge room and dials "
                  "department 99900301 into it;\nthe citizen hangs up, which ends the room.",
                  scenario)


@pytest_twisted.ensureDeferred
async def test_record_callback(pbx_sandbox, make_harness):
    """A timed reply falls due: the scheduler rings agent 1001, then the citizen, who answers."""
    h = await make_harness(survey_enabled=False)
    number = "13912345005"

    async def scenario(recorder: AMIRecorder) -> None:
        await h.in_queue("1001")
        await h.city.set_agent("1001", delay_s=0.5)
        await h.city.set_number(number, mode="answer", delay_s=0.5)
        cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, number), 3))
        cb, _, _ = await until(_done(h, cb_id), timeout=40)
        assert cb.status == "done"

    await _record(pbx_sandbox, "callback_reached.txt",
                  "Recorded from the sandbox by tests/ami/record_scenarios.py: agent 1001 is "
                  "in the queue; a\npromise falls due, the scheduler originates the agent leg "
                  "(cb-<id>-1), the agent answers,\nthe citizen is dialled and answers, the "
                  "call ends.", scenario)


@pytest_twisted.ensureDeferred
async def test_record_survey(pbx_sandbox, make_harness):
    """A closed ticket leads to a survey call; the citizen presses 4."""
    h = await make_harness()
    number = "13912345006"

    async def scenario(recorder: AMIRecorder) -> None:
        await h.city.set_number(number, mode="answer", delay_s=0.3, dtmf="4")
        await until(lambda: h.read(lambda s: s.get(SchedulerState, "survey.last_event_id")),
                    timeout=10)
        ticket_id = await h.write(lambda s: closed_ticket(s, number))
        assert await until(_survey_results(h, ticket_id), timeout=40) == [("rated", 4)]

    await _record(pbx_sandbox, "survey_rated.txt",
                  "Recorded from the sandbox by tests/ami/record_scenarios.py: a ticket is "
                  "closed, the scheduler\nplaces a survey call (sv-<id>-1), the citizen "
                  "answers and presses 4.", scenario)



@pytest_twisted.ensureDeferred
async def test_record_reminder(pbx_sandbox, make_harness):
    """A dispatched ticket's clock turns yellow: the scheduler calls the department's duty
    number, which answers and presses 1 (the reminder is confirmed)."""
    duty = "041100000019"
    h = await make_harness(reminder_ring_s=8.0, reminder_retry_s=1.0, reminder_max_attempts=1)

    async def scenario(recorder: AMIRecorder) -> None:
        await h.city.set_number(duty, mode="answer", delay_s=0.3, dtmf="1")
        ticket_id = await h.write(lambda s: _ticket_due_soon(s, "13912345009", duty,
                                                              warn_s=1, due_s=600))
        rows = await until(_notices(h, ticket_id, done=1), timeout=40)
        assert rows[0][:4] == ("remind", "done", "confirmed", "1")

    await _record(pbx_sandbox, "reminder_confirmed.txt",
                  "Recorded from the sandbox by tests/ami/record_scenarios.py: a dispatched "
                  "ticket turns yellow;\nthe scheduler calls the department's duty number "
                  "(rm-<id>-1), which answers and\npresses 1.", scenario)

@pytest_twisted.ensureDeferred
async def test_record_login_md5_resync(pbx_sandbox, controller, city):
    """An MD5 login while agent 1004 is in the queue talking with a citizen: the resync
    (CoreShowChannels, QueueStatus) finds both; then the citizen hangs up."""
    number = "13812345007"
    await city.ami.when_ready()
    await city.set_agent("1004", delay_s=0.3, tone=str(AGENT_HZ))
    await controller.agents.login("1004")
    try:
        placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=60)
        await until(lambda: [c for c in controller.tracker.calls.values()
                             if c.caller == number and c.state == CallState.TALKING],
                    timeout=40)
        recorder = AMIRecorder(pbx_sandbox, auth="md5")
        await recorder.start()
        try:
            await city.hangup(placed.channel_id)
            await wait_final_call(controller.db, number)
            await _quiet(recorder)
        finally:
            await recorder.stop()
    finally:
        await controller.agents.logout("1004")
    recorder.write(TRANSCRIPTS / "login_md5_resync.txt",
                   "Recorded from the sandbox by tests/ami/record_scenarios.py: an MD5 login "
                   "while agent 1004\ntalks with a citizen (the resync's CoreShowChannels and "
                   "QueueStatus list them);\nthen the citizen hangs up.")


@pytest_twisted.ensureDeferred
async def test_record_command_and_refused_originate(pbx_sandbox):
    """A plain login, a Command whose reply is Output lines, and an Originate Asterisk
    refuses (no such endpoint)."""
    from hotline.ami.actions import Action, AMIError

    recorder = AMIRecorder(pbx_sandbox, tracker=False)
    await recorder.start()
    client = recorder.client
    try:
        await client.send_action(Action("Command", Command="core show channels count",
                                        id_generator=client.ids))
        with pytest.raises(AMIError):
            await client.send_action(Action("Originate", Channel="PJSIP/9999",
                                            Context="hotline-callback", Exten="s",
                                            Priority=1, id_generator=client.ids))
        await sleep(0.5)
    finally:
        await recorder.stop()
    recorder.write(TRANSCRIPTS / "command_originate.txt",
                   "Recorded from the sandbox by tests/ami/record_scenarios.py: a plain login, "
                   "a Command whose reply\nis Output lines, and an Originate Asterisk refuses "
                   "(no endpoint 9999).")
