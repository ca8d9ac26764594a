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

__all__ = ["HTTP", "Reply", "sign_in"]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

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
                         json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        body = None
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
            text = resp.read().decode("utf-8", "replace")
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
        return Reply(resp.status, resp.headers, text)

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
