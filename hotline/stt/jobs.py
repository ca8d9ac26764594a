# -*- test-case-name: tests.stt.test_jobs -*-
"""Transcription jobs as rows of the ``transcript`` table: queued, claimed, finished, noted.

The row is the job, so a job survives a restart: a queued row is simply taken later, and a
row left ``running`` by a controller that stopped is put back in the queue (``requeue_stale``).
Claiming is one conditional UPDATE, so two controllers on one PostgreSQL never run the same
job. Every function takes the caller's session and never commits (``Database.run`` or
``begin()`` owns the unit of work).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Call, CallRecording, Transcript, TranscriptSegment, TranscriptStatus
from hotline.tickets.service import TicketService

__all__ = ["enqueue_finalised", "QUEUED", "RUNNING", "DONE", "FAILED", "SKIPPED", "RECORDING",
           "LIVE",
           "SPEAKER_OF_DIRECTION", "SPEAKER_LABELS",
           "JobInput", "SpeakerResult", "Segment", "enqueue", "enqueue_missed", "requeue_stale", "claim_next",
           "finish", "retry_or_fail", "post_note", "post_pending_notes", "compose_note",
           "merged_dialog", "clock_text", "NOTE_ACTOR"]

#: The job statuses under their short names here (L{db.models.TranscriptStatus}). SKIPPED: not
#: transcribed on purpose (nobody answered and the caller gave up early); the row records the
#: decision, so no sweep picks the call up again.
QUEUED, RUNNING, DONE, FAILED, SKIPPED = (
    TranscriptStatus.QUEUED, TranscriptStatus.RUNNING, TranscriptStatus.DONE,
    TranscriptStatus.FAILED, TranscriptStatus.SKIPPED)
#: Where a transcript's words come from (``Transcript.source``): the recordings decoded after
#: hang-up, or the live captions the agent saw during the call (hotline/floor/captions.py).
RECORDING, LIVE = "recording", "live"
#: Which recordings are speech, and whose: the mix is both sides again, so it is left out.
SPEAKER_OF_DIRECTION: dict[str, str] = {"citizen": "citizen", "agent": "agent",
                                        "room": "department"}
SPEAKER_LABELS: dict[str, str] = {"citizen": "Citizen", "agent": "Agent",
                                  "department": "Department"}
_SPEAKER_ORDER = {name: i for i, name in enumerate(SPEAKER_LABELS)}
#: Who the ticket's event log says wrote the note.
NOTE_ACTOR = "speech-to-text"


@dataclass(frozen=True)
class JobInput:
    """What a worker needs to run a job, read in one unit of work (plain data, thread-safe)."""

    id: int
    call_id: int
    call_uniqueid: str
    attempts: int
    model: str
    language: str
    #: (speaker, path) in speaker order.
    recordings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Segment:
    speaker: str
    start_s: float
    end_s: float
    text: str
    confidence: float | None


@dataclass
class SpeakerResult:
    """One speaker's outcome: segments, or the problem that stopped their file."""

    speaker: str
    path: str
    segments: list[Segment] = field(default_factory=list)
    error: str | None = None


def enqueue(session: Session, call_id: int, *, model: str, language: str,
            now: dt.datetime, skip_abandoned_under_s: float = 0.0) -> Transcript | None:
    """Queue the call's transcription once; returns the job (new or existing), or None when
    the call has no speech recording to transcribe, or nobody answered it and it lasted less
    than ``skip_abandoned_under_s``."""
    existing = session.scalars(select(Transcript).where(
        Transcript.call_id == call_id, Transcript.kind == "call")).first()
    if existing is not None:
        return existing if existing.status != SKIPPED else None
    skip = skip_abandoned_under_s > 0 and _abandoned_early(session, call_id,
                                                          skip_abandoned_under_s)
    directions = session.scalars(select(CallRecording.direction).where(
        CallRecording.call_id == call_id)).all()
    if not any(d in SPEAKER_OF_DIRECTION for d in directions):
        return None
    job = _new_job(call_id, model, language, now, skip_abandoned_under_s if skip else None)
    try:
        with session.begin_nested():  # another unit may be queueing the same call right now
            session.add(job)
    except IntegrityError:
        job = session.scalars(select(Transcript).where(
            Transcript.call_id == call_id, Transcript.kind == "call")).one()
    return job if job.status != SKIPPED else None


def _new_job(call_id: int, model: str, language: str, now: dt.datetime,
             skipped_under_s: float | None) -> Transcript:
    """A call's job: queued, or (``skipped_under_s``) recorded as skipped, with why."""
    skip = skipped_under_s is not None
    return Transcript(call_id=call_id, kind="call", model=model, language=language,
                      status=SKIPPED if skip else QUEUED, attempts=0, created_at=now,
                      error=f"not transcribed: nobody answered and it lasted under "
                            f"{skipped_under_s:g} s" if skip else None)


