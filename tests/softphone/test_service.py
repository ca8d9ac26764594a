"""Credentials for agents' browsers: the WebSocket URL rule, refusals, and what reaches the PBX.

The AMI peer here is a recorder: what the real PBX does with these objects is in
``test_browser.py``; these check what is sent and what is refused before anything is sent."""

from __future__ import annotations

import json

import pytest
import pytest_twisted

from hotline import config as config_mod
from hotline.softphone.service import SoftphoneError, SoftphoneService, websocket_url


def _config(**softphone):
    overrides = {"softphone": softphone} if softphone else {}
    return config_mod.loads("", source="tests").with_overrides(overrides)


def _production(monkeypatch, **softphone):
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "test-secret")
    return _config(**softphone).with_overrides({"site": {"mode": "production"},
                                                "pbx": {"sandbox": False}})


class _RecordingAMI:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def action(self, name: str, **headers):
        self.sent.append((name, headers))
        return {"Response": "Success"}


def test_sandbox_url_is_loopback_ws_on_the_pbx_http_port():
    """Without ws_url the browsers reach the sandbox PBX's own HTTP port on loopback."""
    cfg = _config()
    assert websocket_url(cfg) == f"ws://127.0.0.1:{cfg['pbx']['http_port']}/ws"


@pytest.mark.parametrize("url, allow, mode", [
    ("ws://10.0.0.5:8088/ws", True, "sandbox"),        # plain over a network
    ("ws://127.0.0.1:8088/ws", False, "sandbox"),      # plain not allowed by the site
    ("ws://127.0.0.1:8088/ws", True, "production"),    # never plain in production
    ("http://127.0.0.1:8088/ws", True, "sandbox"),     # not a WebSocket URL
    ("wss:///ws", True, "sandbox"),                    # no host
])
def test_unsafe_or_broken_urls_are_refused(url, allow, mode, monkeypatch):
    """A password never crosses a network in clear, and a broken URL is named."""
    make = _production if mode == "production" else (lambda _mp, **kw: _config(**kw))
    cfg = make(monkeypatch, ws_url=url, allow_plain_ws_on_loopback=allow)
    with pytest.raises(SoftphoneError, match="ws_url"):
        websocket_url(cfg)


def test_a_certificate_needs_its_key():
    with pytest.raises(SoftphoneError, match="tls_cert and softphone.tls_key"):
        websocket_url(_config(tls_cert="/etc/ssl/pbx.pem"))


def test_wss_is_accepted_anywhere(monkeypatch):
    cfg = _production(monkeypatch, ws_url="wss://pbx.example.org:8089/ws")
    assert websocket_url(cfg) == "wss://pbx.example.org:8089/ws"


@pytest_twisted.ensureDeferred
async def test_issue_writes_auth_before_endpoint_and_rotates_the_password():
    """The endpoint never points at a missing auth; each issue makes a new password."""
    ami = _RecordingAMI()
    service = SoftphoneService(ami=ami, config=_config(), agents=["1001"])
    first = await service.issue("1001")
    second = await service.issue("1001", holder="h-2")
    assert first.password != second.password and len(first.password) >= 24
    holder = [(n, h) for n, h in ami.sent if h["Family"] == "hotline-softphone-holder"]
    assert [(n, h.get("Val")) for n, h in holder] == [("DBDel", None), ("DBPut", "h-2")]
    assert service.holders == {"1001": "h-2"}
    ami.sent = [(n, h) for n, h in ami.sent if (n, h) not in holder]
    kinds = [h["Family"] for _n, h in ami.sent]
    assert kinds == ["hotline-softphone/auth", "hotline-softphone/aor",
                     "hotline-softphone/endpoint"] * 2
    auth = json.loads(ami.sent[3][1]["Val"])
    endpoint = json.loads(ami.sent[5][1]["Val"])
    assert auth == {"auth_type": "userpass", "username": "agent-1001",
                    "password": second.password}
    assert ami.sent[5][1]["Key"] == ami.sent[4][1]["Key"] == "agent-1001"
    assert endpoint["webrtc"] == "yes" and endpoint["auth"] == ami.sent[3][1]["Key"]
    assert json.loads(ami.sent[4][1]["Val"])["qualify_frequency"] == "5"
    assert second.uri == "sip:agent-1001@127.0.0.1" and service.active["1001"] == second


@pytest_twisted.ensureDeferred
async def test_unknown_agent_and_bad_display_name_send_nothing():
    ami = _RecordingAMI()
    service = SoftphoneService(ami=ami, config=_config(), agents=["1001"])
    with pytest.raises(SoftphoneError, match="no agent '9999'"):
        await service.issue("9999")
    with pytest.raises(SoftphoneError, match="display name"):
        await service.issue("1001", display_name='x" <sip:evil>')
    assert ami.sent == [] and service.active == {}
