"""The softphone's HTTP side on the real PBX: who may get credentials, what they hold, and that
revoking gives the agent's desk phone endpoint back."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from hotline.ami.actions import AMIError
from hotline.softphone.plugin import build as build_softphone

pytestmark = [pytest.mark.pbx]


async def _request(method: bytes, url: str, cookie: str | None = None):
    headers = Headers({b"Cookie": [cookie.encode()], b"X-CSRF-Token": [b"test-csrf"]}
                      if cookie else {})
    response = await Agent(reactor).request(method, url.encode(), headers)
    return response, await readBody(response)


@pytest_twisted.ensureDeferred
async def test_credentials_only_for_a_signed_in_agent_and_never_cached(
        controller, softphone, pbx_sandbox):
    """Nobody signed in: 401 and nothing written; signed in: a fresh password as JSON, marked
    no-store, and the PBX holds the agent's WebRTC endpoint until it is revoked."""
    phone, base = softphone
    response, body = await _request(b"POST", f"{base}/softphone/credentials")
    assert response.code == 401 and json.loads(body)["error"] == "not_signed_in"
    assert phone.service.active == {}
    response, _ = await _request(b"GET", f"{base}/softphone/credentials", cookie="agent=1002")
    assert response.code == 405
    response, body = await _request(b"POST", f"{base}/softphone/credentials", cookie="agent=9")
    assert response.code == 409 and "no agent '9'" in json.loads(body)["message"]

    response, body = await _request(b"POST", f"{base}/softphone/credentials", cookie="agent=1002")
    creds = json.loads(body)
    assert response.code == 200
    assert response.headers.getRawHeaders(b"Cache-Control") == [b"no-store"]
    assert creds["username"] == "agent-1002" and creds["ws_url"].startswith("ws://127.0.0.1:")
    shown = pbx_sandbox.cli("pbx", "pjsip show endpoint agent-1002")
    assert "transport-ws" in shown and "softphone-1002/agent-1002" in shown

    # A controller restarting takes over what the PBX holds: the browser keeps its password.
    restarted = build_softphone(controller.deps)
    assert await restarted.service.adopt() == ["1002"]
    assert restarted.service.active["1002"].password == creds["password"]

    await phone.service.revoke("1002")
    with pytest.raises(AMIError):
        await controller.ami.action("DBGet", Family="hotline-softphone/auth",
                                    Key="softphone-1002")
    shown = pbx_sandbox.cli("pbx", "pjsip show endpoint agent-1002")
    assert "transport-udp" in shown and "transport-ws" not in shown


@pytest_twisted.ensureDeferred
async def test_bundle_is_served_and_nothing_else(softphone):
    _phone, base = softphone
    response, body = await _request(b"GET", f"{base}/softphone/softphone.js")
    assert response.code == 200 and b"HotlineSoftphone" in body
    response, _ = await _request(b"GET", f"{base}/softphone/.gitignore")
    assert response.code == 404
