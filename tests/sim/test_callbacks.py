"""How the fault suite counts callbacks: against the records and the city's ring log."""

from __future__ import annotations

import datetime as dt

from db.models import Callback, CallbackAttempt
from hotline.sim.callbacks import CallbackRound, Ring, count_callbacks, promise_callbacks


def _attempt(session, cb_id: int, n: int, outcome: str) -> None:
    session.add(CallbackAttempt(callback_id=cb_id, started_at=dt.datetime.now(dt.UTC),
                                outcome=outcome, attempt_key=f"cb-{cb_id}-{n}"))


def test_a_callback_reached_twice_or_rung_unrecorded_is_placed_twice_and_one_never_settled_is_lost(
        session):
    """Reached twice, rung at the city more often than it has attempts, or talked to twice
    at the city though recorded as not reached: placed twice; still pending at the end: lost;
    a promise not on record at all: lost."""
    numbers = ["13911110000", "13911110001", "13911110002", "13911110003", "13911110004"]
    ids = promise_callbacks(session, numbers, 60.0, timezone="Asia/Shanghai")
    fine, reached_twice, rung_unrecorded, never, talked_twice = ids
    for cb_id, status in ((fine, "done"), (reached_twice, "done"), (rung_unrecorded, "failed"),
                          (talked_twice, "done")):
        session.get(Callback, cb_id).status = status
    _attempt(session, fine, 1, "answered")
    _attempt(session, reached_twice, 1, "answered")
    _attempt(session, reached_twice, 2, "answered")
    _attempt(session, rung_unrecorded, 1, "no_answer")
    _attempt(session, talked_twice, 1, "agent_failed")  # recorded as never dialled ...
    _attempt(session, talked_twice, 2, "answered")
    session.flush()

    cbs = CallbackRound(numbers=numbers, agents=["1001"], reactor=None,
                        timezone="Asia/Shanghai")
    cbs.ids = [*ids, max(ids) + 1000]  # the last promise vanished (not on record)
    cbs.phones = dict(zip(ids, numbers, strict=True)) | {max(ids) + 1000: "13911110009"}
    for number in (numbers[0], numbers[1], numbers[1], numbers[2], numbers[2]):
        cbs.watch.rings.append(Ring(0.0, f"number {number}", "PJSIP/city-1", ended=5.0))
    # ... yet the citizen talked on both calls (1.3 s makes a conversation).
    cbs.watch.rings.append(Ring(0.0, f"number {numbers[4]}", "PJSIP/city-2", ended=4.0))
    cbs.watch.rings.append(Ring(6.0, f"number {numbers[4]}", "PJSIP/city-3", ended=9.0))
    figures = cbs.figures(count_callbacks(session, cbs.ids))
    assert (figures.promised, figures.placed_twice, figures.lost, figures.reached) == (6, 3, 2, 3)
    assert (figures.attempts, figures.citizen_rings, figures.citizen_talks) == (6, 7, 7)
    assert never in cbs.ids
