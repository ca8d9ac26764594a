# -*- test-case-name: tests.softphone.test_service -*-
"""Per-session SIP credentials for an agent's browser, pushed to Asterisk's AstDB over AMI.

Asterisk looks endpoints and auths up in the AstDB family ``hotline-softphone`` before
pjsip.conf (``asterisk-config/pbx/sorcery.conf.j2``). Issuing a session writes a WebRTC endpoint
named ``agent-<code>`` there, which shadows the desk phone of that name, so the queue's member
interface ``PJSIP/agent-<code>`` rings the browser, its AOR (qualified, so a silently dead
connection is noticed) and an auth holding a fresh random password.
Sorcery reads the AstDB on each lookup: no reload, nothing rendered, nothing on disk but the
PBX's own AstDB. Revoking deletes both and the desk phone is back.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twisted.logger import Logger

from hotline.ami.actions import AMIError

if TYPE_CHECKING:
    from hotline.ami.client import AMIClient
    from hotline.config import Config

__all__ = ["Credentials", "SoftphoneError", "SoftphoneService", "ASTDB_FAMILY", "endpoint_of",
           "websocket_url"]

_log = Logger(namespace="hotline.softphone")

#: The sorcery AstDB prefix (sorcery.conf); objects live in ``<prefix>/<type>``.
ASTDB_FAMILY = "hotline-softphone"
#: Which console session holds each agent's credentials (key: agent code; value: the session's
#: token hash), kept beside them so a restarted controller can check the session still lives.
HOLDER_FAMILY = "hotline-softphone-holder"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class SoftphoneError(Exception):
    """No softphone can be issued; the message says why in one line. Nothing was changed."""


@dataclass(frozen=True)
class Credentials:
    """What one console session's browser needs to register; only ever sent to that session."""

    code: str
    username: str
    password: str
    uri: str
    ws_url: str
    display_name: str
    register_expires: int

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "username": self.username, "password": self.password,
                "uri": self.uri, "ws_url": self.ws_url, "display_name": self.display_name,
                "register_expires": self.register_expires}


def endpoint_of(code: str) -> str:
    """The PJSIP endpoint (and AOR) of agent ``code``: the queue rings PJSIP/<this>."""
    return f"agent-{code}"


def _auth_of(code: str) -> str:
    return f"softphone-{code}"


def websocket_url(config: Config) -> str:
    """The URL browsers reach Asterisk's SIP WebSocket at, checked against the TLS rule.

    Plain ``ws://`` only to a loopback host, only with ``allow_plain_ws_on_loopback``, and never in
    production mode: a password must not cross a network in clear.
    """
    sp = config["softphone"]
    if bool(sp["tls_cert"]) != bool(sp["tls_key"]):
        raise SoftphoneError("softphone.tls_cert and softphone.tls_key go together: set both or "
                             "neither")
    url = sp["ws_url"] or f"ws://{config['pbx']['address']}:{config['pbx']['http_port']}/ws"
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise SoftphoneError(f"softphone.ws_url {url!r} is not a ws:// or wss:// URL")
    if parts.scheme == "ws":
        if parts.hostname not in _LOOPBACK and not parts.hostname.startswith("127."):
            raise SoftphoneError(f"softphone.ws_url {url!r}: plain WebSocket only on loopback; "
                                 "use wss:// (Asterisk's http.conf TLS, softphone.tls_cert/key)")
        if not sp["allow_plain_ws_on_loopback"] or config["site"]["mode"] == "production":
            raise SoftphoneError(f"softphone.ws_url {url!r}: plain WebSocket is not allowed here; "
                                 "use wss://")
    return url


def _messages(reply: Any) -> list[Any]:
    return list(reply) if isinstance(reply, list) else [reply]