def _abandoned_early(session: Session, call_id: int, under_s: float) -> bool:
    return _row_abandoned_early(session.get(Call, call_id), under_s)


def _row_abandoned_early(call: Call | FinalisedCall | None, under_s: float) -> bool:
    if call is None or call.answered_at is not None or call.ended_at is None:
        return False
    return (call.ended_at - call.started_at).total_seconds() < under_s


class FinalisedCall(Protocol):
    """What the finaliser's step hands over of a call's final row
    (L{hotline.calls.journal.FinalRow}; this package imports none of the calls package)."""

    id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    answered_at: dt.datetime | None
    directions: frozenset[str]


def enqueue_finalised(session: Session, call: FinalisedCall, *, model: str, language: str,
                      now: dt.datetime, skip_abandoned_under_s: float = 0.0
                      ) -> Transcript | None:
    """L{enqueue} for a call row just finalised in this session (the finaliser's step): its
    recordings are known without a query, and the job is inserted first (the unique index
    on call and kind turns a second finalisation into a no-op) instead of looked for. A call
    abandoned early is recorded as skipped, as L{enqueue} does (None returned)."""
    if not call.directions & SPEAKER_OF_DIRECTION.keys():
        return None
    skip = skip_abandoned_under_s > 0 and _row_abandoned_early(call, skip_abandoned_under_s)
    job = _new_job(call.id, model, language, now, skip_abandoned_under_s if skip else None)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        job = session.scalars(select(Transcript).where(
            Transcript.call_id == call.id, Transcript.kind == "call")).one()
    return job if job.status != SKIPPED else None


def enqueue_missed(session: Session, *, since: dt.datetime, model: str, language: str,
                   now: dt.datetime, settle: dt.timedelta = dt.timedelta(seconds=60),
                   limit: int = 50, skip_abandoned_under_s: float = 0.0) -> list[int]:
    """Queue the calls started since ``since`` and ended ``settle`` ago or more that have speech
    recordings but no job: calls recorded without the finaliser (the reconciler's, a controller
    that was down); the settle time leaves fresh calls to the finaliser. Returns their ids."""
    has_speech = select(CallRecording.id).where(
        CallRecording.call_id == Call.id,
        CallRecording.direction.in_(sorted(SPEAKER_OF_DIRECTION))).exists()
    has_job = select(Transcript.id).where(Transcript.call_id == Call.id,
                                          Transcript.kind == "call").exists()
    call_ids = session.scalars(
        select(Call.id).where(Call.started_at >= since, Call.ended_at <= now - settle,
                              has_speech, ~has_job).order_by(Call.id).limit(limit)).all()
    queued = []
    for call_id in call_ids:
        if enqueue(session, call_id, model=model, language=language, now=now,
                   skip_abandoned_under_s=skip_abandoned_under_s) is not None:
            queued.append(call_id)
    return queued


