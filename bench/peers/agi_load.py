"""The FastAGI benchmark's load client: plays Asterisk for N sessions, C concurrently.

Each session connects, sends a realistic variable block (~25 lines), answers every command line
with a C{200} reply and waits for the server to close. Prints one JSON line: sessions completed,
commands answered, failures and wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import time

BLOCK_TEMPLATE = (
    "agi_network: yes\n"
    "agi_network_script: inbound?lang=zh\n"
    "agi_request: agi://127.0.0.1:{port}/inbound?lang=zh\n"
    "agi_channel: PJSIP/trunk-{n:08x}\n"
    "agi_language: zh\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1718000000.{n}\n"
    "agi_version: 22.0.0\n"
    "agi_callerid: 1380013{n:04d}\n"
    "agi_calleridname: 张三\n"
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: 83658365\n"
    "agi_rdnis: unknown\n"
    "agi_context: hotline-inbound\n"
    "agi_extension: 83658365\n"
    "agi_priority: 2\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140234567890\n"
    "agi_arg_1: first\n"
    "agi_arg_2: second\n"
    "\n"
)

REPLY_GET = b"200 result=1 (13800138000)\n"
REPLY_EXEC = b"200 result=0\n"
REPLY_OTHER = b"200 result=1\n"


class AsteriskSide(asyncio.Protocol):
    """One FastAGI session as Asterisk would run it."""

    def __init__(self, block: bytes, done: asyncio.Future[int]) -> None:
        self.block = block
        self.done = done
        self.buffer = b""
        self.commands = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.block)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                return
            line, self.buffer = self.buffer[:newline], self.buffer[newline + 1:]
            self.commands += 1
            if line.startswith(b"GET VARIABLE"):
                reply = REPLY_GET
            elif line.startswith(b"EXEC"):
                reply = REPLY_EXEC
            else:
                reply = REPLY_OTHER
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.commands)


async def run(port: int, sessions: int, concurrency: int) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    counter = iter(range(sessions))
    completed = failures = commands = 0

    async def worker() -> None:
        nonlocal completed, failures, commands
        for n in counter:
            done: asyncio.Future[int] = loop.create_future()
            block = BLOCK_TEMPLATE.format(port=port, n=n).encode()
            try:
                await loop.create_connection(functools.partial(AsteriskSide, block, done), "127.0.0.1", port)
                got = await asyncio.wait_for(done, 30)
            except (TimeoutError, OSError):
                failures += 1
                continue
            commands += got
            if got >= 3:
                completed += 1
            else:
                failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {"sessions": completed, "failures": failures, "commands": commands, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.port, args.sessions, args.concurrency))))


if __name__ == "__main__":
    main()
