"""The scheduler under a burst: 100,000 pending callbacks, 1,000 of them due within one second.

    python -m bench.scheduler [--pending 100000] [--burst 1000]

Two sides, each in its own process on its own copy of the same SQLite database:

- ours: ``scheduler.service.CallbackScheduler`` (the callback table is the truth, APScheduler's
  in-memory store holds what falls due within the horizon, every query on the database's
  thread pool), with the PBX left out: each due callback is prepared, claimed and finished by
  the real ``scheduler.store`` functions, as if the call were answered at once.
- reference: plain APScheduler 3 (``TwistedScheduler``) with its ``SQLAlchemyJobStore`` on the
  same database, one job per callback; each job claims its callback with the same
  ``scheduler.store`` functions (in APScheduler's thread pool).

Both sides collect and freeze what start-up built (``gc.freeze``), as a node does
(``scheduler.runner.run_node``, ``Controller.start``).

Figures: lateness = when the callback was handed to its handler minus when it was due (p50,
p99, max), claimed = when its claim was committed minus due, and the longest reactor stall
(a 5 ms ticker's worst delay) during the burst and during start-up; beside it the most CPU
time the reactor thread itself spent between two ticks (busy: its own work), the longest stall
less the time the reactor thread waited for a CPU (other processes on the machine; what is
left is this process: its work, the GIL held by its threads, its collector), and the longest
collector pass. The goal for ours is a stall under 50 ms. The last line printed is JSON; read
it with the load average it prints.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._util import print_json_line, print_table

SEED_TICKETS = 100
LEAD_S = 8.0  # from the end of set-up to the burst
TICK_S = 0.005

#: When each burst callback was handed over / claimed (epoch seconds), by callback id.
delivered: dict[int, float] = {}
claimed: dict[int, float] = {}


def _seed(path: Path, pending: int, burst: int) -> list[int]:
    """The database both sides start from; returns the burst's callback ids (due set later)."""
    from sqlalchemy import insert

    from db import migrate
    from db.models import Callback, Citizen, Ticket
    from db.session import make_engine

    migrate.upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as c:
        c.execute(insert(Citizen), [{"phone": "13800000000", "created_at": now}])
        c.execute(insert(Ticket), [
            {"number": f"RX20261126-{i:06d}", "kind": "complaint", "channel": "hotline",
             "status": "dispatched", "description": "bench", "citizen_id": 1,
             "created_at": now, "updated_at": now} for i in range(1, SEED_TICKETS + 1)])
        rest = pending - burst
        rows = []
        for i in range(pending):
            if i < rest:  # spread over the next day, from two minutes on
                due = now + dt.timedelta(seconds=120 + 86_280 * i / max(rest, 1))
            else:
                due = now + dt.timedelta(days=2)  # the burst: set just before the start
            rows.append({"ticket_id": 1 + i % SEED_TICKETS, "citizen_id": 1, "due_at": due,
                         "status": "pending", "attempts": 0, "created_at": now,
                         "quiet_hours_moved": False})
        for start in range(0, len(rows), 20_000):
            c.execute(insert(Callback), rows[start:start + 20_000])
    engine.dispose()
    return list(range(rest + 1, pending + 1))


def _set_burst(url: str, ids: list[int], t0: float, burst: int) -> dict[int, float]:
    from sqlalchemy import bindparam, update

    from db.models import Callback
    from db.session import make_engine

    due = {cb_id: t0 + n / burst for n, cb_id in enumerate(ids)}
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(update(Callback).where(Callback.id == bindparam("cid"))
                  .values(due_at=bindparam("due")).execution_options(synchronize_session=False),
                  [{"cid": i, "due": dt.datetime.fromtimestamp(t, dt.UTC)}
                   for i, t in due.items()])
    engine.dispose()
    return due


