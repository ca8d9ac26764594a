# -*- test-case-name: tests.web.test_access_log -*-
"""The console's access log, without what must not be written down.

Twisted's combined log line writes the whole URI: Open311 clients put their ``api_key`` in the
query string, and paths carry citizens' numbers (``/api/callers/13812340000``). Here the query
string is dropped (its length kept, so odd requests still stand out) and every phone-number-like
run in the path is masked as departments see numbers. The client address is the one the
console uses (behind a trusted proxy: the client it names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from twisted.web.http import combinedLogFormatter

from hotline.phone import redact_numbers

__all__ = ["redacted_uri", "access_log_formatter"]


def redacted_uri(uri: bytes) -> bytes:
    """``/api/callers/13812340000?api_key=k`` → ``/api/callers/138****0000?<query 9 bytes>``."""
    path, question, query = uri.partition(b"?")
    text = redact_numbers(unquote(path.decode("latin-1"), errors="replace"))
    shown = text.encode("utf-8", "replace")
    return shown + (f"?<query {len(query)} bytes>".encode() if question else b"")


class _Shown:
    """The request as the log line may show it."""

    def __init__(self, request: Any, client: str) -> None:
        self._request = request
        self._client = client
        self.uri = redacted_uri(request.uri)

    def getClientAddress(self) -> Any:
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", self._client, 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def access_log_formatter(client_ip: Callable[[Any], str]) -> Callable[[str, Any], str]:
    """A Site ``logFormatter`` writing redacted URIs and the console's client address."""
    def formatter(timestamp: str, request: Any) -> str:
        return combinedLogFormatter(timestamp, _Shown(request, client_ip(request)))
    return formatter
