"""A small blocking HTTP client for the console tests, run off the reactor thread, with cookies."""

from __future__ import annotations

import http.client
import json as jsonlib
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from twisted.internet import threads

__all__ = ["HTTP", "Reply", "sign_in", "EventReader"]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str
    #: The body as sent (a photo is not text).
    content: bytes = b""

    def json(self) -> Any:
        return jsonlib.loads(self.text)

    def cookie_header(self, name: str) -> str | None:
        for value in self.headers.get_all("Set-Cookie") or []:
            if value.startswith(name + "="):
                return value
        return None


class HTTP:
    """One user agent: keeps cookies like a browser, sends forms and JSON."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request_blocking(self, method: str, path: str, *, form: dict[str, str] | None = None,
                         json: Any = None, headers: dict[str, str] | None = None,
                         body: bytes | None = None) -> Reply:
        """One request; ``body`` is sent as it is (give its Content-Type in ``headers``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            content = resp.read()
            text = content.decode("utf-8", "replace")
        finally:
            conn.close()
        for raw in resp.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(resp.status, resp.headers, text, content)

    async def request(self, method: str, path: str, **kw: Any) -> Reply:
        return await threads.deferToThread(self.request_blocking, method, path, **kw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.request("POST", path, **kw)

    async def csrf(self) -> str:
        """The session's CSRF token, as the desk's page carries it."""
        return (await self.get("/api/me")).json()["csrf_token"]


def form_csrf(html: str) -> str:
    m = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


async def sign_in(client: HTTP, username: str, password: str) -> Reply:
    """Fill and send the sign-in form like a browser would."""
    page = await client.get("/login")
    return await client.post("/login", form={"_csrf": form_csrf(page.text),
                                             "username": username, "password": password,
                                             "next": "/"})


class EventReader:
    """One ``/api/events`` stream read in a thread, as the desk's EventSource reads it: each
    event is parsed into ``events`` as ``(name, data)`` the moment it arrives. ``close()``
    ends it (so does the console stopping)."""

    def __init__(self, port: int, cookies: dict[str, str], path: str = "/api/events") -> None:
        import threading

        self.port = port
        self.path = path
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.events: list[tuple[str, Any]] = []
        self.status: int | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._read, daemon=True, name="sse-reader")

    def start(self) -> EventReader:
        self._thread.start()
        return self

    def _read(self) -> None:
        conn = self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", self.path, headers={"Cookie": self.cookie,
                                                        "Accept": "text/event-stream"})
            resp = conn.getresponse()
            self.status = resp.status
            buf = b""
            while True:
                chunk = resp.read1(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    name, data = "message", []
                    for line in block.decode("utf-8").split("\n"):
                        if line.startswith("event: "):
                            name = line[len("event: "):]
                        elif line.startswith("data: "):
                            data.append(line[len("data: "):])
                    if data:
                        self.events.append((name, jsonlib.loads("\n".join(data))))
        except (OSError, http.client.HTTPException):
            return  # closed by close(), or cut by the console stopping
        finally:
            conn.close()

    def named(self, name: str) -> list[Any]:
        """The data of every event called ``name`` so far, in order."""
        return [data for n, data in list(self.events) if n == name]

    def close(self) -> None:
        import socket

        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