class _Ticker:
    """Ticks every 5 ms on the reactor and keeps its worst delay per named phase.

    Beside each delay (stall) it keeps the reactor thread's own CPU time (busy) and the time
    the thread was ready to run but waited for a CPU (``/proc/thread-self/schedstat``: other
    processes on the machine, not this one's threads: a thread waiting for the GIL sleeps, it
    is not queued). ``stall - queued`` is the part of the stall this process is answerable for
    (its own work, the GIL held by its other threads, its collector), with the load of the
    machine taken out. It also times every collector pass (``gc.callbacks``), and for the
    worst stall of each phase keeps what the process did meanwhile: its CPU time on all
    threads and how long its other threads waited for a CPU (a thread that holds the GIL
    while the machine makes it wait stalls the reactor too: that part is counted as ours in
    ``stall - queued``, this shows how much of it there was).
    """

    def __init__(self, reactor: Any) -> None:
        from twisted.internet.task import LoopingCall

        self.reactor = reactor
        self.phase = "start"
        self.worst: dict[str, float] = {}
        self._schedstat = _open_schedstat()
        self._last, self._cpu, self._queued = time.perf_counter(), time.thread_time(), 0.0
        self._gc_start = 0.0
        self._pcpu, self._others, self._tasks, self._ticks = time.process_time(), 0.0, {}, 0
        self._steal = _steal_s()
        self.detail: dict[str, dict[str, float]] = {}
        self._loop = LoopingCall(self._tick)
        self._loop.clock = reactor

    def start(self) -> None:
        self._last, self._cpu = time.perf_counter(), time.thread_time()
        self._queued = self._queued_s()
        self._pcpu, self._others = time.process_time(), self._others_queued_s()
        gc.callbacks.append(self._on_gc)
        self._loop.start(TICK_S, now=False)

    def stop(self) -> None:
        self._loop.stop()
        gc.callbacks.remove(self._on_gc)

    def _queued_s(self) -> float:
        if self._schedstat is None:
            return 0.0
        return int(os.pread(self._schedstat, 100, 0).split()[1]) / 1e9

    def _others_queued_s(self) -> float:
        """Run-queue wait of this process's other threads so far (their files kept open,
        the list of threads read again every second)."""
        if self._ticks % 200 == 0:
            try:
                tids = set(os.listdir("/proc/self/task")) - {str(threading.get_native_id())}
            except OSError:
                tids = set()
            for tid in set(self._tasks) - tids:
                os.close(self._tasks.pop(tid))
            for tid in tids - set(self._tasks):
                try:
                    self._tasks[tid] = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
                except OSError:
                    pass
        total = 0.0
        for fd in self._tasks.values():
            try:
                total += int(os.pread(fd, 100, 0).split()[1]) / 1e9
            except (OSError, IndexError, ValueError):
                pass  # the thread ended
        return total

    def _keep(self, key: str, value: float) -> None:
        self.worst[key] = max(self.worst.get(key, 0.0), value)

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self._keep(f"{self.phase}-gc", time.perf_counter() - self._gc_start)

    def _tick(self) -> None:
        now, cpu, queued = time.perf_counter(), time.thread_time(), self._queued_s()
        stall = max(now - self._last - TICK_S, 0.0)
        self._keep(self.phase, stall)
        self._keep(f"{self.phase}-cpu", max(cpu - self._cpu, 0.0))
        self._keep(f"{self.phase}-own", max(stall - (queued - self._queued), 0.0))
        self._ticks += 1
        pcpu, others, steal = time.process_time(), self._others_queued_s(), _steal_s()
        if stall >= self.worst.get(f"{self.phase}-detail", 0.0):
            self.worst[f"{self.phase}-detail"] = stall
            self.detail[self.phase] = {
                "stall_ms": round(stall * 1000, 1),
                "reactor_cpu_ms": round((cpu - self._cpu) * 1000, 1),
                "reactor_cpu_queue_ms": round((queued - self._queued) * 1000, 1),
                "process_cpu_ms": round((pcpu - self._pcpu) * 1000, 1),
                "other_threads_cpu_queue_ms": round(max(others - self._others, 0.0) * 1000, 1),
                "machine_steal_ms": round((steal - self._steal) * 1000, 1)}
        self._last, self._cpu, self._queued = now, cpu, queued
        self._pcpu, self._others, self._steal = pcpu, others, steal


