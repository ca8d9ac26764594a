"""Tests for L{hotline.ami.client}: login, resync, reconnect, link-loss policy, dispatch."""

import hashlib

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami.actions import Action, ActionIdGenerator, AMIConnectionLost
from hotline.ami.client import AMIClient
from tests.ami.replay import TranscriptReplay

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


class FakeLink:
    """One connection the client made through the MemoryReactor, with Asterisk's side in hand."""

    def __init__(self, reactor, index):
        factory = reactor.tcpClients[index][2]
        self.proto = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)

    def sent(self):
        data = self.transport.value()
        self.transport.clear()
        return data

    def feed(self, data):
        self.proto.dataReceived(data)

    def reply(self, action_id, extra=b""):
        self.feed(b"Response: Success\r\nActionID: " + action_id.encode() + b"\r\n" + extra
                  + b"\r\n")

    def drop(self):
        self.proto.connectionLost(Failure(ConnectionDone()))


class ClientTests(SynchronousTestCase):
    """The client logs in, resyncs, survives link loss and dispatches events."""

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.ids = ActionIdGenerator("t")

    def make(self, **kw):
        kw.setdefault("auth", "plain")
        client = AMIClient(host="pbx.test", port=5038, username="hotline", secret="s3cret",
                           reactor=self.reactor, id_generator=self.ids, **kw)
        client.start()
        self.addCleanup(lambda: client.stop() and None)
        return client

    def login(self, link, first_id=1):
        link.feed(BANNER)
        self.assertIn(b"Action: Login", link.sent())
        link.reply(f"t-{first_id}")

    def test_plain_login(self):
        """Plain login sends Username and Secret, then the client is ready."""
        client = self.make()
        self.assertEqual(self.reactor.tcpClients[0][:2], ("pbx.test", 5038))
        link = FakeLink(self.reactor, 0)
        ready = client.when_ready()
        self.assertEqual(link.sent(), b"Action: Login\r\nActionID: t-1\r\nUsername: hotline\r\n"
                                      b"Secret: s3cret\r\nEvents: on\r\n\r\n")
        self.assertNoResult(ready)
        link.reply("t-1", b"Message: Authentication accepted\r\n")
        self.assertIs(self.successResultOf(ready), client)
        self.assertTrue(client.ready)

    def test_md5_login(self):
        """MD5 login asks for a challenge and sends md5(challenge + secret), never the secret."""
        client = self.make(auth="md5")
        link = FakeLink(self.reactor, 0)
        self.assertEqual(link.sent(), b"Action: Challenge\r\nActionID: t-1\r\nAuthType: MD5\r\n\r\n")
        link.reply("t-1", b"Challenge: 840415273\r\n")
        key = hashlib.md5(b"840415273s3cret").hexdigest().encode()
        sent = link.sent()
        self.assertIn(b"Key: " + key, sent)
        self.assertNotIn(b"s3cret", sent)
        link.reply("t-2")
        self.assertTrue(client.ready)

    def test_failed_login_reconnects_later(self):
        """A refused login closes the link and the service tries again after a backoff."""
        client = self.make()
        link = FakeLink(self.reactor, 0)
        link.sent()
        link.feed(b"Response: Error\r\nActionID: t-1\r\nMessage: Authentication failed\r\n\r\n")
        self.assertTrue(link.transport.disconnecting)
        self.assertFalse(client.ready)
        link.drop()
        self.reactor.advance(3)
        self.assertEqual(len(self.reactor.tcpClients), 2)

    def test_resync_runs_after_every_reconnect(self):
        """Resync hooks run before ready, after the first login and again after a reconnect."""
        client = self.make(keepalive_interval=None)
        runs = []

        @client.add_resync_hook
        async def resync(c):
            runs.append(await c.action("CoreShowChannels"))

        readies = []
        client.on_ready(readies.append)
        for index, first in ((0, 1), (1, 3)):
            link = FakeLink(self.reactor, index)
            link.reply(f"t-{first}")
            self.assertFalse(client.ready)
            self.assertIn(b"Action: CoreShowChannels", link.sent())
            link.feed(f"Response: Success\r\nActionID: t-{first + 1}\r\nEventList: start\r\n\r\n"
                      f"Event: CoreShowChannelsComplete\r\nActionID: t-{first + 1}\r\n"
                      "EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
            self.assertTrue(client.ready)
            self.assertEqual(len(runs), index + 1)
            self.assertEqual(len(readies), index + 1)
            if index == 0:
                link.drop()
                self.assertFalse(client.ready)
                self.reactor.advance(2)
                self.assertEqual(len(self.reactor.tcpClients), 2)

    def test_resync_cut_by_link_loss_waits_quietly(self):
        """A resync whose link drops (and stays down) logs one warning with the reason, no
        critical traceback, runs no further hook, and resyncs again at the next login."""
        events = []
        client = self.make(keepalive_interval=None, action_timeout=5.0)
        client._log = Logger(namespace="hotline.ami.client", observer=events.append)
        runs = []

        @client.add_resync_hook
        async def channels(c):
            runs.append("channels")
            await c.action("CoreShowChannels")

        @client.add_resync_hook
        def queues(c):
            runs.append("queues")

        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        self.assertIn(b"Action: CoreShowChannels", link.sent())
        link.drop()
        self.reactor.advance(30)  # the parked read-only action gives up: the link stayed down
        levels = [e["log_level"] for e in events]
        self.assertNotIn(LogLevel.critical, levels)
        self.assertNotIn(LogLevel.error, levels)
        warnings = [formatEvent(e) for e in events if e["log_level"] == LogLevel.warn]
        resync = [w for w in warnings if "resync" in w]
        self.assertEqual(len(resync), 1, warnings)
        self.assertIn("link", resync[0])
        self.assertEqual(runs, ["channels"])
        self.assertFalse(client.ready)

        index = len(self.reactor.tcpClients) - 1
        again = FakeLink(self.reactor, index)
        again.reply(again.sent().split(b"ActionID: ")[1].split(b"\r\n")[0].decode())
        sent = again.sent()
        self.assertIn(b"Action: CoreShowChannels", sent)
        action_id = sent.split(b"ActionID: ")[1].split(b"\r\n")[0].decode()
        again.feed(f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n\r\n"
                   f"Event: CoreShowChannelsComplete\r\nActionID: {action_id}\r\n"
                   "EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
        self.assertTrue(client.ready)
        self.assertEqual(runs, ["channels", "channels", "queues"])

    def test_link_loss_policy(self):
        """On link loss Originate fails with AMIConnectionLost while Ping is resent after login."""
        client = self.make(keepalive_interval=None)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        originate = client.send_action(Action("Originate", Channel="PJSIP/8001",
                                              id_generator=self.ids))
        ping = client.send_action(Action("Ping", id_generator=self.ids))
        link.drop()
        error = self.failureResultOf(originate, AMIConnectionLost).value
        self.assertIn("Originate", str(error))
        self.assertNoResult(ping)
        hangup = client.send_action(Action("Hangup", Channel="x", id_generator=self.ids))
        self.failureResultOf(hangup, AMIConnectionLost)
        self.reactor.advance(2)
        link2 = FakeLink(self.reactor, 1)
        link2.reply("t-6")
        self.assertIn(b"Action: Ping\r\nActionID: t-4", link2.sent())
        link2.reply("t-4", b"Ping: Pong\r\n")
        self.assertEqual(self.successResultOf(ping)["Ping"], "Pong")

    def test_retry_only_once(self):
        """A read-only action lost twice fails the second time."""
        client = self.make(keepalive_interval=None)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        ping = client.send_action(Action("Ping", id_generator=self.ids))
        link.drop()
        self.reactor.advance(2)
        link2 = FakeLink(self.reactor, 1)
        link2.reply("t-4")
        link2.drop()
        self.failureResultOf(ping, AMIConnectionLost)

    def test_parked_action_times_out(self):
        """A read-only action waiting for a link that never returns fails, leaving no timer."""
        client = self.make(keepalive_interval=None, action_timeout=5,
                           retry_policy=lambda attempt: 3600)
        ping = client.send_action(Action("Ping", id_generator=self.ids))
        self.assertNoResult(ping)
        self.reactor.advance(5)
        self.failureResultOf(ping, AMIConnectionLost)

    def test_keepalive_drops_dead_link(self):
        """An unanswered keepalive Ping drops the link so the service reconnects."""
        self.make(keepalive_interval=10, action_timeout=5)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        link.sent()
        self.reactor.advance(10)
        self.assertIn(b"Action: Ping", link.sent())
        self.reactor.advance(5)
        self.assertTrue(link.transport.disconnecting)

    def test_subscribe_by_name_glob_and_filter(self):
        """Events reach exact-name, glob and predicate subscribers; unsubscribe stops one."""
        client = self.make(keepalive_interval=None)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        got = []
        hangups = client.subscribe("hangup", lambda m: got.append(("name", m.name)))

        @client.subscribe("Queue*")
        def queues(m):
            got.append(("glob", m.name))

        client.subscribe(lambda m: m.get("Uniqueid") == "9", lambda m: got.append(("f", m.name)))
        link.feed(b"Event: Hangup\r\nUniqueid: 9\r\n\r\nEvent: QueueCallerJoin\r\n\r\n")
        self.assertEqual(got, [("name", "Hangup"), ("f", "Hangup"), ("glob", "QueueCallerJoin")])
        hangups.unsubscribe()
        queues.unsubscribe()
        got.clear()
        link.feed(b"Event: Hangup\r\n\r\nEvent: QueueCallerLeave\r\n\r\n")
        self.assertEqual(got, [])

    def test_failing_handlers_do_not_stop_dispatch(self):
        """A handler that raises, sync or async, is logged and the others still run."""
        client = self.make(keepalive_interval=None)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        got = []

        @client.subscribe("*")
        def broken(m):
            raise RuntimeError("sync boom")

        @client.subscribe("Hangup")
        async def broken_async(m):
            raise RuntimeError("async boom")

        client.subscribe("Hangup", lambda m: got.append(m["Uniqueid"]))
        link.feed(b"Event: Hangup\r\nUniqueid: 1.5\r\n\r\n")
        self.assertEqual(got, ["1.5"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_stop_leaves_no_timers(self):
        """Stopping the client cancels keepalive and retries: no DelayedCall is left."""
        client = self.make(keepalive_interval=10)
        link = FakeLink(self.reactor, 0)
        link.reply("t-1")
        client.stop()
        link.drop()
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class TranscriptTests(SynchronousTestCase):
    """Sessions recorded from the sandbox (tests/ami/record_scenarios.py) replay byte for byte,
    in every chunk size."""

    def test_md5_login_and_resync(self):
        """The MD5 login and the live view's resync replay; the resync finds the citizen
        talking with agent 1004 and the agent in the queue; FullyBooted is dispatched once."""
        from hotline.calls.model import CallState
        from hotline.calls.tracker import CallTracker
        from tests.support.ami_recorder import REPLAY_SECRET, REPLAY_USERNAME

        for size in (None, *range(1, 10)):
            reactor = MemoryReactorClock()
            client = AMIClient(host="pbx", username=REPLAY_USERNAME, secret=REPLAY_SECRET,
                               reactor=reactor, id_generator=ActionIdGenerator("t"),
                               keepalive_interval=None)
            tracker = CallTracker(ami=client, clock=reactor, queue_name="hotline")
            tracker.subscribe()
            resynced = []
            client.on_ready(lambda c, resynced=resynced, tracker=tracker: resynced.append(
                [(call.caller, call.state, call.agent_interface)
                 for call in tracker.calls.values()]))
            booted = []
            client.subscribe("FullyBooted", booted.append)
            client.start()
            link = FakeLink(reactor, 0)
            replay = TranscriptReplay("login_md5_resync.txt", chunk_size=size)
            self.assertTrue(replay.pump(link.proto, link.transport))
            self.assertTrue(client.ready)
            self.assertEqual(resynced, [[("13812345007", CallState.TALKING,
                                          "PJSIP/agent-1004")]])
            self.assertIn("PJSIP/agent-1004", tracker.agents)
            self.assertEqual(len(booted), 1)
            tracker.stop()
            client.stop()

    def test_command_and_refused_originate(self):
        """Command output arrives as lines; a refused Originate fails with AMIError."""
        from hotline.ami.actions import AMIError
        from tests.support.ami_recorder import REPLAY_SECRET, REPLAY_USERNAME

        reactor = MemoryReactorClock()
        client = AMIClient(host="pbx", username=REPLAY_USERNAME, secret=REPLAY_SECRET,
                           reactor=reactor, auth="plain", id_generator=ActionIdGenerator("t"),
                           keepalive_interval=None)
        client.start()
        self.addCleanup(lambda: client.stop() and None)
        link = FakeLink(reactor, 0)
        replay = TranscriptReplay("command_originate.txt", chunk_size=3)
        self.assertFalse(replay.pump(link.proto, link.transport))
        command = client.send_action(Action("Command", Command="core show channels count",
                                            id_generator=client.ids))
        self.assertFalse(replay.pump(link.proto, link.transport))
        originate = client.send_action(Action("Originate", Channel="PJSIP/9999",
                                              Context="hotline-callback", Exten="s", Priority=1,
                                              id_generator=client.ids))
        self.assertTrue(replay.pump(link.proto, link.transport))
        replay.assert_finished()
        self.assertEqual(self.successResultOf(command).output[2], "1 call processed")
        self.assertEqual(self.failureResultOf(originate, AMIError).value.message["Message"],
                         "Originate failed")


class EventFilterTests(SynchronousTestCase):
    """With C{event_filter}, the client asks the PBX for the events it subscribed, at each
    login before the resync; a refusal opens the session to every event again."""

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.ids = ActionIdGenerator("t")

    def make(self, event_filter=True, **kw):
        client = AMIClient(host="pbx.test", port=5038, username="hotline", secret="s3cret",
                           reactor=self.reactor, id_generator=self.ids, auth="plain",
                           keepalive_interval=None, event_filter=event_filter, **kw)
        client.start()
        self.addCleanup(lambda: client.stop() and None)
        return client

    def logged_in(self):
        """The client's link to the fake PBX, its login accepted."""
        link = FakeLink(self.reactor, 0)
        link.sent()
        link.reply("t-1")
        return link

    def acknowledge(self, link, *expected):
        """Check that the filters C{expected} (criteria, expression) were just asked for,
        in order, and accept them."""
        sent = self.filters(link.sent())
        self.assertEqual([f[:2] for f in sent], list(expected))
        for f in sent:
            link.reply(f[2])

    @staticmethod
    def filters(sent):
        """The (MatchCriteria, Filter) of every Filter action in C{sent}, in order."""
        out = []
        for block in sent.split(b"\r\n\r\n"):
            headers = dict(line.split(b": ", 1) for line in block.split(b"\r\n") if b": " in line)
            if headers.get(b"Action") == b"Filter":
                out.append((headers.get(b"MatchCriteria", b"").decode(),
                            headers.get(b"Filter", b"").decode(), headers[b"ActionID"].decode()))
        return out

    def test_login_asks_for_the_subscribed_events_before_the_resync(self):
        """One include filter per name, narrowed where a subscription says C{only}; the
        resync hook runs once every filter is answered."""
        client = self.make()
        client.subscribe("Hangup", lambda m: None)
        client.subscribe("VarSet", lambda m: None, only=("Variable", "^HOTLINE_CALL_ID$"))
        hooked = []
        client.add_resync_hook(lambda c: hooked.append(True))
        link = self.logged_in()
        sent = self.filters(link.sent())
        self.assertEqual([f[:2] for f in sent], [("action(include),name(Hangup)", "")])
        self.assertEqual(hooked, [])
        link.reply(sent[0][2])
        sent = self.filters(link.sent())
        self.assertEqual([f[:2] for f in sent], [
            ("action(include),name(VarSet),header(Variable),method(regex)",
             "^HOTLINE_CALL_ID$")])
        self.assertEqual(hooked, [])
        link.reply(sent[0][2])
        self.assertEqual(hooked, [True])
        self.assertTrue(client.ready)

    def test_a_later_subscription_is_asked_for_at_once(self):
        """A name subscribed while the session is filtered gets its filter without waiting
        for the next login; a glob opens the session to every event."""
        client = self.make()
        client.subscribe("Hangup", lambda m: None)
        link = self.logged_in()
        link.reply(self.filters(link.sent())[0][2])
        self.assertTrue(client.ready)
        client.subscribe("UserEvent", lambda m: None)
        self.acknowledge(link, ("action(include),name(UserEvent)", ""))
        client.subscribe("Queue*", lambda m: None)
        self.acknowledge(link, ("", ".*"))

    def test_a_refused_filter_opens_the_session_to_every_event(self):
        """A PBX that refuses a filter (no C{system} permission, an old Asterisk) gets an
        include-everything filter, so the filters already added drop nothing; the client is
        ready and logs why."""
        client = self.make()
        client.subscribe("Hangup", lambda m: None)
        client.subscribe("Newchannel", lambda m: None)
        link = self.logged_in()
        first = self.filters(link.sent())
        link.reply(first[0][2])
        second = self.filters(link.sent())
        self.assertEqual(second[0][0], "action(include),name(Newchannel)")
        link.feed(b"Response: Error\r\nActionID: " + second[0][2].encode()
                  + b"\r\nMessage: Permission denied\r\n\r\n")
        opened = self.filters(link.sent())
        self.assertEqual([f[:2] for f in opened], [("", ".*")])
        link.reply(opened[0][2])
        self.assertTrue(client.ready)
        client.subscribe("UserEvent", lambda m: None)
        self.assertEqual(self.filters(link.sent()), [])

    def test_no_filter_for_a_glob_or_predicate_nor_without_the_option(self):
        """No filter is asked for while something wants every event, nor by a client made
        without C{event_filter} (peers, tools and benches: the default)."""
        for glob, event_filter in ((True, True), (False, False)):
            self.reactor, self.ids = MemoryReactorClock(), ActionIdGenerator("t")
            client = self.make(event_filter=event_filter)
            client.subscribe("Hangup", lambda m: None)
            if glob:
                client.subscribe("*", lambda m: None)
            link = FakeLink(self.reactor, 0)
            link.sent()
            link.reply("t-1")
            self.assertEqual(self.filters(link.sent()), [])
            self.assertTrue(client.ready)

    def test_nothing_subscribed_at_login_then_a_name(self):
        """A session that started with no subscription gets every event until the first
        name is subscribed, then only what is subscribed; a name the criteria cannot carry
        opens it to every event."""
        client = self.make()
        link = self.logged_in()
        self.assertEqual(self.filters(link.sent()), [])
        self.assertTrue(client.ready)
        client.subscribe("Hangup", lambda m: None)
        self.acknowledge(link, ("action(include),name(Hangup)", ""))
        client.subscribe("Odd(name)", lambda m: None)
        self.acknowledge(link, ("", ".*"))

    def test_a_pbx_refusing_the_first_filter_is_not_asked_again(self):
        """Refused at once (the AMI user lacks C{system}): nothing to undo, the session is
        ready with every event, and the next login asks for no filter at all (no loop of
        refusals and reconnects)."""
        client = self.make()
        client.subscribe("Hangup", lambda m: None)
        link = self.logged_in()
        first = self.filters(link.sent())
        link.feed(b"Response: Error\r\nActionID: " + first[0][2].encode()
                  + b"\r\nMessage: Permission denied\r\n\r\n")
        self.assertEqual(self.filters(link.sent()), [])
        self.assertTrue(client.ready)
        link.drop()
        self.reactor.advance(2)
        again = FakeLink(self.reactor, 1)
        self.assertIn(b"Action: Login", again.sent())
        again.reply("t-3")
        self.assertEqual(self.filters(again.sent()), [])
        self.assertTrue(client.ready)
