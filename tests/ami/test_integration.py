"""The AMI client against the real Asterisk 22 of the PBX sandbox."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from hotline.ami.actions import AMIActionTimeout, AMIConnectionLost, AMIError
from hotline.ami.client import AMIClient
from hotline.ami.message import Message
from hotline.pbx.sandbox import Sandbox
from tests.support.pbx import ami_client
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx


async def _wait_booted(sandbox: Sandbox, timeout: float = 30.0) -> None:
    """Wait, without blocking the reactor, until the PBX answers its CLI again."""
    from twisted.internet import threads
    waited = 0.0
    while True:
        try:
            await threads.deferToThread(sandbox.cli, "pbx", "core waitfullybooted")
            return
        except Exception:
            if waited > timeout:
                raise
            await sleep(0.2)
            waited += 0.2


@pytest.fixture
def clients():
    made: list[AMIClient] = []
    yield made
    for c in made:
        pytest_twisted.blockon(c.stop())


@pytest_twisted.ensureDeferred
async def test_md5_and_plain_login_then_ping(pbx_sandbox: Sandbox, clients):
    """Both login methods are accepted by Asterisk 22 and a Ping is answered."""
    for auth in ("md5", "plain"):
        client = ami_client(pbx_sandbox, auth=auth)
        clients.append(client)
        client.start()
        await client.when_ready()
        reply = await client.action("Ping")
        assert reply["Response"] == "Success"


@pytest_twisted.ensureDeferred
async def test_wrong_secret_never_becomes_ready(pbx_sandbox: Sandbox, clients):
    """A refused login does not make the client ready, and actions fail instead of hanging."""
    creds = pbx_sandbox.secrets()["pbx_ami"]
    client = AMIClient(username=creds["username"], secret="wrong", host="127.0.0.1",
                       port=pbx_sandbox.config["pbx"]["ami_port"], reactor=reactor,
                       action_timeout=1.0)
    clients.append(client)
    client.start()
    await sleep(1.0)
    assert not client.ready
    with pytest.raises(AMIConnectionLost):
        await client.action("Originate", Channel="Local/1@x", Application="Wait", Data="1")


@pytest_twisted.ensureDeferred
async def test_real_call_events_originate_and_list_action(pbx_sandbox: Sandbox, clients):
    """A citizen's call from the city shows up as events, and CoreShowChannels lists it."""
    pbx, city = ami_client(pbx_sandbox), ami_client(pbx_sandbox, "city")
    clients.extend([pbx, city])
    pbx.start()
    city.start()
    await defer.gatherResults([pbx.when_ready(), city.when_ready()])
    seen: list[Message] = []
    pbx.subscribe(lambda m: m.get("CallerIDNum") == "13612345678", seen.append)

    reply = await city.action("Originate", Channel="PJSIP/83658365@hotline",
                              Application="Wait", Data="3", CallerID="<13612345678>",
                              Timeout="10000", Async="true", ChannelId="ami-it-citizen-1")
    assert reply["Response"] == "Success"
    await until(lambda: any(m.name == "Newexten" and m["Context"] == "inbound"
                                for m in seen))
    listed = await pbx.action("CoreShowChannels")
    assert isinstance(listed, list)
    assert listed[0]["EventList"].lower() == "start"
    assert listed[-1].name == "CoreShowChannelsComplete"
    channels = [m for m in listed if m.name == "CoreShowChannel"]
    assert any(m["CallerIDNum"] == "13612345678" for m in channels)
    await until(lambda: any(m.name == "Hangup" for m in seen), timeout=20)
    names = {m.name for m in seen}
    assert {"Newchannel", "Newexten", "Hangup"} <= names


