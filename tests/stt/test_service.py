"""The transcription service with the real decoder and model, on SQLite and PostgreSQL: the
merged dialog on the ticket, bad audio, the suggestion, and jobs that outlive a restart."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Ticket, TicketEvent, Transcript
from db.session import Database
from hotline.directory.service import DirectoryService
from hotline.stt import jobs
from hotline.stt.decoder import decode_file
from hotline.stt.service import TranscriptionService
from tests.stt.conftest import DECODES, stt_config
from tests.stt.support import make_call, say, track
from tests.support.waiting import until

pytestmark = DECODES

CITIZEN_AT = (0.3, 3.5)
AGENT_AT = 1.8


@pytest.fixture
def database(db_url):
    db = Database(db_url, threads=2, reactor=reactor)
    db.start()
    yield db
    db.stop()


@pytest.fixture
def call_audio(speech_dir, tmp_path):
    """A two-sided call: the citizen speaks at 0.3 s and 3.5 s, the agent at 1.8 s."""
    first = say("물이 안 나와요", speech_dir)
    second = say("빨리 와 주세요", speech_dir)
    answer = say("네 알겠습니다", speech_dir)
    return {"citizen": track([(CITIZEN_AT[0], first), (CITIZEN_AT[1], second)], 5.0,
                             tmp_path / "c-citizen.wav"),
            "agent": track([(AGENT_AT, answer)], 5.0, tmp_path / "c-agent.wav")}


@pytest.fixture
def short_call(speech_dir, tmp_path):
    """A call where only the citizen spoke, briefly (for tests about jobs, not dialog)."""
    return {"citizen": track([(0.2, say("버스가 안 와요", speech_dir))], 1.8,
                             tmp_path / "s-citizen.wav")}


def _service(database, state_dir, registry=None, **stt) -> TranscriptionService:
    cfg = stt_config(state_dir, **stt)
    return TranscriptionService(config=cfg, db=database, reactor=reactor, registry=registry,
                                worker_name="test-node")


async def _finished(database, call_id):
    def check():
        with database.begin() as s:
            job = s.scalars(select(Transcript).where(Transcript.call_id == call_id)).first()
            if job is None or job.status not in (jobs.DONE, jobs.FAILED):
                return None
            segs = [(g.speaker, g.start_s, g.end_s, g.text)
                    for g in jobs.merged_dialog(job.segments)]
            note = s.get(TicketEvent, job.ticket_event_id) if job.ticket_event_id else None
            return job, segs, note
    return await until(check, timeout=60, step=0.2)


@pytest_twisted.ensureDeferred
async def test_call_note_is_the_merged_dialog_in_time_order(database, registry, stt_state,
                                                           call_audio):
    """Both speakers' segments, attributed and in time order, become the ticket's note; the
    suggestion from the directory's keywords is shown and not applied."""
    # The directory's keyword is a word the model hears in the citizen's first sentence.
    heard = decode_file(registry.get(), call_audio["citizen"]).utterances[0].words[-1].word
    with database.begin() as s:
        DirectoryService().import_csv(s, (
            "name,department_code,department_name,department_kind,number,fallback_numbers,"
            "categories,keywords,service_hours,notes\n"
            f"수도 상담,D05,수도사업소,utility,99900123,,수도,{heard},24/7,\n"))
        call_id, ticket_id = make_call(s, "1700000100.1", {**call_audio, "mix": "/x/mix.wav"})
    service = _service(database, stt_state, registry)
    await service.start()
    try:
        await service.on_call_finalised(call_id)
        job, segments, note = await _finished(database, call_id)
    finally:
        await service.stop()
    assert job.status == jobs.DONE and job.error is None and job.attempts == 1
    assert [sp for sp, *_ in segments] == ["citizen", "agent", "citizen"]
    starts = (CITIZEN_AT[0], AGENT_AT, CITIZEN_AT[1])
    for (_sp, start, end, text), at in zip(segments, starts, strict=True):
        assert at - 0.3 <= start <= at + 0.8 and end > start and text
    assert job.language == "ko" and job.model == "ko-small"
    lines = note.text.splitlines()
    assert lines[0] == "Call transcript (speech model ko-small, language ko)"
    assert [ln.split("] ")[1].split(":")[0] for ln in lines[1:4]] == ["Citizen", "Agent",
                                                                      "Citizen"]
    assert lines[4].startswith("Suggestion (not applied") and "D05" in lines[4]
    assert job.suggestion["hotline_number"] == "99900123" and heard in job.suggestion["matched"]
    with database.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.department_id is None and ticket.category is None, "suggestion applied"


