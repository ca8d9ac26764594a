"""Live captions on the real PBX with the shipped Korean model: while the call is up the agent's
desk stream gets partial and final text of both speakers (AudioSocket forks of each voice,
decoded as they come); after hang-up the ticket's note is that same transcript, not a second
decoding. The words are the model's guesses at espeak-ng's voice: structure and timing are
checked, never the words."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor, threads

from db.models import Call, TicketEvent, Transcript
from hotline.controller import Controller
from hotline.floor.plugin import _captions
from hotline.pbx.sandbox import Sandbox
from hotline.stt import jobs
from hotline.stt.plugin import build as build_stt
from tests.stt.support import say
from tests.support.hotline import desk_phone_registered, line_state, wait_final_call
from tests.support.waiting import until
from tests.web.conftest import ensure_user
from tests.web.support import HTTP, EventReader, sign_in

# Decodes live: on the worker that holds the other decoding tests (one model, no fight for CPU).
pytestmark = [pytest.mark.pbx, pytest.mark.xdist_group("vosk")]

SEAT, CALLER, PASSWORD = "1003", "13812346101", "captions-agent-pass-1"


@pytest_twisted.async_yield_fixture
async def captions_controller(pbx_sandbox: Sandbox, registry, tmp_path):
    """A controller with live captions on, over the session's loaded Korean model, on a
    database of its own."""
    cfg = pbx_sandbox.config.with_overrides(
        {"stt": {"model": "ko-small", "call_language": "ko", "poll_s": 0.5},
         "captions": {"enabled": True, "port": 0},
         "database": {"url": f"sqlite:///{tmp_path / 'captions.db'}"}})
    ctl = Controller(config=cfg, reactor=reactor)
    ctl.stt.detach()
    build_stt(ctl.deps, registry=registry)
    ctl.floor.captions = _captions(ctl.deps)  # over the swapped service's model and record
    await ctl.start()
    try:
        yield ctl
    finally:
        await ctl.stop()


def _inside(sandbox: Sandbox, host_path: Path) -> str:
    return f"/srv/hotline/{host_path.relative_to(sandbox.var_dir).with_suffix('')}"


@pytest_twisted.ensureDeferred
async def test_captions_reach_the_desk_during_the_call_and_become_the_note(
        captions_controller, city, pbx_sandbox):
    """Partial and final captions of the citizen and the agent arrive on the agent's desk
    stream while the call is still talking; after hang-up the call's transcript is marked
    live, holds exactly the final segments the desk was shown, and is the ticket's note."""
    ctl = captions_controller
    sounds = pbx_sandbox.var_dir / "sounds" / "sim"
    greeting = await threads.deferToThread(say, "안녕하세요 무엇을 도와드릴까요", sounds)
    problem = await threads.deferToThread(say, "아파트 앞에 쓰레기가 많아요 빨리 치워 주세요",
                                          sounds)
    ensure_user(ctl.db, "captions-agent", role="agent", password=PASSWORD,
                display_name="朴敏", agent_code=SEAT)
    client = HTTP(ctl.web.port)
    await sign_in(client, "captions-agent", PASSWORD)
    stream = EventReader(ctl.web.port, client.cookies).start()
    await desk_phone_registered(city, ctl, SEAT)
    await city.set_agent(SEAT, delay_s=0.5, play=_inside(pbx_sandbox, greeting))
    await ctl.agents.login(SEAT)
    try:
        await until(lambda: stream.named("hello") or None, timeout=10)
        placed = await city.call(CALLER, play=_inside(pbx_sandbox, problem), pause_s=4.0,
                                 hold_s=90)
        call = await until(lambda: next((c for c in ctl.tracker.calls.values()
                                         if c.caller == CALLER), None), timeout=30)

        def both_final_while_talking():
            finals = {c["speaker"] for c in stream.named("caption") if c["kind"] == "final"}
            return finals == {"citizen", "agent"} and call.state.value == "talking"
        # Generous: on a loaded machine the decoder may run behind the call.
        await until(both_final_while_talking, timeout=80, step=0.2)
        await city.hangup(placed.channel_id)  # an error reply raises AMIError
        try:
            row, _ = await wait_final_call(ctl.db, CALLER, timeout=60)
        except TimeoutError as e:  # say what the controller and the city still had up
            left = await city.ami.action("CoreShowChannels")
            channels = [m.get("Channel") for m in left if m.get("Event") == "CoreShowChannel"]
            raise TimeoutError(f"{e}: the call's row never ended; {line_state(ctl)}; "
                               f"city channels {channels}") from None
    finally:
        await ctl.agents.logout(SEAT)
        await city.set_agent(SEAT)
        stream.close()
    captions = [c for c in stream.named("caption") if c["call"] == call.uniqueid]
    kinds = {(c["speaker"], c["kind"]) for c in captions}
    assert {("citizen", "partial"), ("agent", "partial"), ("citizen", "final"),
            ("agent", "final")} <= kinds
    for c in captions:
        assert c["text"].strip() and 0 <= c["start_s"] <= c["end_s"] <= c["fed_s"] + 0.5
    finals = sorted((c["speaker"], c["start_s"], c["text"]) for c in captions
                    if c["kind"] == "final")
    assert "suggestion" in next(c for c in captions if c["kind"] == "final")
    # The agent greets on answering; the citizen speaks after a pause.
    first = {sp: min(s for s2, s, _ in finals if s2 == sp) for sp in ("citizen", "agent")}
    assert first["agent"] < 3.0

    def transcript():
        with ctl.db.begin() as s:
            job = s.scalars(select(Transcript).join(Call).where(Call.id == row.id)).first()
            if job is None or job.ticket_event_id is None:
                return None
            segments = sorted((g.speaker, round(g.start_s, 2), g.text) for g in job.segments)
            note = s.get(TicketEvent, job.ticket_event_id)
            return job.source, job.status, job.attempts, segments, note.text
    source, status, attempts, segments, note = await until(transcript, timeout=60, step=0.5)
    assert (source, status, attempts) == (jobs.LIVE, jobs.DONE, 0)
    assert segments == [(sp, round(st, 2), tx) for sp, st, tx in finals]
    assert note.splitlines()[0] == ("Call transcript (speech model ko-small, language ko, "
                                    "live captions)")
    for _sp, _st, text in finals:
        assert text in note