def requeue_stale(session: Session, *, worker: str, lease: dt.timedelta,
                  now: dt.datetime) -> int:
    """Put back in the queue the jobs a stopped controller was running: this controller's own
    (it just started, so none of them is running any more) and any older than the lease."""
    result = session.execute(
        update(Transcript)
        .where(Transcript.status == RUNNING,
               or_(Transcript.worker == worker, Transcript.claimed_at.is_(None),
                   Transcript.claimed_at < now - lease))
        .values(status=QUEUED, worker=None, claimed_at=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def claim_next(session: Session, *, worker: str, now: dt.datetime, model: str,
               language: str) -> JobInput | None:
    """Take the oldest job that is due, for ``worker``; None when none is due.

    The conditional UPDATE is what claims: of two controllers selecting the same row, one
    updates it and the other tries the next. The job is stamped with the model that runs it.
    """
    for _ in range(5):
        job_id = session.scalars(
            select(Transcript.id)
            .where(Transcript.status == QUEUED,
                   or_(Transcript.retry_at.is_(None), Transcript.retry_at <= now))
            .order_by(Transcript.id).limit(1)).first()
        if job_id is None:
            return None
        won = session.execute(
            update(Transcript).where(Transcript.id == job_id, Transcript.status == QUEUED)
            .values(status=RUNNING, worker=worker, claimed_at=now, retry_at=None,
                    attempts=Transcript.attempts + 1, model=model, language=language)
            .execution_options(synchronize_session=False)).rowcount
        if won:
            job = session.get(Transcript, job_id)
            session.refresh(job)
            call = job.call
            recordings = sorted(
                ((SPEAKER_OF_DIRECTION[r.direction], r.path) for r in call.recordings
                 if r.direction in SPEAKER_OF_DIRECTION),
                key=lambda sp: _SPEAKER_ORDER[sp[0]])
            return JobInput(id=job.id, call_id=call.id, call_uniqueid=call.uniqueid,
                            attempts=job.attempts, model=model, language=language,
                            recordings=tuple(recordings))
    return None


def finish(session: Session, job_id: int, results: Sequence[SpeakerResult], *,
           suggestion: Mapping[str, Any] | None, now: dt.datetime) -> Transcript:
    """Store the segments of every speaker that was decoded and end the job.

    The job is ``done`` when at least one speaker's file was decoded (problems with the others
    are kept in ``error``), ``failed`` when none was.
    """
    job = session.get(Transcript, job_id)
    decoded = [r for r in results if r.error is None]
    problems = [f"{r.speaker}: {r.error}" for r in results if r.error is not None]
    for result in decoded:
        for seg in result.segments:
            job.segments.append(TranscriptSegment(
                speaker=seg.speaker, start_s=seg.start_s, end_s=seg.end_s, text=seg.text,
                confidence=seg.confidence))
    job.status = DONE if decoded else FAILED
    job.error = "; ".join(problems) or (None if results else "the call has no recordings")
    job.suggestion = dict(suggestion) if suggestion else None
    job.finished_at = now
    job.worker = None
    session.flush()
    return job


def retry_or_fail(session: Session, job_id: int, error: str, *, permanent: bool,
                  max_attempts: int, retry_delay: dt.timedelta, now: dt.datetime) -> Transcript:
    """A try ended without a result: queue the job again after ``retry_delay`` unless the
    problem is permanent or the attempts are used up, in which case it ends ``failed``."""
    job = session.get(Transcript, job_id)
    job.error = error
    job.worker = None
    if permanent or job.attempts >= max_attempts:
        job.status = FAILED
        job.finished_at = now
        if not permanent:
            job.error = f"{error} (gave up after {job.attempts} attempts)"
    else:
        job.status = QUEUED
        job.retry_at = now + retry_delay
        job.claimed_at = None
    session.flush()
    return job


def merged_dialog(segments: Iterable[Any]) -> list[Any]:
    """Every speaker's segments in one time line: by start, then citizen before agent."""
    return sorted(segments, key=lambda s: (s.start_s, _SPEAKER_ORDER.get(s.speaker, 9),
                                           s.end_s))


def clock_text(seconds: float) -> str:
    """mm:ss.s, how the note and the command line show a time into the call."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def compose_note(job: Transcript, *, call_language: str) -> str:
    """The ticket's call note: a header naming the model, a warning when its language is not
    the call's, the dialog in time order, what could not be transcribed, the suggestion."""
    lines = []
    if job.status == DONE:
        how = ", live captions" if job.source == LIVE else ""
        lines.append(f"Call transcript (speech model {job.model}, language {job.language}"
                     f"{how})")
    else:
        lines.append(f"Call transcript failed (speech model {job.model}): {job.error}")
    if job.language != call_language:
        lines.append(f"Warning: the speech model's language ({job.language}) is not the "
                     f"call's language ({call_language}); this text is not a record of what "
                     "was said.")
    if job.status == DONE:
        dialog = merged_dialog(job.segments)
        if not dialog:
            lines.append("(no speech recognised)")
        for seg in dialog:
            label = SPEAKER_LABELS.get(seg.speaker, seg.speaker)
            lines.append(f"[{clock_text(seg.start_s)}] {label}: {seg.text}")
        if job.error:
            lines.append(f"Not transcribed: {job.error}")
    if job.suggestion:
        s = job.suggestion
        what = f"category {s['category']}, " if s.get("category") else ""
        lines.append(f"Suggestion (not applied, for the agent to confirm): {what}department "
                     f"{s['department']} {s['department_name']}, hotline {s['hotline_name']} "
                     f"{s['hotline_number']}; heard: {', '.join(s['matched'])}")
    return "\n".join(lines)


def post_note(session: Session, job: Transcript, *, tickets: TicketService,
              call_language: str) -> int | None:
    """Write the finished job's note on its call's ticket, once; returns the event id, or None
    while the call has no ticket (``post_pending_notes`` tries again later)."""
    if job.ticket_event_id is not None or job.status not in (DONE, FAILED):
        return job.ticket_event_id
    ticket_id = session.scalars(select(Call.ticket_id).where(Call.id == job.call_id)).first()
    if ticket_id is None:
        return None
    event = tickets.add_note(session, ticket_id, actor=NOTE_ACTOR,
                             text=compose_note(job, call_language=call_language))
    session.flush()
    job.ticket_event_id = event.id
    return event.id


def post_pending_notes(session: Session, *, tickets: TicketService, call_language: str,
                       limit: int = 100) -> list[int]:
    """Notes of finished jobs whose call got its ticket after the job ended; returns job ids."""
    jobs = session.scalars(
        select(Transcript).join(Call, Call.id == Transcript.call_id)
        .where(Transcript.status.in_((DONE, FAILED)), Transcript.ticket_event_id.is_(None),
               Call.ticket_id.is_not(None))
        .order_by(Transcript.id).limit(limit)).all()
    done = []
    for job in jobs:
        if post_note(session, job, tickets=tickets, call_language=call_language) is not None:
            done.append(job.id)
    return done
