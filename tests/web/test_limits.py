"""The console's limits on what a client may make it hold: request bodies (413 while reading,
chunked or not, signed in or not) and open connections (in total and per address)."""

from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import reactor, threads

from hotline.plugins import web_console
from tests.support.waiting import until
from tests.web.conftest import add_users, web_config

LIMIT = 4096


@pytest_twisted.async_yield_fixture
async def limited(db, tmp_path, request):
    add_users(db)
    web = web_console(config=web_config(tmp_path, max_body_bytes=LIMIT, **getattr(
        request, "param", {})), db=db, reactor=reactor)
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


def _exchange(port: int, head: bytes, body_parts: list[bytes]) -> tuple[bytes, int]:
    """Send the request head, then the body part by part while the server lets us; returns
    the reply and how many body bytes went out before it came."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sent = 0
    try:
        sock.sendall(head)
        sock.settimeout(0.2)
        reply = b""
        for part in body_parts:
            try:
                reply += sock.recv(65536)
            except TimeoutError:
                pass
            if reply:
                break
            try:
                sock.sendall(part)
            except OSError:  # the server closed: it answered already
                break
            sent += len(part)
        sock.settimeout(10)
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply, sent
    finally:
        sock.close()


@pytest.mark.parametrize("path", ["/login", "/api/tickets", "/open311/v2/requests.json",
                                  "/softphone/credentials", "/nowhere"])
@pytest_twisted.ensureDeferred
async def test_a_long_declared_body_is_refused_before_it_is_read(limited, path):
    """A Content-Length over the limit is answered 413 before the body is sent, on every
    route, signed in or not."""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {LIMIT * 100}\r\n\r\n").encode()
    parts = [b"x" * 1024] * (LIMIT * 100 // 1024)
    reply, sent = await threads.deferToThread(_exchange, limited.port, head, parts)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"body-too-large" in reply
    assert sent < LIMIT * 10


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_is_refused_once_it_grows_past_the_limit(limited):
    """A chunked body has no length: it is cut off with 413 as soon as it passes the limit."""
    head = (b"POST /api/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    parts = [b"400\r\n" + b"x" * 1024 + b"\r\n"] * 400
    reply, sent = await threads.deferToThread(_exchange, limited.port, head, parts)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert sent < 400 * 1024


@pytest_twisted.ensureDeferred
async def test_a_body_within_the_limit_is_served(limited):
    """A body under the limit reaches its route as before (here: refused for want of a
    session, not for its size)."""
    body = b'{"a": "' + b"x" * (LIMIT // 2) + b'"}'
    head = (f"POST /api/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    reply, _ = await threads.deferToThread(_exchange, limited.port, head, [body])
    assert reply.startswith(b"HTTP/1.1 401 ")


def _hold(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]


def _closed_at_once(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize("limited", [{"max_connections_per_address": 3},
                                     {"max_connections": 10, "max_connections_per_address": 100}],
                         indirect=True, ids=["per-address", "total"])
@pytest_twisted.ensureDeferred
async def test_connections_past_the_cap_are_closed_at_once(limited):
    """Idle connections up to the cap are held; the next one is closed at once; closing one
    makes room again."""
    cap = min(limited.connections.total, limited.connections.per_address)
    held = await threads.deferToThread(_hold, limited.port, cap)
    try:
        await until(lambda: len(limited.connections.protocols) == cap, timeout=5)
        extra = (await threads.deferToThread(_hold, limited.port, 1))[0]
        assert await threads.deferToThread(_closed_at_once, extra)
        extra.close()
        held.pop().close()
        await until(lambda: len(limited.connections.protocols) == cap - 1, timeout=5)
        again = (await threads.deferToThread(_hold, limited.port, 1))[0]
        held.append(again)
        assert not await threads.deferToThread(_closed_at_once, again)
    finally:
        for sock in held:
            sock.close()
