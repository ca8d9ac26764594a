# -*- test-case-name: tests.scheduler.test_policy -*-
"""The rules of a timed reply as plain functions: quiet hours, retries, hand-over, SLA, outcomes.

Nothing here touches the database, the clock or Asterisk: the scheduler asks, these answer, and
unit tests check every rule without a reactor.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from hotline.daytime import BadTime, daily_window

__all__ = [
    "PolicyError", "QuietHours", "SchedulerPolicy", "AttemptOutcome",
    "CITIZEN_OUTCOMES", "AGENT_OUTCOMES", "outcome_from_dialstatus", "outcome_from_originate",
    "sla_deadline",
]

#: Outcomes of an attempt where the citizen's phone was tried (they count against the limit).
CITIZEN_OUTCOMES = frozenset({"no_answer", "busy", "failed", "citizen_hangup"})
#: Outcomes where no agent took the callback leg: the citizen's phone never rang.
AGENT_OUTCOMES = frozenset({"agent_no_answer", "agent_busy", "agent_failed", "agent_hangup"})


def sla_deadline(due_at: dt.datetime, grace_s: float) -> dt.datetime:
    """The one SLA deadline rule: the promise is kept when the citizen is reached by the
    promised time plus the grace (``scheduler.sla_grace_s``).

    The scheduler stores it on the callback at its first attempt (so history is never
    recomputed with a later grace); the reports use the stored one and, for a callback not
    attempted yet, this same rule in SQL (L{hotline.reports.sla.deadline_expression}). The
    grace is in the rule because a citizen called back a few minutes after the promised time
    was called back as promised: the scheduler cannot ring everyone due in the same minute at
    once (retries, free agents, quiet hours), and the report's definitions say so.
    """
    return due_at + dt.timedelta(seconds=grace_s)


class PolicyError(ValueError):
    """A scheduler setting cannot be used; the message names it and says why."""




@dataclass(frozen=True)
class QuietHours:
    """A daily window in the site's zone when no citizen is called (e.g. 21:00–08:00).

    ``start == end`` or an empty text means no quiet hours. A window may cross midnight.
    """

    start: dt.time | None
    end: dt.time | None
    zone: zoneinfo.ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> QuietHours:
        """``"21:00-08:00"`` (site time; seconds allowed) or ``""``. Raises PolicyError."""
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"unknown time zone {zone!r}") from None
        try:
            window = daily_window(text, "quiet hours")
        except BadTime as e:
            raise PolicyError(str(e)) from None
        return cls(None, None, tz) if window is None else cls(*window, tz)

    @property
    def active(self) -> bool:
        return self.start is not None

    def contains(self, at: dt.datetime) -> bool:
        """Whether ``at`` (aware) falls in the quiet window."""
        if self.start is None or self.end is None:
            return False
        t = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_allowed(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself outside the window, else the window's end (aware UTC)."""
        if not self.contains(at) or self.end is None:
            return at
        local = at.astimezone(self.zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=self.end.second,
                            microsecond=0)
        if end <= local:
            end = (local + dt.timedelta(days=1)).replace(
                hour=self.end.hour, minute=self.end.minute, second=self.end.second,
                microsecond=0)
        # Re-localise: the day after may have another UTC offset.
        end = end.replace(tzinfo=None).replace(tzinfo=self.zone)
        return end.astimezone(dt.UTC)


@dataclass(frozen=True)
class AttemptOutcome:
    """How one attempt ended: ``outcome`` is a CallbackAttempt.outcome value."""

    outcome: str
    detail: str = ""
    citizen_answered_at: dt.datetime | None = None
    agent_code: str | None = None

    @property
    def reached(self) -> bool:
        return self.outcome == "answered"


def outcome_from_dialstatus(status: str, talk_s: float | None, min_talk_s: float) -> str:
    """The citizen leg's Dial() result as an attempt outcome.

    A citizen who answers and hangs up within ``min_talk_s`` was not really reached
    (``citizen_hangup``); CANCEL means the agent gave up while the citizen's phone rang.
    """
    status = (status or "").upper()
    if status in ("", "NONE"):
        return "agent_hangup"  # the agent left before the citizen was dialled
    if status == "ANSWER":
        if talk_s is not None and talk_s < min_talk_s:
            return "citizen_hangup"
        return "answered"
    return {"NOANSWER": "no_answer", "BUSY": "busy", "CANCEL": "agent_hangup",
            "CONGESTION": "failed", "CHANUNAVAIL": "failed"}.get(status, "failed")


def outcome_from_originate(reason: str | int | None) -> str:
    """The agent leg's OriginateResponse ``Reason`` (Asterisk's AST_CONTROL_*) as an outcome."""
    try:
        code = int(reason or 0)
    except (TypeError, ValueError):
        code = 0
    return {3: "agent_no_answer", 5: "agent_busy", 8: "agent_busy",
            1: "agent_hangup"}.get(code, "agent_failed")


class SchedulerPolicy:
    """The ``[scheduler]`` settings turned into decisions."""

    def __init__(self, settings: dict[str, Any], *, timezone: str) -> None:
        """Raises PolicyError for a setting that makes no sense (explained, nothing started)."""
        self.settings = dict(settings)
        s = self.settings
        for key in ("sla_grace_s", "retry_initial_s", "retry_max_s", "handover_after_s",
                    "late_tolerance_s", "agent_retry_s"):
            if s[key] < 0:
                raise PolicyError(f"'scheduler.{key}' must not be negative")
        if s["max_attempts"] < 1:
            raise PolicyError("'scheduler.max_attempts' must be at least 1")
        if s["retry_factor"] < 1:
            raise PolicyError("'scheduler.retry_factor' must be at least 1")
        self.quiet = QuietHours.parse(s["quiet_hours"], timezone)

    def sla_deadline(self, due_at: dt.datetime) -> dt.datetime:
        """The SLA is met when the citizen is reached by this time (L{sla_deadline})."""
        return sla_deadline(due_at, self.settings["sla_grace_s"])

    def is_late(self, due_at: dt.datetime, first_attempt_at: dt.datetime) -> bool:
        return first_attempt_at > due_at + dt.timedelta(seconds=self.settings["late_tolerance_s"])

    def retry_delay(self, citizen_attempts: int) -> float:
        """Seconds before the next try after ``citizen_attempts`` failed ones (1, 2, ...)."""
        s = self.settings
        delay = s["retry_initial_s"] * s["retry_factor"] ** max(citizen_attempts - 1, 0)
        return min(delay, s["retry_max_s"])

    def next_step(self, outcome: str, citizen_attempts: int,
                  now: dt.datetime) -> tuple[str, dt.datetime | None, bool]:
        """After an attempt: ``("done", None, False)``, ``("failed", None, False)`` or
        ``("retry", at, moved)`` where ``moved`` says quiet hours pushed ``at`` later."""
        if outcome == "answered":
            return "done", None, False
        if outcome in AGENT_OUTCOMES:
            at = now + dt.timedelta(seconds=self.settings["agent_retry_s"])
        elif citizen_attempts >= self.settings["max_attempts"]:
            return "failed", None, False
        else:
            at = now + dt.timedelta(seconds=self.retry_delay(citizen_attempts))
        allowed = self.quiet.next_allowed(at)
        return "retry", allowed, allowed != at

    def handover_due(self, due_at: dt.datetime, now: dt.datetime) -> bool:
        """An owner-only callback nobody took by now goes to any free agent."""
        return now >= due_at + dt.timedelta(seconds=self.settings["handover_after_s"])
