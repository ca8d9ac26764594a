# -*- test-case-name: tests.web.test_console -*-
"""The audit log: every action taken in the console or through the APIs, refusals included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEntry, utcnow

__all__ = ["record", "recent", "entry_to_dict"]


def record(session: Session, *, actor: str, action: str, role: str | None = None,
           target: str | None = None, outcome: str = "ok", ip: str | None = None,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Add one entry in the caller's unit of work (so it commits with what it describes)."""
    entry = AuditEntry(at=utcnow(), actor=actor[:64], role=role, action=action[:64],
                       target=target[:100] if target else None, outcome=outcome,
                       ip=ip[:64] if ip else None, details=details or {})
    session.add(entry)
    return entry


def recent(session: Session, *, limit: int = 100, actor: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return list(session.scalars(query))


def entry_to_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API returns it."""
    return {"id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "role": entry.role,
            "action": entry.action, "target": entry.target, "outcome": entry.outcome,
            "ip": entry.ip, "details": entry.details}