class SoftphoneService:
    """Issue and revoke agents' browser credentials; remembers which agents hold one."""

    def __init__(self, *, ami: AMIClient, config: Config, agents: tuple[str, ...] | list[str],
                 context: str = "from-agent") -> None:
        """
        @param agents: agent codes that may have a softphone (``queue.agents``).
        @param context: the dialplan context the browser's own calls start in.
        """
        self.ami = ami
        self.config = config
        self.agents = tuple(agents)
        self.context = context
        self.ws_url = websocket_url(config)
        #: Agents holding credentials now (issued and not revoked), by code.
        self.active: dict[str, Credentials] = {}
        #: The console session (token hash) each agent's credentials were issued to; None when
        #: unknown (issued by an older controller, or without a console).
        self.holders: dict[str, str | None] = {}
        self._released: list[Callable[[str], object]] = []

    def on_released(self, listener: Callable[[str], object]) -> None:
        """Call ``listener(code)`` after an agent's held credentials were revoked (the desk phone
        is the seat's phone again, if it is registered)."""
        self._released.append(listener)

    async def issue(self, code: str, *, display_name: str | None = None,
                    holder: str | None = None) -> Credentials:
        """A fresh password for agent ``code``'s browser; a previous one stops working at once.

        ``holder`` names the console session it is for (its token hash): the credentials are
        revoked once that session ends, however it ends."""
        if code not in self.agents:
            raise SoftphoneError(f"no agent {code!r}: the configured agents are "
                                 f"{', '.join(self.agents) or 'none'}")
        name = display_name or f"Agent {code}"
        if any(c in name for c in "\r\n\"<>"):
            raise SoftphoneError("a display name is one line without quotes or angle brackets")
        ep = endpoint_of(code)
        password = secrets.token_urlsafe(24)
        endpoint = {
            "transport": "transport-ws", "context": self.context,
            "disallow": "all", "allow": "opus,ulaw,alaw", "webrtc": "yes",
            "dtls_auto_generate_cert": "yes", "auth": _auth_of(code), "aors": ep,
            "callerid": f"Agent {code} <{code}>", "direct_media": "no",
        }
        auth = {"auth_type": "userpass", "username": ep, "password": password}
        # The browser's AOR asks it every qualify_s whether it is still there: a connection that
        # died without a reset (no FIN, no RST) is noticed in seconds, not at the next REGISTER.
        aor = {"max_contacts": "1", "remove_existing": "yes",
               "qualify_frequency": str(int(self.config["softphone"]["qualify_s"])),
               "qualify_timeout": "3.0"}
        # Auth and AOR first: the endpoint must never point at objects that are not there yet.
        await self._put("auth", _auth_of(code), auth)
        await self._put("aor", ep, aor)
        await self._put("endpoint", ep, endpoint)
        if holder:
            await self.ami.action("DBPut", Family=HOLDER_FAMILY, Key=code, Val=holder)
        else:
            await self._forget_holder(code)
        self.holders[code] = holder
        host = urlsplit(self.ws_url).hostname
        creds = Credentials(code=code, username=ep, password=password, uri=f"sip:{ep}@{host}",
                            ws_url=self.ws_url, display_name=name,
                            register_expires=int(self.config["softphone"]["register_expires_s"]))
        self.active[code] = creds
        _log.info("softphone credentials issued for agent {code}", code=code)
        return creds

    async def revoke(self, code: str) -> None:
        """Forget agent ``code``'s browser: the desk phone endpoint of that name is back."""
        held = self.active.pop(code, None) is not None
        self.holders.pop(code, None)
        for kind, key in (("endpoint", endpoint_of(code)), ("aor", endpoint_of(code)),
                          ("auth", _auth_of(code))):
            await self._delete(f"{ASTDB_FAMILY}/{kind}", key)
        await self._forget_holder(code)
        _log.info("softphone credentials revoked for agent {code}", code=code)
        if held:
            for listener in self._released:
                listener(code)

    async def revoke_all(self) -> None:
        """Revoke every softphone the PBX holds, also ones an earlier controller left behind."""
        for code in self.agents:
            await self.revoke(code)

    async def adopt(self) -> list[str]:
        """Take over the softphones the PBX still holds (the controller restarted): browsers
        keep their registrations and calls; returns the agents adopted."""
        adopted = []
        for code in self.agents:
            try:
                reply = await self.ami.action("DBGet", Family=f"{ASTDB_FAMILY}/auth",
                                              Key=_auth_of(code))
            except AMIError:
                continue  # none held for this agent
            value = next((m.get("Val") for m in _messages(reply) if m.get("Val")), None)
            try:
                password = json.loads(value)["password"] if value else None
            except (ValueError, KeyError, TypeError):
                password = None
            if not password:
                _log.warn("agent {code}'s softphone auth in the AstDB is unreadable; revoked",
                          code=code)
                await self.revoke(code)
                continue
            ep = endpoint_of(code)
            host = urlsplit(self.ws_url).hostname
            self.active[code] = Credentials(
                code=code, username=ep, password=password, uri=f"sip:{ep}@{host}",
                ws_url=self.ws_url, display_name=f"Agent {code}",
                register_expires=int(self.config["softphone"]["register_expires_s"]))
            try:
                found = await self.ami.action("DBGet", Family=HOLDER_FAMILY, Key=code)
                self.holders[code] = next((m.get("Val") for m in _messages(found)
                                           if m.get("Val")), None)
            except AMIError:
                self.holders[code] = None  # issued by a controller that did not say to whom
            adopted.append(code)
        return adopted

    async def _forget_holder(self, code: str) -> None:
        await self._delete(HOLDER_FAMILY, code)

    async def _delete(self, family: str, key: str) -> None:
        try:
            await self.ami.action("DBDel", Family=family, Key=key)
        except AMIError as e:
            if "not" not in str(e).lower():  # "Database entry not found": already gone
                raise

    async def _put(self, kind: str, key: str, fields: dict[str, str]) -> None:
        try:
            await self.ami.action("DBPut", Family=f"{ASTDB_FAMILY}/{kind}", Key=key,
                                  Val=json.dumps(fields, separators=(",", ":")))
        except AMIError as e:
            raise SoftphoneError(f"the PBX refused the softphone's {kind} {key}: "
                                 f"{e.message.get('Message', e)}") from None
