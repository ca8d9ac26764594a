# -*- test-case-name: tests.web.test_session_watch -*-
"""What a console session opened ends with the session, however the session ends.

A session ends by signing out, by expiring, or from the command line (`hotline user disable`,
`hotline user passwd` end every session of the user), which reaches the controller only
through the database. Every ``interval_s`` (and once at start, so a controller restart drops
what sessions that ended meanwhile left behind) the watch asks the database which of the
sessions in use still live, and ends the rest's event streams (``/api/events``, the wall
board) and softphone SIP credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from hotline.web import accounts

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["SessionWatch"]

_log = Logger(namespace="hotline.web.sessions")


def _still_valid(session: Session, sessions: set[str], seats: bool) -> tuple[set[str], set[str]]:
    live = accounts.live_sessions(session, sessions)
    return live, accounts.seats_signed_in(session) if seats else set()


class SessionWatch:
    """Ends the streams and softphones of sessions that no longer sign anyone in."""

    def __init__(self, *, console: WebConsole, interval_s: float) -> None:
        self.console = console
        self.interval_s = interval_s
        self._loop: LoopingCall | None = None

    def start(self) -> defer.Deferred[Any]:
        """Check now and then every ``interval_s``; the Deferred fires after the first check."""
        first = self._tick()
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.console.reactor
        self._loop.start(self.interval_s, now=False)
        return first

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _tick(self) -> defer.Deferred[Any]:
        d = defer.Deferred.fromCoroutine(self.check())
        d.addErrback(lambda f: _log.failure("console session check failed", f))
        return d

    async def check(self) -> tuple[int, list[str]]:
        """End what belongs to sessions no longer valid; returns (streams closed, softphones
        revoked by agent code)."""
        events = self.console.events
        softphone = self.console.softphone
        holders = dict(softphone.service.holders) if softphone is not None else {}
        sessions = {c.session for c in events.clients if c.session}
        sessions |= {h for h in holders.values() if h}
        unknown = any(h is None for h in holders.values())
        if not sessions and not unknown:
            return 0, []
        live, seats = await self.console.db.run(_still_valid, sessions, unknown)
        # Only what was asked about: a stream opened while the database answered is newer.
        closed = events.end(lambda c: c.session in sessions and c.session not in live)
        revoked = []
        for code, holder in holders.items():
            # Credentials an older controller issued name no session: the seat's own sign-in
            # is what they can still be checked against.
            valid = holder in live if holder else code in seats
            still = softphone.service.holders.get(code, "gone")  # not issued anew meanwhile
            if not valid and still == holder and code in softphone.service.active:
                try:
                    await softphone.service.revoke(code)
                except Exception:
                    _log.failure("softphone of agent {code}: cannot revoke it", code=code)
                    continue
                revoked.append(code)
        if closed or revoked:
            _log.info("console sessions ended: {streams} event stream(s) closed, softphone "
                      "credentials revoked for {agents}", streams=closed,
                      agents=", ".join(revoked) or "none")
        return closed, revoked
