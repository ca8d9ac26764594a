"""Speech-to-text on the real PBX: a simulated citizen's call ends with a transcript of both
speakers on its ticket, decoded from the recordings the dialplan's MixMonitor wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor, threads

from db.models import Call, TicketEvent, Transcript
from hotline.controller import Controller
from hotline.pbx.sandbox import Sandbox
from hotline.stt import jobs
from hotline.stt.plugin import build as build_stt
from tests.stt.conftest import DECODES
from tests.stt.support import say
from tests.support.audio import wav_seconds
from tests.support.hotline import wait_final_call
from tests.support.waiting import until

pytestmark = [pytest.mark.pbx, DECODES]

CALLER = "13812340071"


@pytest_twisted.async_yield_fixture
async def stt_controller(pbx_sandbox: Sandbox, registry, tmp_path):
    """The controller with the transcription service attached, as the lead's wiring does it,
    using the shipped Korean model (the sandbox's citizens speak Korean here)."""
    # A database of its own: the shared one holds every earlier test's calls, queued for a
    # model the sandbox does not have, which this worker would otherwise decode first.
    cfg = pbx_sandbox.config.with_overrides(
        {"stt": {"model": "ko-small", "call_language": "ko", "poll_s": 0.5},
         "database": {"url": f"sqlite:///{tmp_path / 'stt.db'}"}})
    ctl = Controller(config=cfg, reactor=reactor)
    # The session's loaded model instead of a second copy: swap the controller's own service
    # for one on the shared registry before it starts.
    ctl.stt.detach()
    service = build_stt(ctl.deps, registry=registry)
    await ctl.start()
    try:
        yield ctl, service
    finally:
        await ctl.stop()


def _inside(sandbox: Sandbox, host_path: Path) -> str:
    """The sandbox's own path of a host file, without extension, as Playback wants it."""
    return f"/srv/hotline/{host_path.relative_to(sandbox.var_dir).with_suffix('')}"


@pytest_twisted.ensureDeferred
async def test_citizen_call_ends_with_both_speakers_on_its_ticket(stt_controller, city,
                                                                 pbx_sandbox):
    """The agent greets, the citizen states the problem; after hangup the ticket's note is the
    dialog with the agent's and the citizen's segments, each from their own recording."""
    ctl, service = stt_controller
    sounds = pbx_sandbox.var_dir / "sounds" / "sim"
    greeting = await threads.deferToThread(say, "안녕하세요 무엇을 도와드릴까요", sounds)
    problem = await threads.deferToThread(say, "아파트 앞에 쓰레기가 많아요", sounds)
    await city.ami.when_ready()
    await city.set_agent("1003", delay_s=0.5, play=_inside(pbx_sandbox, greeting))
    await ctl.agents.login("1003")
    try:
        # The citizen speaks once the greeting prompt is over and the agent has answered.
        pause = wav_seconds(pbx_sandbox.var_dir / "sounds" / "zh" / "welcome.wav") + 4.5
        await city.call(CALLER, play=_inside(pbx_sandbox, problem), pause_s=pause, hold_s=3)
        row, _ = await wait_final_call(ctl.db, CALLER)
    finally:
        await ctl.agents.logout("1003")
    assert row.status == "completed" and row.ticket_id is not None

    def transcript():
        with ctl.db.begin() as s:
            job = s.scalars(select(Transcript).join(Call).where(Call.id == row.id)).first()
            if job is None or job.status not in (jobs.DONE, jobs.FAILED):
                return None
            segments = [(g.speaker, g.start_s, g.text) for g in jobs.merged_dialog(job.segments)]
            note = s.get(TicketEvent, job.ticket_event_id) if job.ticket_event_id else None
            return job.status, job.error, segments, note and (note.ticket_id, note.text)
    status, error, segments, note = await until(transcript, timeout=90, step=0.5)
    assert status == jobs.DONE and error is None
    speakers = [sp for sp, _start, _text in segments]
    assert {"citizen", "agent"} <= set(speakers)
    # The agent spoke on answering; the citizen some seconds later.
    assert speakers[0] == "agent"
    first_citizen = next(start for sp, start, _t in segments if sp == "citizen")
    assert first_citizen > segments[0][1]
    ticket_id, text = note
    assert ticket_id == row.ticket_id
    lines = text.splitlines()
    assert lines[0] == "Call transcript (speech model ko-small, language ko)"
    assert any(": " in ln and ln.split("] ", 1)[1].startswith("Agent:") for ln in lines[1:])
    assert any(": " in ln and ln.split("] ", 1)[1].startswith("Citizen:") for ln in lines[1:])
