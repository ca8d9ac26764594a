# -*- test-case-name: tests.stt.test_service -*-
"""Call recordings and finished calls made up for tests and benchmarks: one speaker's track
as MixMonitor writes it, and a finished inbound call row as the call journal writes it."""

from __future__ import annotations

import wave
from pathlib import Path

__all__ = ["frames", "track", "finished_call"]


def frames(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate()


def track(parts: list[tuple[float, Path]], total_s: float, out: Path, *,
          rate: int = 8000) -> Path:
    """One speaker's recording as MixMonitor writes it: silence with speech placed at the given
    offsets (seconds), ``total_s`` long, 16-bit mono at ``rate``."""
    buf = bytearray(2 * int(total_s * rate))
    for at_s, clip in parts:
        data, clip_rate = frames(clip)
        assert clip_rate == rate, f"{clip} is {clip_rate} Hz, want {rate}"
        start = 2 * int(at_s * rate)
        buf[start:start + len(data)] = data
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(buf[:2 * int(total_s * rate)]))
    return out


def finished_call(session, uniqueid: str, recordings: dict[str, Path], *,
              ticket: bool = True) -> tuple[int, int | None]:
    """A finished inbound call with its recordings, as the call journal writes it: answered
    and with its ticket when ``ticket`` (the journal opens one for an answered call, or the
    agent files one linked by uniqueid), else abandoned in the queue without a ticket.
    Returns (call id, ticket id)."""
    import datetime as dt

    from hotline.calls.journal import RecordingFile, finalise_call, open_inbound_call
    from hotline.tickets.service import TicketService

    now = dt.datetime.now(dt.UTC)
    open_inbound_call(session, uniqueid=uniqueid, linkedid=uniqueid,
                      caller_number="13812340001", now=now)
    call = finalise_call(
        session, uniqueid=uniqueid, linkedid=uniqueid, caller_number="13812340001",
        started_at=now, ended_at=now + dt.timedelta(seconds=10),
        answered_at=now if ticket else None, queue_wait_s=1.0, talk_s=9.0 if ticket else None,
        agent_code=None, hangup_cause=16, hungup_by="citizen",
        recordings=[RecordingFile(direction=d, path=str(p), size_bytes=None)
                    for d, p in recordings.items()])
    session.flush()
    if ticket and call.ticket_id is None:
        TicketService().intake(session, {
            "channel": "hotline", "kind": "complaint", "description": "call from a citizen",
            "phone": "13812340001", "call_uniqueid": uniqueid}, actor="agent 1001")
        session.flush()
    return call.id, call.ticket_id
