"""The wall board on the real PBX: a citizen's call waiting with no agent, then abandoned, as
the controller's live view and its call rows see it."""

from __future__ import annotations

import pytest
import pytest_twisted

from hotline.reports.plugin import wallboard_feed
from tests.support.hotline import wait_final_call
from tests.support.waiting import until

pytestmark = pytest.mark.pbx


@pytest_twisted.ensureDeferred
async def test_wallboard_follows_a_real_call(controller, city):
    """Wired by ``attach``: a queued caller shows as waiting with a growing wait; when they
    hang up unanswered the board shows nobody waiting and the abandon counted for today."""
    number = "13812340091"
    feed = wallboard_feed(controller.deps)
    pushed: list[dict] = []
    feed.add_listener(pushed.append)
    feed.start()
    try:
        before = await until(lambda: pushed and pushed[-1], timeout=30)
        await city.ami.when_ready()
        await city.call(number, tone="400", hold_s=90)
        waiting = await until(lambda: pushed[-1]["calls_waiting"] >= 1 and pushed[-1],
                              timeout=60)
        assert waiting["agents_free"] == 0
        grown = await until(lambda: pushed[-1]["longest_wait_s"] > waiting["longest_wait_s"]
                            and pushed[-1], timeout=30)
        assert grown["calls_waiting"] >= 1
        assert await city.hangup_citizen(number) == 1
        row, _ = await wait_final_call(controller.db, number)
        assert row.status == "abandoned"
        after = await until(lambda: (pushed[-1]["calls_waiting"] == 0
                                     and pushed[-1]["abandoned_today"]
                                     > before["abandoned_today"]) and pushed[-1], timeout=30)
        assert after["service_level"] is not None
    finally:
        feed.stop()
