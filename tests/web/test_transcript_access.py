"""Who reads what citizens said: a desk role reads a ticket's transcripts whole; a liaison, whose
lists show masked numbers, reads them with every number masked too."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from db.models import Call, Department, Transcript, TranscriptSegment
from hotline.tickets.actions import TicketActions
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.http import load_ticket
from hotline.tickets.service import TicketService
from hotline.web.accounts import Principal

SAID = "我叫张三，电话一三八一二三四五六七八，住幸福路12号"


def _ticket_with_transcript(session) -> tuple[int, int]:
    dept = Department(code="water", name="区自来水公司", kind="utility")
    session.add(dept)
    session.flush()
    service = TicketService(timezone="Asia/Shanghai")
    ticket = service.intake(session, {"channel": "hotline", "kind": "help",
                                      "phone": "13812345678", "description": "停水"},
                            actor="agent1")
    service.dispatch(session, ticket.id, department="water", actor="dispatcher")
    now = dt.datetime.now(dt.UTC)
    call = Call(uniqueid="pbx-9.1", linkedid="pbx-9.1", direction="inbound",
                caller_number="13812345678", started_at=now, ended_at=now, status="completed",
                ticket_id=ticket.id)
    session.add(call)
    session.flush()
    job = Transcript(call_id=call.id, model="cn", language="zh", status="done", kind="call")
    session.add(job)
    session.flush()
    session.add(TranscriptSegment(transcript_id=job.id, speaker="citizen", start_s=0.0,
                                  end_s=3.0, text=SAID))
    session.flush()
    return ticket.id, dept.id


def _principal(role: str, department_id: int | None = None) -> Principal:
    return Principal(1, "u", "u", role, "1001" if role == "agent" else None, department_id,
                     "water" if department_id else None, None, "token")


@pytest.mark.parametrize("role, shown", [
    ("agent", SAID), ("supervisor", SAID),
    ("liaison", "我叫张三，电话138****5678，住幸福路12号"),
    ("dispatcher", "我叫张三，电话138****5678，住幸福路12号")])
def test_transcripts_are_masked_for_roles_that_see_masked_numbers(session, tmp_path, role,
                                                                  shown):
    """The liaison of the ticket's department, and a dispatcher, read the transcript with the
    number masked, as they see the caller's number masked."""
    ticket_id, dept_id = _ticket_with_transcript(session)
    actions = TicketActions(service=TicketService(timezone="Asia/Shanghai"),
                            attachments=AttachmentStore(tmp_path, max_bytes=1024, types=[]))
    console = SimpleNamespace(ticket_life=SimpleNamespace(actions=actions))
    view = load_ticket(session, console, _principal(role, dept_id), ticket_id, events=True)
    assert [s["text"] for t in view["transcripts"] for s in t["segments"]] == [shown]
    assert ("caller_phone" in view) == (role in ("agent", "supervisor"))
