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
    """Reached twice, or rung at the city more often than it has attempts: placed twice;
    still pending at the end: lost; a promise not on record at all: lost."""
    numbers = ["13911110000", "13911110001", "13911110002", "13911110003"]
    ids = promise_callbacks(session, numbers, 60.0, timezone="Asia/Shanghai")
    fine, reached_twice, rung_unrecorded, never = ids
    for cb_id, status in ((fine, "done"), (reached_twice, "done"), (rung_unrecorded, "failed")):
        session.get(Callback, cb_id).status = status
    _attempt(session, fine, 1, "answered")
    _attempt(session, reached_twice, 1, "answered")
    _attempt(session, reached_twice, 2, "answered")
    _attempt(session, rung_unrecorded, 1, "no_answer")
    session.flush()

    cbs = CallbackRound(numbers=numbers, agents=["1001"], reactor=None,
                        timezone="Asia/Shanghai")
    cbs.ids = [*ids, max(ids) + 1000]  # the last promise vanished (not on record)
    cbs.phones = dict(zip(ids, numbers, strict=True)) | {max(ids) + 1000: "13911110004"}
    for number in (numbers[0], numbers[1], numbers[1], numbers[2], numbers[2]):
        cbs.watch.rings.append(Ring(0.0, f"number {number}", "PJSIP/city-1"))
    figures = cbs.figures(count_callbacks(session, cbs.ids))
    assert (figures.promised, figures.placed_twice, figures.lost, figures.reached) == (5, 2, 2, 2)
    assert (figures.attempts, figures.citizen_rings) == (4, 5)
    assert never in cbs.ids
