"""Transcription jobs as rows: queued once, claimed once, retried within a bound, taken back
after a restart, and noted on the ticket even when the ticket comes later (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import Call, TicketEvent, Transcript
from hotline.stt import jobs
from hotline.tickets.service import TicketService
from tests.stt.support import make_call

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
CLAIM = {"model": "ko-small", "language": "ko"}


def _queue(session, uniqueid="1700000000.1", ticket=True, recordings=None):
    recordings = recordings if recordings is not None else {
        "citizen": "/nowhere/c.wav", "agent": "/nowhere/a.wav", "mix": "/nowhere/m.wav"}
    call_id, ticket_id = make_call(session, uniqueid, recordings, ticket=ticket)
    job = jobs.enqueue(session, call_id, now=NOW, **CLAIM)
    return call_id, ticket_id, job


def test_enqueue_is_once_per_call_and_skips_calls_without_speech(session):
    """A call reported twice is one job; a call with only the mix (or nothing) gets none."""
    call_id, _t, job = _queue(session)
    assert job.status == jobs.QUEUED and job.attempts == 0
    assert jobs.enqueue(session, call_id, now=NOW, **CLAIM).id == job.id
    other, _ = make_call(session, "1700000000.2", {"mix": "/nowhere/m.wav"}, ticket=False)
    assert jobs.enqueue(session, other, now=NOW, **CLAIM) is None
    assert session.scalars(select(Transcript)).all() == [job]


def test_a_call_abandoned_early_is_not_transcribed_and_not_looked_at_again(session):
    """A call nobody answered that lasted under the threshold gets no job (a 'skipped' row
    records why), and the sweep for missed calls passes over it; a longer one is queued."""
    short, _ = make_call(session, "1700000000.5", {"citizen": "/nowhere/c.wav"}, ticket=False)
    assert jobs.enqueue(session, short, now=NOW, skip_abandoned_under_s=20, **CLAIM) is None
    row = session.scalars(select(Transcript).where(Transcript.call_id == short)).one()
    assert row.status == jobs.SKIPPED and "under 20 s" in row.error
    assert jobs.enqueue(session, short, now=NOW, **CLAIM) is None  # decided once
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert jobs.enqueue_missed(session, since=NOW, now=later, skip_abandoned_under_s=20,
                               **CLAIM) == []
    long_wait, _ = make_call(session, "1700000000.6", {"citizen": "/nowhere/c.wav"},
                             ticket=False)
    assert jobs.enqueue(session, long_wait, now=NOW, skip_abandoned_under_s=5,
                        **CLAIM).status == jobs.QUEUED


def test_enqueue_after_another_unit_queued_the_call_returns_its_job(db_url):
    """A second unit of work queueing a call another one has just queued gets that job."""
    from db.session import make_engine, make_session_factory

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as s:
            call_id, _ = make_call(s, "1700000500.1", {"citizen": "/x/c.wav"}, ticket=False)
        with factory.begin() as s:
            first = jobs.enqueue(s, call_id, now=NOW, **CLAIM).id
        with factory.begin() as s:
            assert jobs.enqueue(s, call_id, now=NOW, **CLAIM).id == first
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_enqueue_racing_an_uncommitted_insert_gets_the_winners_job(postgres_server, db_url):
    """On PostgreSQL two units that both find no job both insert; the loser waits on the
    unique index, fails, rolls back its savepoint and returns the winner's job. (SQLite
    serialises writers instead: the loser gets "database is locked" and the service runs the
    whole unit again.)"""
    import threading

    from db.session import make_engine, make_session_factory

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as s:
            call_id, _ = make_call(s, "1700000500.2", {"citizen": "/x/c.wav"}, ticket=False)
        winner = factory()
        winner.begin()
        won = jobs.enqueue(winner, call_id, now=NOW, **CLAIM)  # inserted, not committed
        got: list[int] = []

        def loser() -> None:
            with factory.begin() as s:
                got.append(jobs.enqueue(s, call_id, now=NOW, **CLAIM).id)
        thread = threading.Thread(target=loser)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second insert did not wait for the first"
        winner.commit()
        thread.join(timeout=10)
        assert got == [won.id]
        winner.close()
    finally:
        engine.dispose()


def test_claim_hands_out_each_job_once_with_its_speakers(session):
    """The claimed job lists citizen then agent (the mix is left out); a second claim finds
    nothing while it runs."""
    _c, _t, job = _queue(session)
    taken = jobs.claim_next(session, worker="node-a", now=NOW, **CLAIM)
    assert taken.id == job.id and taken.attempts == 1
    assert taken.recordings == (("citizen", "/nowhere/c.wav"), ("agent", "/nowhere/a.wav"))
    assert jobs.claim_next(session, worker="node-b", now=NOW, **CLAIM) is None
    assert session.get(Transcript, job.id).worker == "node-a"


def test_retries_are_bounded_and_wait_their_delay(session):
    """A passing problem requeues the job after the delay until the attempts run out."""
    _c, _t, job = _queue(session)
    delay = dt.timedelta(seconds=30)
    at = NOW
    for attempt in (1, 2, 3):
        taken = jobs.claim_next(session, worker="w", now=at, **CLAIM)
        assert taken.attempts == attempt
        row = jobs.retry_or_fail(session, job.id, "c.wav: missing", permanent=False,
                                 max_attempts=3, retry_delay=delay, now=at)
        if attempt < 3:
            assert row.status == jobs.QUEUED and row.retry_at == at + delay
            assert jobs.claim_next(session, worker="w", now=at, **CLAIM) is None, \
                "taken again before its delay"
        at += delay
    assert row.status == jobs.FAILED and "gave up after 3 attempts" in row.error


def test_permanent_problem_fails_at_once(session):
    _c, _t, job = _queue(session)
    jobs.claim_next(session, worker="w", now=NOW, **CLAIM)
    row = jobs.retry_or_fail(session, job.id, "c.wav: not a readable WAV file", permanent=True,
                             max_attempts=3, retry_delay=dt.timedelta(0), now=NOW)
    assert row.status == jobs.FAILED and row.attempts == 1


def test_restart_takes_back_own_and_expired_jobs_only(session):
    """After a restart this controller's running jobs, and others' past the lease, are queued
    again; another live controller's fresh job is left alone."""
    lease = dt.timedelta(minutes=15)
    ids = []
    for n, (worker, claimed) in enumerate([("me", NOW), ("other", NOW - 2 * lease),
                                           ("other", NOW)]):
        _c, _t, job = _queue(session, uniqueid=f"1700000001.{n}", ticket=False)
        job.status, job.worker, job.claimed_at = jobs.RUNNING, worker, claimed
        ids.append(job.id)
    session.flush()
    assert jobs.requeue_stale(session, worker="me", lease=lease, now=NOW) == 2
    session.expire_all()
    assert [session.get(Transcript, i).status for i in ids] == [jobs.QUEUED, jobs.QUEUED,
                                                                jobs.RUNNING]


