"""Shared by the commands that talk to the PBX: run a coroutine on the reactor, connect to AMI."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from twisted.internet import defer, error, task

from hotline.cli.main import CommandError
from hotline.config import Config, ConfigError

__all__ = ["react", "connect_ami", "pbx_and_database"]


def react(main: Callable[[Any], Coroutine[Any, Any, object]]) -> int:
    """Run ``main(reactor)`` on the reactor; one-line errors for what a user can fix."""
    failures: list[BaseException] = []

    def start(reactor: Any) -> defer.Deferred[object]:
        d = defer.Deferred.fromCoroutine(main(reactor))
        d.addErrback(lambda f: failures.append(f.value))
        return d

    try:
        task.react(start)
    except SystemExit as e:
        if failures:
            exc = failures[0]
            if isinstance(exc, error.CannotListenError):
                raise CommandError(f"cannot listen on {exc.interface}:{exc.port} "
                                   f"({exc.socketError}); stop what holds it or set another "
                                   "port in the configuration") from None
            if isinstance(exc, ConfigError):
                raise CommandError(str(exc)) from None
            if isinstance(exc, CommandError):
                raise exc from None
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError):
                raise exc from None  # main() says it in one line, knowing the database
            raise CommandError(f"{type(exc).__name__}: {exc}") from None
        return int(e.code or 0)
    return 0


async def connect_ami(reactor: Any, cfg: Config, *, timeout: float = 10.0,
                      which: str = "pbx") -> Any:
    """A started, logged-in AMIClient to the hotline PBX (or the sandbox's city simulator).

    Raises CommandError with what to do when the PBX does not answer in ``timeout`` seconds.
    """
    from hotline.ami.client import AMIClient
    from hotline.pbx.link import ami_address, ami_credentials

    try:
        if which == "city":
            from hotline.pbx.sandbox import Sandbox

            sandbox = Sandbox(cfg)
            if not sandbox.run_dir.joinpath("secrets.json").exists():
                raise CommandError("the city simulator is not running: "
                                   "`hotline pbx start` first")
            creds = sandbox.secrets()["city_ami"]
            username, secret = creds["username"], creds["secret"]
            host, port = "127.0.0.1", cfg["city"]["ami_port"]
        else:
            username, secret = ami_credentials(cfg)
            host, port = ami_address(cfg)
    except ConfigError as e:
        raise CommandError(str(e)) from None
    client = AMIClient(username=username, secret=secret, host=host, port=port, reactor=reactor)
    client.start()
    ready = client.when_ready()
    ready.addTimeout(timeout, reactor)
    try:
        await ready
    except defer.TimeoutError:
        await client.stop()
        raise CommandError(f"the {which} AMI at {host}:{port} was not ready within "
                           f"{timeout:g} s; is it running (`hotline pbx status`)?") from None
    return client


@contextlib.asynccontextmanager
async def pbx_and_database(reactor: Any, cfg: Config) -> AsyncIterator[tuple[Any, Any]]:
    """``(database, ami)`` for a command that acts like the controller: the schema brought up
    to date, the database's threads started, AMI logged in; all closed again on the way out."""
    from twisted.internet import threads

    from db.session import Database
    from hotline.cli.database import ready_url

    await threads.deferToThread(ready_url, cfg)
    db = Database.from_config(cfg, reactor=reactor)
    db.start()
    try:
        ami = await connect_ami(reactor, cfg)
        try:
            yield db, ami
        finally:
            await ami.stop()
    finally:
        await threads.deferToThread(db.stop)