def _steal_s() -> float:
    """CPU time the hypervisor gave to other guests, all CPUs (``/proc/stat``; 0 if none)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _open_schedstat() -> int | None:
    """The reactor thread's scheduler statistics (Linux), opened from the reactor thread."""
    try:
        return os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        return None


class _NoPBX:
    """The AMI seam left empty: the bench measures scheduling, not telephony."""

    def subscribe(self, *_: Any, **__: Any) -> Any:
        class _Sub:
            def unsubscribe(self) -> None:
                pass
        return _Sub()

    def when_ready(self) -> Any:
        from twisted.internet.defer import succeed
        return succeed(self)


def _ours(reactor: Any, url: str, state_dir: Path, ids: list[int], burst: int) -> Any:
    from twisted.internet.defer import Deferred, ensureDeferred

    from db.session import Database
    from hotline import config as config_mod
    from scheduler import store
    from scheduler.service import CallbackScheduler

    cfg = config_mod.loads("").with_overrides({
        "site": {"state_dir": str(state_dir)}, "database": {"url": url},
        "scheduler": {"quiet_hours": "", "max_concurrent": 10, "survey_enabled": False}})

    class BenchScheduler(CallbackScheduler):
        def _on_due(self, entries: list[Any]) -> None:
            at = time.time()
            for kind, ident in entries:
                if kind == "place":
                    delivered.setdefault(ident, at)
            super()._on_due(entries)

        async def _attempt(self, ident: int) -> None:
            info = await self._db(store.prepare, ident, now=self.now(), policy=self.policy)
            if isinstance(info, store.Moved):
                return
            key = await self._db(store.claim, info, agent_code="1001", now=self.now(),
                                 policy=self.policy)
            if key is not None:
                claimed[ident] = time.time()

    async def run() -> dict[str, Any]:
        ticker = _Ticker(reactor)
        db = Database(url, threads=8, reactor=reactor)
        db.start()
        service = BenchScheduler(config=cfg, ami=_NoPBX(), db=db, reactor=reactor,
                                 node="bench")
        t0 = time.time() + LEAD_S
        due = _set_burst(url, ids, t0, burst)
        ticker.start()
        loaded_at = time.time()
        await service.start()
        _freeze_startup()
        await _wait(reactor, lambda: len(service.book) >= burst and not service._syncing, 30)
        load_s = time.time() - loaded_at
        in_memory = len(service.book)
        ticker.phase = "idle"
        await _wait(reactor, lambda: time.time() >= t0 - 0.5, 60)
        ticker.phase = "burst"
        await _wait(reactor, lambda: len(claimed) >= burst, 120)
        ticker.stop()
        await service.stop()
        db.stop()
        return _figures(due, ticker, load_s=load_s, in_memory=in_memory)

    return ensureDeferred(run()) if not isinstance(run, Deferred) else run


