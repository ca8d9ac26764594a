"""The transcript on the agent desk, with the real decoder and the shipped Korean model: when the
job of a call at the agent's seat ends it is pushed over the desk's event stream (to that seat
only), ``GET /api/transcripts/latest`` gives it back after a reload, and the desk in headless
Chromium shows it with speaker labels, as text.

The model is Korean and the speech espeak-ng's: the words are whatever the model hears, so the
tests assert who spoke, in which order and that something was heard, never the words.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Call, Transcript, TranscriptSegment
from hotline.bus import EventBus
from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.plugins import web_console
from hotline.stt import jobs
from hotline.stt.service import TranscriptionService
from hotline.web import accounts
from tests.calls.support import FakeAMI
from tests.scheduler.support import ensure_agents
from tests.stt.conftest import DECODES, stt_config
from tests.stt.support import make_call, say, track
from tests.support.waiting import until
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, EventReader, sign_in

pytestmark = DECODES

OTHER_PASSWORD = "agent-pass-1002"
HOSTILE = '<b>粗体</b><img src=x onerror="window.__xss=1">'


@pytest.fixture
def call_audio(speech_dir, tmp_path):
    """The citizen speaks at 0.3 s, the agent answers at 2.0 s."""
    return {"citizen": track([(0.3, say("물이 안 나와요", speech_dir))], 4.0,
                             tmp_path / "d-citizen.wav"),
            "agent": track([(2.0, say("네 알겠습니다", speech_dir))], 4.0,
                           tmp_path / "d-agent.wav")}


def _call_at_seat(db, uniqueid: str, recordings, seat: str = "1001") -> int:
    """A finished call answered at ``seat`` with its recordings (as the journal writes it)."""
    with db.begin() as s:
        agents = ensure_agents(s, "1001", "1002")
        call_id, _ = make_call(s, uniqueid, recordings)
        s.get(Call, call_id).agent_id = agents[seat]
        return call_id


@pytest_twisted.async_yield_fixture
async def desk(db, registry, stt_state, tmp_path):
    """A console (no PBX: a live call view over a fake AMI link, so the desk's event streams
    open) whose desk hears the transcription service, with agent1 at seat 1001 and agent2 at
    seat 1002."""
    add_users(db)
    with db.begin() as s:
        accounts.create_user(s, "agent2", role="agent", password=OTHER_PASSWORD,
                             agent_code="1002")
    bus = EventBus()
    calls = CallService(tracker=CallTracker(ami=FakeAMI(), clock=reactor, bus=bus))
    service = TranscriptionService(config=stt_config(stt_state), db=db, reactor=reactor,
                                   registry=registry, worker_name="desk-test", bus=bus)
    web = web_console(config=web_config(tmp_path), db=db, reactor=reactor, bus=bus,
                      stt=service, calls=calls)
    await service.start()
    await web.start()
    try:
        yield web, service
    finally:
        await web.stop()
        await service.stop()


async def _signed_in(port: int, username: str, password: str) -> HTTP:
    client = HTTP(port)
    await sign_in(client, username, password)
    return client


@pytest_twisted.ensureDeferred
async def test_transcript_is_pushed_to_its_seat_and_loaded_again(desk, db, call_audio):
    """Before the job: the last call says "none". When the job ends the seat's stream gets the
    dialog (citizen then agent, labelled 市民/坐席, each with text) and another seat's stream
    does not; after a reload the same transcript comes from the API."""
    web, service = desk
    call_id = _call_at_seat(db, "1700000900.1", call_audio)
    mine = await _signed_in(web.port, "agent1", PASSWORDS["agent1"])
    other = await _signed_in(web.port, "agent2", OTHER_PASSWORD)
    before = (await mine.get("/api/transcripts/latest")).json()
    assert before["call_id"] == call_id and before["status"] == "none"
    assert before["segments"] == [] and before["agent"] == "1001"
    streams = [EventReader(web.port, c.cookies).start() for c in (mine, other)]
    try:
        for stream in streams:
            await until(lambda s=stream: s.named("hello") or None, timeout=10)
        await service.on_call_finalised(call_id)
        pushed = (await until(lambda: streams[0].named("transcript") or None, timeout=90,
                              step=0.2))[0]
        await service.idle()
    finally:
        for stream in streams:
            stream.close()
    assert streams[1].named("transcript") == [], "another seat was told"
    assert pushed["call_id"] == call_id and pushed["status"] == jobs.DONE
    assert pushed["model"] == "ko-small" and pushed["ticket"]
    segments = pushed["segments"]
    assert [g["speaker"] for g in segments][:1] == ["citizen"]
    assert {g["speaker"] for g in segments} == {"citizen", "agent"}
    labels = {"citizen": "市民", "agent": "坐席"}
    for g in segments:
        assert g["label"] == labels[g["speaker"]]
        assert isinstance(g["text"], str) and g["text"].strip()
        assert 0 <= g["start_s"] < g["end_s"] <= 4.5
    first_agent = next(g for g in segments if g["speaker"] == "agent")
    assert first_agent["start_s"] > segments[0]["start_s"]
    reloaded = (await mine.get("/api/transcripts/latest")).json()
    assert reloaded == pushed
    # The other seat's last call is none at all.
    assert (await other.get("/api/transcripts/latest")).status == 404


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page is the same on either
@pytest_twisted.ensureDeferred
async def test_desk_shows_the_transcript_with_speakers_as_text(desk, db, call_audio,
                                                               db_url, browser):
    """In Chromium: the desk's transcript card fills in when the job ends (no reload), one line
    per utterance with its speaker; a reloaded desk loads it again, and a text that looks like
    HTML is shown as text."""
    from tests.support.browser import Browser

    web, service = desk
    call_id = _call_at_seat(db, "1700000901.1", call_audio)
    page = await browser.page(f"http://127.0.0.1:{web.port}")

    def open_desk() -> str:
        page.goto("/login")
        page.fill("#username", "agent1")
        page.fill("#password", PASSWORDS["agent1"])
        page.click("#login-submit")
        page.wait_for_load_state("domcontentloaded")
        page.goto("/desk")
        page.wait_for_selector("#desk[data-live='yes']", timeout=15000)
        page.wait_for_selector("#transcript-card[data-status='none']", timeout=10000)
        return page.inner_text("#transcript-state")
    assert await browser.run(open_desk) == "未转写"
    await service.on_call_finalised(call_id)

    def pushed() -> list[tuple[str, str, str]]:
        page.wait_for_selector("#transcript-card[data-status='done']", timeout=90000)
        Browser.shot(page, "desk-transcript")
        return page.eval_on_selector_all("#transcript li", "els => els.map(e => ["
                                         "e.dataset.speaker, e.querySelector('.who')"
                                         ".textContent, e.querySelector('.said')"
                                         ".textContent])")
    lines = await browser.run(pushed)
    assert lines and lines[0][:2] == ["citizen", "市民"]
    assert {(sp, who) for sp, who, _ in lines} == {("citizen", "市民"), ("agent", "坐席")}
    assert all(said.strip() for _, _, said in lines)
    with db.begin() as s:
        seg = s.scalars(select(TranscriptSegment).join(Transcript)
                        .where(Transcript.call_id == call_id)
                        .order_by(TranscriptSegment.start_s)).first()
        seg.text = HOSTILE

    def reloaded() -> tuple[str, object, int]:
        page.reload()
        page.wait_for_selector("#transcript-card[data-status='done']", timeout=15000)
        Browser.shot(page, "desk-transcript-reloaded")
        return (page.inner_text("#transcript li .said"),
                page.evaluate("window.__xss"),
                page.eval_on_selector_all("#transcript img, #transcript b",
                                          "els => els.length"))
    said, xss, elements = await browser.run(reloaded)
    assert said == HOSTILE and xss is None and elements == 0

