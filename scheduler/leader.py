# -*- test-case-name: tests.scheduler.test_leader -*-
"""Which node schedules: on PostgreSQL the holder of an advisory lock; on SQLite the only node.

The lock lives on one dedicated connection: PostgreSQL releases it the moment that session
ends, so when the active node dies (even by SIGKILL) a standby's next try succeeds within
``poll_s``. The holder checks its connection on every poll and steps down when it is gone.
Placement never relies on the lock alone: each attempt is also claimed with a conditional
UPDATE (``scheduler.store.claim``), so even two nodes that both believed they lead could not
place one attempt twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from twisted.internet import threads
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["Leadership"]

_log = Logger(namespace="scheduler.leader")


class Leadership:
    """Tries for the lead every ``poll_s`` and tells ``on_change(leading)`` when it changes."""

    def __init__(self, *, engine: Engine, reactor: Any, lock_key: int, poll_s: float,
                 on_change: Callable[[bool], object], node: str = "") -> None:
        self.engine = engine
        self.reactor = reactor
        self.lock_key = lock_key
        self.poll_s = poll_s
        self.on_change = on_change
        self.node = node
        self.leading = False
        self._conn: Connection | None = None
        self._loop: LoopingCall | None = None
        self._busy = False

    @property
    def shared(self) -> bool:
        """Whether several nodes may share this database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if not self.shared:
            self._set(True)
            return
        self._loop = LoopingCall(self._poll)
        self._loop.clock = self.reactor
        self._loop.start(self.poll_s, now=True)

    async def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        # Stop scheduling before letting go: the next leader must not start while we act.
        self._set(False)
        if self.shared:
            await threads.deferToThread(self._release)

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            _log.info("scheduler node {node}: {what}", node=self.node or "-",
                      what="active (holds the lead)" if leading else "standby")
            self.on_change(leading)

    def _poll(self) -> None:
        if self._busy:
            return
        self._busy = True
        d = threads.deferToThread(self._check)
        d.addCallback(self._set)
        d.addErrback(lambda f: _log.failure("leader check failed", f))

        def done(_: object) -> None:
            self._busy = False
        d.addBoth(done)

    def _check(self) -> bool:
        """Blocking: keep or take the lock; False when we cannot (another node holds it)."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:  # noqa: BLE001 - the session is gone, and the lock with it
                self._drop()
                return False
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": self.lock_key}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.lock_key})
            conn.commit()
        except Exception:  # noqa: BLE001 - closing the session releases it anyway
            pass
        finally:
            conn.invalidate()
            conn.close()
