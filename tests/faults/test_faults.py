"""The fault suite: each fault played against the whole hotline while citizens call, on the
spare sandbox (never the session's). Nothing accepted is lost: every call placed at the city
side has exactly one final row; every callback due while the fault struck (two talking to their
citizens when it strikes, one falling due as it does) is reached or failed, and none rang its
citizen more often than the database has attempts for it, or reached them twice.

The figures behind these assertions are printed by ``python -m bench.faults``."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from hotline.sim.faults import FaultLab, FaultResult
from tests.support.database import postgres_cluster

pytestmark = [pytest.mark.pbx]


@pytest.fixture(scope="module")
def lab(spare_sandbox, tmp_path_factory):
    return FaultLab(config=spare_sandbox.config, reactor=reactor,
                    state_dir=tmp_path_factory.mktemp("faults"), calls=6, hold_s=8.0,
                    settle_s=45.0, callbacks=(2, 1))


def _nothing_lost(result: FaultResult) -> None:
    assert result.placed > 0
    assert (result.lost, result.duplicated, result.callbacks_twice) == (0, 0, 0), result
    assert result.rows == result.placed
    cbs = result.callbacks
    assert cbs is not None and cbs.promised == 3, result
    assert (cbs.placed_twice, cbs.lost) == (0, 0), result
    # Placed for real: the city rang the citizens of at least the two that were talking.
    assert cbs.attempts >= 3 and cbs.citizen_rings >= 2, result


@pytest_twisted.ensureDeferred
async def test_controller_killed_mid_burst_and_restarted(lab):
    """`hotline run` SIGKILLed mid-burst and started again: every call has one row."""
    _nothing_lost(await lab.controller_killed())


@pytest_twisted.ensureDeferred
async def test_pbx_restarted_mid_calls(lab):
    """The hotline PBX restarted with calls in progress: every call has one row."""
    _nothing_lost(await lab.pbx_restarted())


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_postgresql_down_during_a_burst(lab):
    """PostgreSQL stopped for 30 s while calls come and go: every call has one row once it is
    back."""
    with postgres_cluster() as server:
        server.admin("CREATE DATABASE hotline_faults")
        _nothing_lost(await lab.database_down(server, server.url("hotline_faults"), 30.0))


@pytest_twisted.ensureDeferred
async def test_recordings_disk_full(lab):
    """A full recordings disk: recording stops with an alert, calls still go through, every
    call has one row."""
    result = await lab.recordings_disk_full()
    _nothing_lost(result)
    assert result.note == "recording stopped, alert raised"


@pytest_twisted.ensureDeferred
async def test_ami_link_cut_for_ten_seconds(lab):
    """The AMI link cut for 10 s mid-burst: every call has one row once it is back."""
    _nothing_lost(await lab.ami_link_cut(10.0))
