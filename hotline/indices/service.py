# -*- test-case-name: tests.indices.test_http -*-
"""One refresh of what the leader reads, as one unit of work: fold the days since the last
fold into the aggregate, then scan each folded day for early warnings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from hotline.indices.aggregate import catch_up, local_day
from hotline.indices.warning import scan, warning_view

__all__ = ["refresh"]


def refresh(session: Session, *, timezone: str, now: dt.datetime,
            satisfied_min_score: int = 4) -> dict[str, Any]:
    """Fold up to ``now``'s site-local day and scan yesterday and today; returns the days folded
    and the warnings raised for the first time (as ``warning_view`` gives them)."""
    today = local_day(now, timezone)
    folded = catch_up(session, today, timezone=timezone,
                      satisfied_min_score=satisfied_min_score)
    raised = []
    # Yesterday (its last events may have come after the previous scan) and today.
    for day in (today - dt.timedelta(days=1), today):
        raised.extend(scan(session, day, timezone=timezone))
    return {"folded": [f.day.isoformat() for f in folded],
            "events": sum(f.events for f in folded),
            "raised": [warning_view(w) for w in raised]}