@pytest_twisted.ensureDeferred
async def test_broken_audio_fails_its_job_on_the_ticket_and_the_worker_goes_on(
        database, registry, stt_state, short_call, tmp_path):
    """Corrupt and empty files end their job with the reason on the ticket; the one worker then
    transcribes the next call; a missing file is retried, then given up."""
    corrupt = tmp_path / "bad-citizen.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage" * 40)
    empty = track([], 0.0, tmp_path / "bad-agent.wav")
    with database.begin() as s:
        bad, bad_ticket = make_call(s, "1700000200.1", {"citizen": corrupt, "agent": empty})
        gone, _ = make_call(s, "1700000200.2", {"citizen": tmp_path / "never-written.wav"})
        good, _ = make_call(s, "1700000200.3", short_call)
    service = _service(database, stt_state, registry, workers=1, retries=2)
    await service.start()
    try:
        for call_id in (bad, gone, good):
            await service.on_call_finalised(call_id)
        failed, _segs, note = await _finished(database, bad)
        missing, _segs, _note = await _finished(database, gone)
        done, segments, _note = await _finished(database, good)
    finally:
        await service.stop()
    assert failed.status == jobs.FAILED and failed.attempts == 1
    assert "bad-citizen.wav: not a readable WAV file" in failed.error
    assert "bad-agent.wav: the recording is empty" in failed.error
    assert note.ticket_id == bad_ticket
    assert note.text.startswith("Call transcript failed (speech model ko-small): citizen: ")
    assert missing.status == jobs.FAILED and missing.attempts == 2
    assert "never-written.wav: the recording file does not exist" in missing.error
    assert done.status == jobs.DONE and {sp for sp, *_ in segments} == {"citizen"}


@pytest_twisted.ensureDeferred
async def test_jobs_queued_before_a_restart_finish_after_it(database, registry, stt_state,
                                                           short_call):
    """A job queued while no model was usable, and one left running by this controller when it
    stopped, are both transcribed by the next start."""
    with database.begin() as s:
        queued, _ = make_call(s, "1700000300.1", short_call)
        interrupted, _ = make_call(s, "1700000300.2", short_call)
    before = _service(database, stt_state, model="cn")  # no model files on this machine
    await before.start()
    try:
        await before.on_call_finalised(queued)
        await before.on_call_finalised(interrupted)
        await until(lambda: before._model_problem, timeout=10)
    finally:
        await before.stop()
    with database.begin() as s:
        rows = {j.call_id: j for j in s.scalars(select(Transcript))}
        assert {r.status for r in rows.values()} == {jobs.QUEUED}
        rows[interrupted].status = jobs.RUNNING  # as if the controller died while decoding it
        rows[interrupted].worker = "test-node"
        rows[interrupted].claimed_at = dt.datetime.now(dt.UTC)
    after = _service(database, stt_state, registry)
    await after.start()
    try:
        first, segs_a, note_a = await _finished(database, queued)
        second, segs_b, note_b = await _finished(database, interrupted)
    finally:
        await after.stop()
    assert first.status == second.status == jobs.DONE
    assert segs_a == segs_b and segs_a, "the same audio gave different transcripts"
    assert note_a is not None and note_b is not None


@pytest_twisted.ensureDeferred
async def test_a_locked_unit_is_tried_as_often_as_the_one_policy_says(tmp_path, stt_state,
                                                                      monkeypatch):
    """The service's units of work go through the database's one retry policy for SQLite's
    "database is locked": ``LOCKED_RETRIES`` tries in all, from the reactor side and from a
    worker thread alike, then the error reaches the caller."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from db import session as session_mod

    monkeypatch.setattr(session_mod, "locked_pause", lambda attempt: 0.0)
    database = Database(f"sqlite:///{tmp_path / 'stt.db'}", threads=2, reactor=reactor)
    database.start()
    tries = []

    def refused(session):
        tries.append(1)
        raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))

    try:
        service = _service(database, stt_state)
        with pytest.raises(OperationalError, match="locked"):
            await service._run(refused)
        assert len(tries) == session_mod.LOCKED_RETRIES
        tries.clear()
        with pytest.raises(OperationalError, match="locked"):
            service._unit(refused)
        assert len(tries) == session_mod.LOCKED_RETRIES
    finally:
        database.stop()