def test_note_waits_for_the_ticket_and_is_written_once(session):
    """A job done before the agent opened the ticket is noted when the call gets its ticket."""
    call_id, _t, job = _queue(session, ticket=False)
    jobs.claim_next(session, worker="w", now=NOW, **CLAIM)
    results = [jobs.SpeakerResult("citizen", "c.wav", [jobs.Segment("citizen", 0.5, 1.5,
                                                                    "물 이 안 나 와 요", 0.9)]),
               jobs.SpeakerResult("agent", "a.wav", [jobs.Segment("agent", 0.2, 0.4, "네", 1.0)])]
    row = jobs.finish(session, job.id, results, suggestion=None, now=NOW)
    tickets = TicketService()
    assert jobs.post_note(session, row, tickets=tickets, call_language="ko") is None
    ticket = tickets.intake(session, {"channel": "hotline", "kind": "complaint",
                                      "description": "no water", "phone": "13812340001"},
                            actor="agent 1001")
    session.get(Call, call_id).ticket = ticket
    session.flush()
    assert jobs.post_pending_notes(session, tickets=tickets, call_language="ko") == [job.id]
    assert jobs.post_pending_notes(session, tickets=tickets, call_language="ko") == []
    notes = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                      TicketEvent.action == "note")).all()
    assert len(notes) == 1
    lines = notes[0].text.splitlines()
    assert lines[0] == "Call transcript (speech model ko-small, language ko)"
    assert lines[1:] == ["[00:00.2] Agent: 네", "[00:00.5] Citizen: 물 이 안 나 와 요"]


def test_note_says_when_the_model_speaks_another_language(session):
    """A Korean model on Mandarin calls: the note warns that the text is not what was said."""
    _c, _t, job = _queue(session)
    jobs.claim_next(session, worker="w", now=NOW, **CLAIM)
    row = jobs.finish(session, job.id, [jobs.SpeakerResult("citizen", "c.wav")],
                      suggestion=None, now=NOW)
    text = jobs.compose_note(row, call_language="zh")
    assert "not the call's language (zh)" in text and "(no speech recognised)" in text


def test_calls_recorded_without_the_finaliser_are_queued_by_the_sweep(session):
    """A finished call with speech and no job gets one; calls with a job, without speech, or
    from before the window are left alone."""
    recent, _ = make_call(session, "1700000400.1", {"citizen": "/x/c.wav"}, ticket=False)
    _queued, _t, _job = _queue(session, uniqueid="1700000400.2", ticket=False)
    make_call(session, "1700000400.3", {"mix": "/x/m.wav"}, ticket=False)
    row = session.get(Call, recent)
    since = row.started_at - dt.timedelta(minutes=1)
    just_ended = row.ended_at + dt.timedelta(seconds=5)
    assert jobs.enqueue_missed(session, since=since, now=just_ended, **CLAIM) == [], \
        "a call the finaliser is still reporting was taken"
    settled = row.ended_at + dt.timedelta(minutes=2)
    assert jobs.enqueue_missed(session, since=since, now=settled, **CLAIM) == [recent]
    assert jobs.enqueue_missed(session, since=since, now=settled, **CLAIM) == []
    later = since + dt.timedelta(days=1)
    assert jobs.enqueue_missed(session, since=later, now=settled, **CLAIM) == []