def _reference_job(cb_id: int, url: str) -> None:
    """One APScheduler job per callback: claim it with the same store functions as ours."""
    from scheduler import store

    delivered.setdefault(cb_id, time.time())
    policy = _REF["policy"]

    def work(s: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        info = store.prepare(s, cb_id, now=now, policy=policy)
        if not isinstance(info, store.Moved):
            store.claim(s, info, agent_code="1001", now=now, policy=policy)

    # The same unit of work as ours (BEGIN IMMEDIATE, retried when SQLite says "locked"):
    # plain deferred transactions lost most claims to "database is locked" under the burst.
    _REF["db"].unit(work)
    claimed[cb_id] = time.time()


_REF: dict[str, Any] = {}


def _reference(reactor: Any, url: str, ids: list[int], burst: int, pending: int) -> Any:
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.twisted import TwistedScheduler
    from apscheduler.triggers.date import DateTrigger
    from twisted.internet.defer import ensureDeferred

    from db.session import Database
    from hotline import config as config_mod
    from scheduler.policy import SchedulerPolicy

    cfg = config_mod.loads("")
    settings = dict(cfg["scheduler"], quiet_hours="")
    _REF["db"] = Database(url, threads=10, reactor=reactor)  # .unit only: APScheduler's pool
    _REF["policy"] = SchedulerPolicy(settings, timezone="Asia/Shanghai")
    reactor.suggestThreadPoolSize(10)

    async def run() -> dict[str, Any]:
        ticker = _Ticker(reactor)
        jobstore = SQLAlchemyJobStore(url=url)
        sched = TwistedScheduler(reactor=reactor, jobstores={"default": jobstore},
                                 job_defaults={"coalesce": True, "misfire_grace_time": None},
                                 timezone=dt.UTC)
        sched.start(paused=True)
        func = sys.modules[__name__]._reference_job
        now = dt.datetime.now(dt.UTC)

        def job_rows(pairs: list[tuple[int, dt.datetime]]) -> list[dict[str, Any]]:
            rows = []
            for cb_id, at in pairs:
                job = Job(sched, id=f"cb-{cb_id}", func=func, args=(cb_id, url), kwargs={},
                          trigger=DateTrigger(run_date=at), executor="default",
                          name="callback", misfire_grace_time=None, coalesce=True,
                          max_instances=1, next_run_time=at)
                rows.append({"id": job.id, "next_run_time": at.timestamp(),
                             "job_state": pickle.dumps(job.__getstate__(),
                                                       pickle.HIGHEST_PROTOCOL)})
            return rows

        rest = pending - burst
        spread = [(i + 1, now + dt.timedelta(seconds=120 + 86_280 * i / max(rest, 1)))
                  for i in range(rest)]
        with jobstore.engine.begin() as c:
            for start in range(0, rest, 20_000):
                c.execute(jobstore.jobs_t.insert(), job_rows(spread[start:start + 20_000]))
        t0 = time.time() + LEAD_S
        due = _set_burst(url, ids, t0, burst)
        with jobstore.engine.begin() as c:
            c.execute(jobstore.jobs_t.insert(), job_rows(
                [(i, dt.datetime.fromtimestamp(t, dt.UTC)) for i, t in due.items()]))
        ticker.start()
        loaded_at = time.time()
        _freeze_startup()
        sched.resume()
        ticker.phase = "idle"
        load_s = time.time() - loaded_at
        await _wait(reactor, lambda: time.time() >= t0 - 0.5, 60)
        ticker.phase = "burst"
        await _wait(reactor, lambda: len(claimed) >= burst, 300)
        ticker.stop()
        sched.shutdown(wait=False)
        return _figures(due, ticker, load_s=load_s, in_memory=0)

    return ensureDeferred(run())


def _freeze_startup() -> None:
    """What a node does once started (``scheduler.runner.run_node``, ``Controller.start``):
    collect, then freeze what start-up built out of the collector's full passes. Without it a
    full pass walks every module, class and function SQLAlchemy, Twisted and APScheduler
    loaded (~130,000 objects, 80-200 ms here) and stops the reactor with every other thread.
    Both sides get it, so neither is measured with a collector the node does not have."""
    gc.collect()
    gc.freeze()


async def _wait(reactor: Any, condition: Any, timeout: float) -> None:
    from twisted.internet.task import deferLater

    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("the burst was not handled in time")
        await deferLater(reactor, 0.05, lambda: None)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _figures(due: dict[int, float], ticker: _Ticker, *, load_s: float,
             in_memory: int) -> dict[str, Any]:
    late = [max(delivered[i] - t, 0.0) * 1000 for i, t in due.items() if i in delivered]
    took = [max(claimed[i] - t, 0.0) * 1000 for i, t in due.items() if i in claimed]
    return {
        "handled": len(late), "lateness_p50_ms": round(_pct(late, 0.5), 1),
        "lateness_p99_ms": round(_pct(late, 0.99), 1), "lateness_max_ms": round(max(late), 1),
        "claimed_p50_ms": round(_pct(took, 0.5), 1), "claimed_p99_ms": round(_pct(took, 0.99), 1),
        "max_reactor_stall_ms": round(ticker.worst.get("burst", 0.0) * 1000, 1),
        "max_reactor_busy_ms": round(ticker.worst.get("burst-cpu", 0.0) * 1000, 1),
        "max_reactor_stall_less_cpu_queue_ms": round(ticker.worst.get("burst-own", 0.0) * 1000,
                                                     1),
        "max_gc_pause_ms": round(ticker.worst.get("burst-gc", 0.0) * 1000, 1),
        "worst_stall": ticker.detail.get("burst", {}),
        "start_reactor_stall_ms": round(max(ticker.worst.get("start", 0.0),
                                            ticker.worst.get("idle", 0.0)) * 1000, 1),
        "start_reactor_busy_ms": round(max(ticker.worst.get("start-cpu", 0.0),
                                           ticker.worst.get("idle-cpu", 0.0)) * 1000, 1),
        "start_s": round(load_s, 2), "in_memory": in_memory,
        "mean_lateness_ms": round(statistics.fmean(late), 1),
        "load_average": round(os.getloadavg()[0], 2),  # at the end of this side's burst
    }


def _side(side: str, pending: int, burst: int) -> None:
    from twisted.internet import task

    work = Path(tempfile.mkdtemp(prefix=f"hotline-bench-sched-{side}-"))
    path = work / "hotline.db"
    ids = _seed(path, pending, burst)
    url = f"sqlite:///{path}"
    result: dict[str, Any] = {}

    def main(reactor: Any) -> Any:
        d = _ours(reactor, url, work, ids, burst) if side == "ours" else \
            _reference(reactor, url, ids, burst, pending)
        d.addCallback(result.update)

        def failed(f: Any) -> None:  # an empty result would print as "-": say what broke
            result["error"] = f"{f.type.__name__}: {f.getErrorMessage()}"[:300]
            f.printTraceback(file=sys.stderr)
        d.addErrback(failed)
        return d

    try:
        task.react(main)
    except SystemExit:
        pass
    finally:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--side", choices=["ours", "reference"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        _side(args.side, args.pending, args.burst)
        return
    results: dict[str, dict[str, Any]] = {}
    for side in ("ours", "reference"):
        done = subprocess.run(
            [sys.executable, "-c", "from bench.scheduler import main; main()", "--side", side,
             "--pending", str(args.pending), "--burst", str(args.burst)],
            capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[1],
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        try:
            results[side] = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = (done.stderr.strip().splitlines() or ["no output"])[-3:]
            results[side] = {"error": f"exit {done.returncode}: {' | '.join(tail)[:300]}"}
    load = os.getloadavg()[0]
    print(f"{args.pending:,} pending callbacks, {args.burst:,} due within one second "
          f"(load average {load:.2f})")
    keys = ["lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms", "claimed_p50_ms",
            "claimed_p99_ms", "max_reactor_stall_ms", "max_reactor_busy_ms",
            "max_reactor_stall_less_cpu_queue_ms", "max_gc_pause_ms",
            "start_reactor_stall_ms", "start_reactor_busy_ms", "start_s", "in_memory",
            "load_average"]
    rows = [[k] + [str(results[s].get(k, results[s].get("error", "-"))) for s in results]
            for k in keys]
    print_table(["figure", "ours (in-memory book)", "reference (APScheduler SQL store)"], rows)
    ours, ref = results["ours"], results["reference"]
    out: dict[str, Any] = {"pending": args.pending, "burst": args.burst}
    for k in keys:
        if k in ours:
            out[k] = ours[k]
        if k in ref:
            out[f"reference_{k}"] = ref[k]
    for side, prefix in (("ours", ""), ("reference", "reference_")):
        if results[side].get("worst_stall"):
            out[f"{prefix}worst_stall"] = results[side]["worst_stall"]
            print(f"worst burst stall, {side}: " + ", ".join(
                f"{k} {v}" for k, v in results[side]["worst_stall"].items()))
    if ours.get("max_reactor_stall_ms") and ref.get("max_reactor_stall_ms"):
        out["stall_ratio_reference_over_ours"] = round(
            ref["max_reactor_stall_ms"] / max(ours["max_reactor_stall_ms"], 0.1), 1)
    for side in ("ours", "reference"):
        if "error" in results[side]:
            out[f"{side}_error"] = results[side]["error"]
    print_json_line(out)


if __name__ == "__main__":
    main()
