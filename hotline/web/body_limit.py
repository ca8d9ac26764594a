# -*- test-case-name: tests.web.test_limits -*-
"""Request bodies are limited while they are read, for every route, signed in or not.

Twisted reads and spools a whole body before any resource sees the request, so a check of
``Content-Length`` in a handler came after the work, and a chunked body (no length) passed it.
Here the request itself refuses: a declared length over the limit is answered 413 before a byte
of the body is read, and a body that grows past it (chunked, or longer than declared) is cut off
with 413 the moment it does. The connection is closed after the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.web.server import Request

__all__ = ["limited_request_factory", "BodyLimitedRequest"]


class BodyLimitedRequest(Request):
    """A request that refuses a body longer than its route allows, as it arrives.

    ``limit_for(method, path)`` says how long a body the request's route takes (a photo upload
    more than a form); it is asked once the request line and headers are in."""

    limit_for: Callable[[bytes, bytes], int] = staticmethod(lambda method, path: 256 * 1024)
    max_body = 256 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._body_read = 0
        self._refused = False

    def gotLength(self, length: int | None) -> None:
        channel = self.channel
        self.max_body = self.limit_for(getattr(channel, "_command", b"") or b"",
                                       getattr(channel, "_path", b"") or b"")
        if length is not None and length > self.max_body:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._body_read += len(data)
        if self._body_read > self.max_body:
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return  # answered already; the connection is closing
        super().requestReceived(command, path, version)

    def _refuse(self) -> None:
        """Answer 413 on the wire and close: the body is not read any further."""
        self._refused = True
        body = json.dumps({"error_id": "body-too-large",
                           "message": f"the body is over {self.max_body} bytes (请求内容过大)",
                           "details": {"limit": self.max_body}}).encode()
        transport = self.channel.transport if self.channel is not None else None
        if transport is None:
            return
        transport.write(b"HTTP/1.1 413 Payload Too Large\r\n"
                        b"Content-Type: application/json; charset=utf-8\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                        b"Connection: close\r\n\r\n" + body)
        transport.loseConnection()


def limited_request_factory(limit_for: Callable[[bytes, bytes], int]
                            ) -> type[BodyLimitedRequest]:
    """A request class refusing bodies over ``limit_for(method, path)`` bytes
    (``Site(requestFactory=...)``)."""
    return type("BodyLimitedRequest", (BodyLimitedRequest,),
                {"limit_for": staticmethod(limit_for)})
