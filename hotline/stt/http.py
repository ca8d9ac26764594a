# -*- test-case-name: tests.stt.test_desk_transcript -*-
"""The transcript of the agent's call on the desk: pushed when the speech-to-text job of a call
at the seat ends (``TranscriptionService.on_transcribed``), and ``GET /api/transcripts/latest``
for the seat's last call when the page is reloaded. The page sets the text with textContent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Agent, Call, Transcript
from hotline.stt import jobs
from hotline.web.roles import DESK
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register", "SPEAKER_LABELS", "transcript_of_call", "latest_transcript"]

#: Who spoke, as the desk names them.
SPEAKER_LABELS = {"citizen": "市民", "agent": "坐席", "department": "部门"}


def register(router: Router) -> None:
    router.add("GET", "/api/transcripts/latest", _latest, roles=DESK)


def _view(session: Session, call: Call) -> dict[str, Any]:
    job = session.scalars(select(Transcript).where(Transcript.call_id == call.id,
                                                   Transcript.kind == "call")).first()
    status = job.status if job is not None else "none"
    segments = []
    if job is not None and job.status == jobs.DONE:
        segments = [{"speaker": g.speaker, "label": SPEAKER_LABELS.get(g.speaker, g.speaker),
                     "start_s": round(g.start_s, 2), "end_s": round(g.end_s, 2),
                     "text": g.text} for g in jobs.merged_dialog(job.segments)]
    return {"call_id": call.id, "call": call.uniqueid, "direction": call.direction,
            "agent": call.agent.code if call.agent else None,
            "ticket_id": call.ticket_id, "ticket": call.ticket.number if call.ticket else None,
            "started_at": call.started_at.isoformat() if call.started_at else None,
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "status": status, "error": job.error if job is not None else None,
            "model": job.model if job is not None else None,
            "language": job.language if job is not None else None, "segments": segments}


def transcript_of_call(session: Session, call_id: int) -> dict[str, Any] | None:
    """The call's transcript as the desk shows it (None: no such call)."""
    call = session.get(Call, call_id)
    return _view(session, call) if call is not None else None


def latest_transcript(session: Session, agent_code: str) -> dict[str, Any] | None:
    """The transcript (or where its job stands) of the last finished call at the seat."""
    call = session.scalars(
        select(Call).join(Agent, Agent.id == Call.agent_id)
        .where(Agent.code == agent_code, Call.ended_at.is_not(None))
        .order_by(Call.ended_at.desc(), Call.id.desc()).limit(1)).first()
    return _view(session, call) if call is not None else None


async def _latest(ctx: Ctx) -> Response:
    user = ctx.user
    assert user is not None
    if not user.agent_code:
        raise HTTPError(409, "no-seat", "this account has no agent seat (坐席号); ask an admin")
    view = await ctx.console.db.run(latest_transcript, user.agent_code)
    if view is None:
        raise HTTPError(404, "no-call", "您的坐席还没有结束的通话 (no finished call at your seat)")
    return json_response(view)
