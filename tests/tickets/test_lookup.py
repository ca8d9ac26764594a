"""Caller lookup while the phone rings: who, what is open, what before, repeat caller."""

from __future__ import annotations

import datetime as dt

from hotline.tickets.service import TicketService, lookup_caller

NOW = dt.datetime(2026, 11, 26, 2, 30, tzinfo=dt.UTC)


def test_unknown_number_is_a_new_caller(session):
    """A number never seen gives a caller with no citizen, no tickets and no repeat flag."""
    info = lookup_caller(session, "13900000000", now=NOW)
    assert (info.known, info.phone, info.masked_phone) == (False, "13900000000", "139****0000")
    assert (info.open_tickets, info.history, info.repeat_caller) == ((), (), False)


def test_garbage_caller_id_does_not_raise(session):
    """A withheld or garbage caller id gives an unknown caller instead of an error."""
    for raw in ("anonymous", "", "+86"):
        info = lookup_caller(session, raw)
        assert not info.known and info.phone == ""


def test_known_caller_with_open_and_closed_tickets(session):
    """Open tickets and the recent history come back newest first, with aware UTC times."""
    times = iter([NOW - dt.timedelta(days=60), NOW - dt.timedelta(days=59),
                  NOW - dt.timedelta(days=2)])
    service = TicketService(clock=lambda: next(times, NOW))
    old = service.intake(session, {"channel": "hotline", "kind": "consultation",
                                   "phone": "13812340000", "description": "社保咨询"},
                         actor="1001")
    service.reply(session, old.id, actor="1001", text="已解答")
    service.close(session, old.id, actor="1001")
    recent = service.intake(session, {"channel": "wechat", "kind": "complaint",
                                      "phone": "+8613812340000", "description": "噪音"},
                            actor="web")
    session.commit()
    info = lookup_caller(session, "138-1234-0000", now=NOW)
    assert info.known and info.citizen_id == recent.citizen_id
    assert [t.number for t in info.open_tickets] == [recent.number]
    assert [t.number for t in info.history] == [recent.number, old.number]
    assert info.history[1].status == "closed"
    assert info.history[0].created_at.tzinfo is not None
    assert info.repeat_caller


def test_repeat_flag_needs_recent_or_open_ticket(session):
    """A citizen whose only ticket is closed and old is not flagged as a repeat caller."""
    service = TicketService(clock=lambda: NOW - dt.timedelta(days=90))
    t = service.intake(session, {"channel": "hotline", "kind": "praise",
                                 "phone": "13812340000", "description": "表扬"}, actor="1001")
    service.reply(session, t.id, actor="1001", text="感谢")
    service.close(session, t.id, actor="1001")
    session.commit()
    info = lookup_caller(session, "13812340000", now=NOW)
    assert info.known and info.open_tickets == () and len(info.history) == 1
    assert not info.repeat_caller


def test_history_is_limited_but_open_tickets_are_all_there(session):
    """Older open tickets are listed even when the history is cut to the newest few."""
    clock_times = [NOW - dt.timedelta(hours=h) for h in range(30, 0, -1)]
    it = iter(clock_times)
    service = TicketService(clock=lambda: next(it, NOW))
    first = service.intake(session, {"channel": "hotline", "kind": "help",
                                     "phone": "13812340000", "description": "求助"},
                           actor="1001")
    for _ in range(12):
        t = service.intake(session, {"channel": "hotline", "kind": "consultation",
                                     "phone": "13812340000", "description": "咨询"},
                           actor="1001")
        service.reply(session, t.id, actor="1001", text="已解答")
        service.close(session, t.id, actor="1001")
    session.commit()
    info = lookup_caller(session, "13812340000", now=NOW, history_limit=5)
    assert len(info.history) == 5
    assert first.number in [t.number for t in info.open_tickets]
    assert first.number not in [t.number for t in info.history]