@pytest_twisted.ensureDeferred
async def test_filtered_session_gets_only_the_subscribed_events(pbx_sandbox: Sandbox, clients):
    """With C{event_filter}, Asterisk 22 sends the session the subscribed events, narrowed by
    header, and nothing else; list actions still come back whole."""
    client = ami_client(pbx_sandbox, event_filter=True)
    clients.append(client)
    variables: list[str] = []
    ends: list[str] = []
    client.subscribe("VarSet", lambda m: variables.append(m["Variable"]),
                     only=("Variable", "^_{0,2}HOTLINE_IT_KEEP$"))
    client.subscribe("Hangup", lambda m: ends.append(m["Uniqueid"]))
    client.start()
    await client.when_ready()
    before = {m.name for m in await client.action("CoreShowChannels")}
    assert "CoreShowChannelsComplete" in before
    await client.action("Originate", Channel="Local/1@from-agent", Application="Wait",
                        Data="1", Variable="HOTLINE_IT_KEEP=1,__HOTLINE_IT_KEEP=2,HOTLINE_IT_DROP=3",
                        Async="true", ChannelId="ami-it-filter-1", OtherChannelId="ami-it-filter-2")
    await until(lambda: "ami-it-filter-1" in ends, timeout=20)
    assert "HOTLINE_IT_KEEP" in variables and "__HOTLINE_IT_KEEP" in variables
    assert "HOTLINE_IT_DROP" not in variables
    assert set(variables) <= {"HOTLINE_IT_KEEP", "__HOTLINE_IT_KEEP"}


@pytest_twisted.ensureDeferred
async def test_error_reply_fails_the_deferred(pbx_sandbox: Sandbox, clients):
    """An action Asterisk refuses fails with AMIError carrying Asterisk's message."""
    client = ami_client(pbx_sandbox)
    clients.append(client)
    client.start()
    await client.when_ready()
    with pytest.raises(AMIError) as e:
        await client.action("Hangup", Channel="PJSIP/no-such-channel-0000")
    assert "No such channel" in str(e.value)


@pytest_twisted.ensureDeferred
async def test_reconnects_and_resyncs_after_asterisk_restart(pbx_sandbox: Sandbox, clients):
    """After the PBX restarts, the client logs in again by itself and runs its resync hooks."""
    client = ami_client(pbx_sandbox, keepalive_interval=1.0)
    clients.append(client)
    resyncs: list[int] = []

    async def resync(c: AMIClient) -> None:
        listed = await c.action("CoreShowChannels")
        resyncs.append(len(listed))

    client.add_resync_hook(resync)
    client.start()
    await client.when_ready()
    assert len(resyncs) == 1
    from twisted.internet import threads
    await threads.deferToThread(pbx_sandbox.cli, "pbx", "core restart now")
    await until(lambda: not client.ready, timeout=15)
    await _wait_booted(pbx_sandbox)
    await until(lambda: client.ready and len(resyncs) >= 2, timeout=30)
    reply = await client.action("Ping")
    assert reply["Response"] == "Success"


@pytest_twisted.ensureDeferred
async def test_message_over_64_kib_is_read_and_the_link_stays_up(pbx_sandbox: Sandbox, clients):
    """A reply of several hundred KiB from the real Asterisk (Command output listing an AstDB
    family) is parsed whole; with a lower cap it is skipped and the same link answers a Ping."""
    client = ami_client(pbx_sandbox, action_timeout=10.0)
    capped = ami_client(pbx_sandbox, action_timeout=2.0, max_message=32 * 1024)
    clients.extend([client, capped])
    client.start()
    capped.start()
    await defer.gatherResults([client.when_ready(), capped.when_ready()])
    family = "hotline-test-big"
    value = "x" * 900
    try:
        for i in range(300):
            await client.action("DBPut", Family=family, Key=f"k{i:04d}", Val=value)
        reply = await client.action("Command", Command=f"database show {family}")
        text = reply.get("Output") or ""
        output = "\n".join(text) if isinstance(text, list) else text
        assert output.count(value) == 300
        assert sum(len(line) for line in output.splitlines()) > 256 * 1024
        assert client.ready and client.protocol is not None
        lost = client.protocol.when_lost()
        assert not lost.called

        with pytest.raises(AMIActionTimeout):  # its one reply was skipped
            await capped.action("Command", Command=f"database show {family}")
        assert capped.ready
        assert (await capped.action("Ping"))["Response"] == "Success"
    finally:
        await client.action("DBDelTree", Family=family)
