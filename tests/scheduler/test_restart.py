"""Restart safety and several nodes, with scheduler nodes as real processes (``hotline callbacks
run``) killed by SIGKILL: every callback is placed exactly once.

The city simulator counts the calls that reach the citizen's number, so "exactly once" is what
the carrier saw, not what our own tables claim.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor, threads

from db import migrate
from db.models import SchedulerState
from db.session import Database
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from tests.scheduler.support import (
    CityWatch,
    NodeProcess,
    callback_state,
    ensure_agents,
    new_ticket,
    node_config,
    promise_in,
    write,
)
from tests.support.pbx import ami_client
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx


class Site:
    """The test's own view of one database, the PBX and the city, beside the node processes."""

    def __init__(self, db: Database, pbx, city: CitySimulator, watch: CityWatch) -> None:
        self.db, self.pbx, self.city, self.watch = db, pbx, city, watch
        self.nodes: list[NodeProcess] = []

    async def write(self, fn):
        return await write(self.db, fn)

    def read(self, fn, *args):
        with self.db.begin() as s:
            return fn(s, *args)

    def leader(self) -> str | None:
        return self.read(lambda s: getattr(s.get(SchedulerState, "leader"), "value", None))

    def done(self, cb_id: int):
        def check():
            cb, attempts, ticket = self.read(callback_state, cb_id)
            return (cb, attempts) if cb.status in ("done", "failed") else None
        return check

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.log()[-3000:]}" for n in self.nodes)


@pytest_twisted.async_yield_fixture
async def site_factory(pbx_sandbox: Sandbox, tmp_path):
    made: list[Site] = []

    async def make(database_url: str, **scheduler) -> tuple[Site, object]:
        await threads.deferToThread(migrate.upgrade, database_url)
        db = Database(database_url, threads=2, reactor=reactor)
        db.start()
        pbx = ami_client(pbx_sandbox, "pbx")
        pbx.start()
        city_ami = ami_client(pbx_sandbox, "city")
        city_ami.start()
        await pbx.when_ready()
        await city_ami.when_ready()
        watch = CityWatch()
        city_ami.subscribe("Newchannel", watch.on_newchannel)
        site = Site(db, pbx, CitySimulator(ami=city_ami, hotline_number="83658365"), watch)
        made.append(site)
        await site.write(lambda s: ensure_agents(s, "1001", "1002"))
        config = node_config(tmp_path, pbx_sandbox.config, database_url, **scheduler)
        return site, config

    yield make

    for site in made:
        for node in site.nodes:
            node.kill()
        for code in ("1001", "1002"):
            try:
                await site.pbx.action("QueueRemove", Queue="hotline",
                                      Interface=f"PJSIP/agent-{code}")
            except Exception:  # noqa: BLE001 - not a member: nothing to remove
                pass
        await site.pbx.stop()
        await site.city.ami.stop()
        await threads.deferToThread(site.db.stop)
    await sleep(1.0)


async def _agents(site: Site, *codes: str) -> None:
    for code in codes:
        await site.pbx.action("QueueAdd", Queue="hotline", Interface=f"PJSIP/agent-{code}",
                              MemberName=f"agent {code}")
        await site.city.set_agent(code, delay_s=0.3)


def _node(site: Site, config, name: str, tmp_path) -> NodeProcess:
    node = NodeProcess(config, name, tmp_path).start()
    site.nodes.append(node)
    return node


@pytest_twisted.ensureDeferred
async def test_killed_before_due_restarted_after_places_once_and_late(site_factory, tmp_path):
    """A node that loaded a promise is SIGKILLed before it falls due; restarted after the due
    time, the callback is placed at once, exactly once, and recorded late."""
    site, config = await site_factory(f"sqlite:///{tmp_path / 'hotline.db'}")
    await _agents(site, "1001")
    await site.city.set_number("13900000011", mode="answer", delay_s=0.3)
    first = _node(site, config, "first", tmp_path)
    await until(lambda: site.leader() == "first", timeout=20)
    cb_id = await site.write(lambda s: promise_in(s, new_ticket(s, "13900000011"), 4))
    await sleep(1.5)  # several syncs: the promise is in the node's book
    first.kill()
    cb, _, _ = site.read(callback_state, cb_id)
    assert cb.status == "pending" and cb.attempts == 0
    wait = (cb.due_at - dt.datetime.now(dt.UTC)).total_seconds() + 2.5
    await sleep(max(wait, 0))
    assert site.watch.count("number 13900000011") == 0, "the killed node placed it"
    _node(site, config, "second", tmp_path)
    try:
        cb, attempts = await until(site.done(cb_id), timeout=40)
    except TimeoutError:
        raise AssertionError(site.logs()) from None
    assert [a.outcome for a in attempts] == ["answered"]
    assert site.watch.count("number 13900000011") == 1
    assert cb.late is True and cb.outcome == "reached"
    assert attempts[0].started_at > cb.due_at + dt.timedelta(seconds=2)


