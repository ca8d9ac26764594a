# -*- test-case-name: tests.cluster.test_two_nodes -*-
"""Calls lost with their PBX: a PBX that died (killed, power cut) ran no hangup handler, so it
left no summary in its AstDB for the reconciler; the calls it held stay open in the database.
When the controller logs in to that PBX again and finds it booted after such a call began, the
call cannot still be live there: it is closed as lost (``hungup_by = "pbx_lost"``), ended at the
PBX's boot at the latest. Calls are told apart per PBX by the uniqueid prefix that Asterisk's
``systemname`` gives them (every node of a cluster sets its own)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.logger import Logger

from db.models import Call
from db.session import Database
from hotline.ami.client import AMIClient
from hotline.calls.journal import finalise_call

__all__ = ["LostCalls", "close_lost_calls"]

_log = Logger(namespace="hotline.cluster.lost")
LOST = "pbx_lost"


def close_lost_calls(session: Session, *, system: str, booted: dt.datetime) -> list[str]:
    """Close the open inbound calls of PBX ``system`` that began before it ``booted``;
    returns their uniqueids."""
    rows = session.scalars(select(Call).where(
        Call.ended_at.is_(None), Call.direction == "inbound", Call.started_at < booted,
        Call.uniqueid.like(f"{system}-%"))).all()
    for row in rows:
        finalise_call(session, uniqueid=row.uniqueid, linkedid=row.linkedid,
                      caller_number=row.caller_number or "", started_at=row.started_at,
                      ended_at=booted, answered_at=None, queue_wait_s=None, talk_s=None,
                      agent_code=None, hangup_cause=None, hungup_by=LOST, recordings=[])
    return [row.uniqueid for row in rows]


class LostCalls:
    """After every login to this node's PBX, closes the calls a crash of it took away."""

    def __init__(self, *, ami: AMIClient, db: Database) -> None:
        self.ami = ami
        self.db = db

    def start(self) -> None:
        self.ami.add_resync_hook(self._after_login)

    async def _after_login(self, ami: AMIClient) -> None:
        settings = await ami.action("CoreSettings")
        status = await ami.action("CoreStatus")
        system = str(settings.get("SystemName") or "")
        if not system:
            return  # uniqueids carry no node: nothing can be told apart safely
        booted = dt.datetime.fromisoformat(
            f"{status.get('CoreStartupDate')}T{status.get('CoreStartupTime')}")
        booted = booted.astimezone(dt.UTC) if booted.tzinfo else booted.replace(
            tzinfo=dt.datetime.now().astimezone().tzinfo).astimezone(dt.UTC)
        closed = await self.db.run(close_lost_calls, system=system, booted=booted)
        for uniqueid in closed:
            _log.warn("call {uniqueid} was lost with PBX {system} (it restarted at {booted}); "
                      "recorded as ended", uniqueid=uniqueid, system=system,
                      booted=booted.isoformat())
