"""Record the raw AMI session of the real PBX while a scenario runs, as a transcript that
``tests/ami/replay.py`` plays back (the format is in ``tests/ami/transcripts/README.md``).

The recorder is a second AMI client of the sandbox's hotline PBX, built exactly like the one
the state machine tests replay against: our ``AMIClient`` (plain login, no keep-alive, ActionIDs
``t-1``, ``t-2``, ... from ``ActionIdGenerator("t")``) with a ``CallTracker`` on it, whose
resync after the login is part of the session. Every byte either side sends is kept, in the
order it travelled; at the end the session is written one message a block, with the login's
user name and secret replaced by ``hotline`` / ``REDACTED`` (the replaying client logs in
with those). ``tests/ami/record_scenarios.py`` drives the scenarios.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IProtocolFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from hotline.ami.actions import ActionIdGenerator
from hotline.ami.client import AMIClient
from hotline.calls.tracker import CallTracker

__all__ = ["AMIRecorder", "REPLAY_USERNAME", "REPLAY_SECRET", "render_session"]

#: What the recorded login says, and what a replaying client must log in with.
REPLAY_USERNAME = "hotline"
REPLAY_SECRET = "REDACTED"


class _Tap(ProtocolWrapper):
    """Passes every byte through, and notes it with its direction."""

    def write(self, data: bytes) -> None:
        self.factory.log.append(("C", data))
        super().write(data)

    def writeSequence(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def dataReceived(self, data: bytes) -> None:
        self.factory.log.append(("S", data))
        super().dataReceived(data)


class _TapFactory(WrappingFactory):
    protocol = _Tap

    def __init__(self, wrapped: IProtocolFactory, log: list[tuple[str, bytes]]) -> None:
        super().__init__(wrapped)
        self.log = log


class _TappedEndpoint:
    """A client endpoint whose connections go through a L{_Tap}."""

    def __init__(self, endpoint: Any, log: list[tuple[str, bytes]]) -> None:
        self._endpoint = endpoint
        self._log = log

    def connect(self, factory: IProtocolFactory) -> Any:
        return self._endpoint.connect(_TapFactory(factory, self._log)).addCallback(
            lambda wrapper: wrapper.wrappedProtocol)


_LOGIN_SECRET = re.compile(rb"^(Secret|Username|Key): [^\r\n]*", re.MULTILINE)
_CHALLENGE = re.compile(rb"^Challenge: ([^\r\n]*)", re.MULTILINE)


def _redact(message: bytes, challenge: bytes) -> bytes:
    """A Login as the replaying client sends it: its user name, its secret, or the MD5 key of
    the recorded challenge with its secret."""
    if not message.startswith(b"Action: Login\r\n"):
        return message
    key = hashlib.md5(challenge + REPLAY_SECRET.encode()).hexdigest()
    values = {b"Username": REPLAY_USERNAME, b"Secret": REPLAY_SECRET, b"Key": key}
    return _LOGIN_SECRET.sub(lambda m: m[1] + b": " + values[m[1]].encode(), message)


def render_session(log: list[tuple[str, bytes]], comment: str) -> str:
    """The transcript of a session: C{comment} lines, then each message as it completed."""
    out = [f"# {line}" for line in comment.strip().splitlines()]
    buffers = {"C": b"", "S": b""}
    banner_seen = False
    challenge = b""
    for side, data in log:
        buffers[side] += data
        if side == "S" and not banner_seen and b"\r\n" in buffers["S"]:
            banner, buffers["S"] = buffers["S"].split(b"\r\n", 1)
            out.append("S: " + banner.decode("utf-8"))
            banner_seen = True
        while b"\r\n\r\n" in buffers[side]:
            message, buffers[side] = buffers[side].split(b"\r\n\r\n", 1)
            if side == "C":
                message = _redact(message + b"\r\n", challenge)[:-2]
            elif found := _CHALLENGE.search(message):
                challenge = found[1]
            for line in message.decode("utf-8", "replace").split("\r\n"):
                out.append(f"{side}: {line}")
            out.append(f"{side}:")
    return "\n".join(out) + "\n"


class AMIRecorder:
    """A recording AMI session on the sandbox's hotline PBX, with a tracker on it.

    ``await start()`` logs in (and resyncs); the scenario runs; ``await stop()`` then
    ``write(path, comment)``. ``tracker`` is the live view the recording client kept, for the
    scenario to wait on.
    """

    def __init__(self, sandbox: Any, *, queue_name: str = "hotline", auth: str = "plain",
                 tracker: bool = True) -> None:
        creds = sandbox.secrets()["pbx_ami"]
        self.log: list[tuple[str, bytes]] = []
        endpoint = _TappedEndpoint(
            TCP4ClientEndpoint(reactor, "127.0.0.1", sandbox.config["pbx"]["ami_port"]),
            self.log)
        self.client = AMIClient(username=creds["username"], secret=creds["secret"],
                                endpoint=endpoint, reactor=reactor, auth=auth,
                                keepalive_interval=None, id_generator=ActionIdGenerator("t"))
        self.tracker = CallTracker(ami=self.client, clock=reactor, queue_name=queue_name)
        self._follow = tracker

    async def start(self) -> None:
        if self._follow:
            self.tracker.subscribe()
        self.client.start()
        await self.client.when_ready()

    async def stop(self) -> None:
        self.tracker.stop()
        await self.client.stop()

    def write(self, path: Path, comment: str) -> Path:
        path.write_text(render_session(self.log, comment), "utf-8")
        return path