@pytest_twisted.ensureDeferred
async def test_killed_during_the_call_is_settled_not_placed_again(site_factory, tmp_path):
    """A node is SIGKILLed while its callback is ringing the citizen; the restarted node finds
    the attempt open, learns its outcome from Asterisk and never dials the citizen again."""
    site, config = await site_factory(f"sqlite:///{tmp_path / 'hotline.db'}", max_talk_s=5.0)
    await _agents(site, "1001")
    await site.city.set_number("13900000012", mode="answer", delay_s=1.0)
    first = _node(site, config, "first", tmp_path)
    await until(lambda: site.leader() == "first", timeout=20)
    cb_id = await site.write(lambda s: promise_in(s, new_ticket(s, "13900000012"), 2))
    await until(lambda: site.watch.count("number 13900000012") == 1, timeout=30)
    first.kill()
    _node(site, config, "second", tmp_path)
    try:
        cb, attempts = await until(site.done(cb_id), timeout=40)
    except TimeoutError:
        raise AssertionError(site.logs()) from None
    assert len(attempts) == 1 and attempts[0].outcome == "answered", site.logs()
    assert cb.outcome == "reached" and cb.sla_met is True
    await sleep(2.0)
    assert site.watch.count("number 13900000012") == 1


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_two_nodes_on_postgresql_one_places_each_then_the_other_takes_over(
        site_factory, postgres_server, _postgres_template, tmp_path):
    """Two nodes share one PostgreSQL database: one leads and places each callback exactly
    once; when it is SIGKILLed the other takes the lead and places the next one."""
    name = f"hotline_nodes_{os.getpid()}"
    postgres_server.admin(f"CREATE DATABASE {name} TEMPLATE {_postgres_template}")
    try:
        site, config = await site_factory(postgres_server.url(name))
        await _agents(site, "1001", "1002")
        for number in ("13900000021", "13900000022", "13900000023"):
            await site.city.set_number(number, mode="answer", delay_s=0.3)
        nodes = {"east": _node(site, config, "east", tmp_path),
                 "west": _node(site, config, "west", tmp_path)}
        try:
            # Starting a node process (imports, AMI login, schema check) is slow on a busy
            # machine; the take-over below is what is timed.
            active = await until(site.leader, timeout=60)
        except TimeoutError:
            raise AssertionError(site.logs()) from None
        await sleep(1.5)
        assert site.leader() == active
        standby = "west" if active == "east" else "east"

        async def promise(number: str, seconds: float) -> int:
            return await site.write(lambda s: promise_in(s, new_ticket(s, number), seconds))
        first = [await promise("13900000021", 3), await promise("13900000022", 3)]
        for cb_id in first:
            try:
                cb, attempts = await until(site.done(cb_id), timeout=40)
            except TimeoutError:
                raise AssertionError(site.logs()) from None
            assert [a.outcome for a in attempts] == ["answered"]
        assert site.watch.count("number 13900000021") == 1
        assert site.watch.count("number 13900000022") == 1
        assert "rings agent" not in nodes[standby].log()

        killed_at = time.monotonic()
        nodes[active].kill()
        await until(lambda: site.leader() == standby, timeout=20)
        takeover_s = time.monotonic() - killed_at
        third = await promise("13900000023", 2)
        try:
            cb, attempts = await until(site.done(third), timeout=40)
        except TimeoutError:
            raise AssertionError(site.logs()) from None
        assert [a.outcome for a in attempts] == ["answered"]
        assert site.watch.count("number 13900000023") == 1
        assert "rings agent" in nodes[standby].log()
        print(f"take-over after SIGKILL: {takeover_s:.1f} s")
        rows = site.read(lambda s: s.scalars(select(SchedulerState.value).where(
            SchedulerState.key == "leader")).all())
        assert rows == [standby]
    finally:
        for node in site.nodes if "site" in locals() else []:
            node.kill()
        postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
