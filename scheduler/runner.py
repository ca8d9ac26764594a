# -*- test-case-name: tests.scheduler.test_restart -*-
"""A scheduler node on its own (``hotline callbacks run``): database, AMI link, scheduler.

Several such nodes (or controllers with the scheduler attached) may share one PostgreSQL
database: one leads, the others wait to take over.
"""

from __future__ import annotations

import gc
import os
import socket
from typing import Any

from twisted.internet import defer, threads
from twisted.logger import Logger

__all__ = ["run_node", "default_node_name"]

_log = Logger(namespace="scheduler.runner")


def default_node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_node(reactor: Any, cfg: Any, *, node: str | None = None,
                   announce: Any = None) -> None:
    """Run until the reactor stops (Ctrl-C, SIGTERM); stops in order on the way out."""
    from db import migrate
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.pbx.link import ami_address, ami_credentials
    from scheduler.service import CallbackScheduler

    node = node or default_node_name()
    username, secret = ami_credentials(cfg)
    host, port = ami_address(cfg)
    db = Database.from_config(cfg, reactor=reactor)
    await threads.deferToThread(migrate.upgrade, db.url)
    db.start()
    ami = AMIClient(username=username, secret=secret, host=host, port=port, reactor=reactor,
                    keepalive_interval=float(cfg["ami"]["keepalive_s"]),
                    action_timeout=float(cfg["ami"]["action_timeout_s"]))
    ami.start()
    await ami.when_ready()
    service = CallbackScheduler(config=cfg, ami=ami, db=db, reactor=reactor, node=node)
    await service.start()
    # What start-up built lives as long as the process: keep it out of the collector's full
    # passes, which otherwise stop every thread (the reactor too) for tens of milliseconds.
    gc.collect()
    gc.freeze()
    if announce is not None:
        announce(f"scheduler node {node} running (AMI {host}:{port}); Ctrl-C stops it")

    async def shutdown() -> None:
        await service.stop()
        await ami.stop()
        await threads.deferToThread(db.stop)

    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: defer.Deferred.fromCoroutine(shutdown()))
    await defer.Deferred()  # until the reactor shuts down
