# -*- test-case-name: tests.floor.test_captions -*-
"""Live captions: the citizen's and the agent's words on the agent's desk while they talk.

When an agent answers, the controller forks each party's own voice to itself: one AMI
Originate per speaker of an ``AudioSocket/<host>:<port>/<uuid>`` channel running
``ChanSpy(<that party's channel>,qoE)`` (``o``: only what that channel says; ``q``: nobody is
told; ``E``: gone when the call is). Asterisk streams the audio to the controller's AudioSocket
server (L{hotline.floor.audiosocket}); each stream is decoded by its own recogniser over the
one loaded Vosk model (L{hotline.stt.live}) on the captions' worker threads, a stream's chunks
in order. Partial text and final segments go to the agent's desk streams as ``caption``
events, with the department the words suggest so far. The final segments are kept
(L{hotline.stt.live.LiveTranscripts}): after hang-up they become the call's transcript and
the ticket's note, without decoding the recordings again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from hotline.calls.events import CallAnswered
from hotline.directory.service import load_entries
from hotline.floor.audiosocket import AudioSink, AudioSocketFactory
from hotline.naming import caption_leg_id
from hotline.stt.jobs import Segment
from hotline.stt.keywords import KeywordSpotter
from hotline.stt.live import LiveRecognizer, LiveText

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.bus import EventBus
    from hotline.calls.tracker import CallTracker
    from hotline.stt.live import LiveTranscripts
    from hotline.stt.models import ModelRegistry

__all__ = ["LiveCaptions", "CaptionStream", "SPEAKERS"]

_log = Logger(namespace="hotline.floor.captions")

#: The two parties captioned, as the transcript names them.
SPEAKERS = ("citizen", "agent")

#: Where a caption goes: (agent interface, payload).
Push = Callable[[str, dict[str, Any]], object]


@dataclass
class _Call:
    """What the captions know of one call while it is up."""

    uniqueid: str
    interface: str
    texts: list[str] = field(default_factory=list)
    spotter: KeywordSpotter | None = None
    suggestion: dict[str, Any] | None = None
    #: The captions gave this call up (the decoders fell behind): no more decoding.
    shed: bool = False


class CaptionStream(AudioSink):
    """One speaker of one call: audio in, in chunks, to its recogniser on the worker threads."""

    def __init__(self, *, owner: LiveCaptions, call: _Call, speaker: str) -> None:
        self.owner = owner
        self.call = call
        self.speaker = speaker
        self.started = False
        self._buffer = bytearray()
        self._recognizer: LiveRecognizer | None = None
        self._chain: defer.Deferred[Any] = defer.succeed(None)
        self._ended = False
        #: Audio handed to the decoders and not decoded yet (bytes): how far behind it is.
        self.backlog_bytes = 0

    def audio(self, pcm: bytes) -> None:
        if self.call.shed:
            return
        if not self.started:
            self.started = True
            self.owner.transcripts.open(self.call.uniqueid)
        self._buffer += pcm
        if len(self._buffer) >= self.owner.chunk_bytes:
            if self.owner.behind(self):
                self.owner.shed(self.call)
                return
            self._submit(bytes(self._buffer), last=False)
            self._buffer.clear()

    def ended(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        if not self.started:
            self.owner.stream_done(self)
            return
        if not self.call.shed:
            self._submit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._chain.addBoth(lambda _: (self.owner.transcripts.close(self.call.uniqueid),
                                       self.owner.stream_done(self)))

    def _submit(self, pcm: bytes, *, last: bool) -> None:
        self.backlog_bytes += len(pcm)

        def decode(_: object) -> defer.Deferred[list[LiveText]] | list[LiveText]:
            if self.call.shed:  # given up meanwhile: what is queued is not decoded
                return []
            return deferToThreadPool(self.owner.reactor, self.owner.pool, self._decode, pcm,
                                     last)

        def decoded(texts: list[LiveText]) -> list[LiveText]:
            self.backlog_bytes -= len(pcm)
            return [] if self.call.shed else texts
        self._chain.addCallback(decode)
        self._chain.addCallback(decoded)
        self._chain.addCallback(self.owner.said, self)
        self._chain.addErrback(lambda f: _log.failure(
            "captions of {call} ({speaker}) failed", f, call=self.call.uniqueid,
            speaker=self.speaker))

    def _decode(self, pcm: bytes, last: bool) -> list[LiveText]:
        """On a worker thread: the recogniser (made on first use) over one chunk."""
        if self._recognizer is None:
            self._recognizer = LiveRecognizer(self.owner.registry.get())
        out = self._recognizer.accept(pcm)
        if last:
            out += self._recognizer.finish()
        return out


class LiveCaptions:
    """Forks every answered call's two voices to the decoder and pushes the words."""

    def __init__(self, *, ami: AMIClient, tracker: CallTracker, bus: EventBus, db: Database,
                 registry: ModelRegistry, transcripts: LiveTranscripts, reactor: Any,
                 push: Push, bind: str = "127.0.0.1", port: int = 0, host: str = "127.0.0.1",
                 workers: int = 2, chunk_ms: int = 100, shed_after_s: float = 2.0) -> None:
        """
        @param push: sends a caption to the desks of an agent interface.
        @param shed_after_s: a stream with more audio than this waiting for the decoders
            makes its call give up live captions (L{shed}); 0: never (captions lag instead).
        @param bind: the address the AudioSocket server listens on; C{host} is the one
            Asterisk connects to (the same on one machine).
        @param chunk_ms: audio handed to a recogniser at a time (latency against overhead).
        """
        self.ami = ami
        self.tracker = tracker
        self.bus = bus
        self.db = db
        self.registry = registry
        self.transcripts = transcripts
        self.reactor = reactor
        self.push = push
        self.bind = bind
        self.port = port
        self.host = host
        self.chunk_bytes = max(int(16 * chunk_ms), 320)
        self.shed_after_s = float(shed_after_s)
        self.shed_after_bytes = int(16000 * shed_after_s)
        #: Calls given up since start (for logs and the bench), and when the last one was.
        self.shed_calls = 0
        self._last_shed: float | None = None
        self.pool = ThreadPool(minthreads=0, maxthreads=max(int(workers), 1),
                               name="hotline-captions")
        self._listening: IListeningPort | None = None
        #: Whether the model could be loaded: without it no call is forked.
        self.ready = False
        self._expected: dict[uuid.UUID, CaptionStream] = {}
        self._subs: list[Any] = []

    @property
    def address(self) -> tuple[str, int]:
        """Where Asterisk reaches the server (the port actually bound, with port 0)."""
        port = self._listening.getHost().port if self._listening is not None else self.port
        return self.host, port

    async def start(self) -> None:
        """Load the model (once, on a worker), listen for AudioSocket streams and caption
        every call answered from now on; without a model, say so once and caption nothing."""
        from hotline.stt.models import ModelError

        self.pool.start()
        try:
            await deferToThreadPool(self.reactor, self.pool, self.registry.get)
            self.ready = True
        except ModelError as e:
            _log.error("live captions off: {problem}", problem=str(e))
            return
        self._listening = self.reactor.listenTCP(
            self.port, AudioSocketFactory(lambda stream_id: self.sink_for(stream_id)),
            interface=self.bind)
        if not self._subs:
            self._subs = self.bus.subscribe_all({CallAnswered: self._answered})
        _log.info("live captions: AudioSocket on {bind}:{port}", bind=self.bind,
                  port=self.address[1])

    async def stop(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []
        if self._listening is not None:
            port, self._listening = self._listening, None
            await port.stopListening()
        from twisted.internet import threads
        await threads.deferToThread(self.pool.stop)

    # -- streams ---------------------------------------------------------------------------

    def expect(self, call: _Call, speaker: str) -> uuid.UUID:
        """A stream of C{speaker} of C{call} that may connect now; returns its UUID."""
        stream_id = uuid.uuid4()
        self._expected[stream_id] = CaptionStream(owner=self, call=call, speaker=speaker)
        return stream_id

    def sink_for(self, stream_id: uuid.UUID) -> AudioSink | None:
        return self._expected.get(stream_id)

    def stream_done(self, stream: CaptionStream) -> None:
        for key, value in list(self._expected.items()):
            if value is stream:
                del self._expected[key]

    def behind(self, stream: CaptionStream) -> bool:
        """Whether C{stream}'s call should give its captions up: its decoding is so far
        behind its audio (more than C{shed_after_s} waiting) that they would come too late.

        One call at a time: the decoders are shared, so under overload every stream falls
        behind at once; after a call is given up the others get C{shed_after_s} to catch up
        with what it freed before the next goes, and the last captioned call is kept."""
        if not 0 < self.shed_after_bytes < stream.backlog_bytes:
            return False
        now = self.reactor.seconds()
        if self._last_shed is not None and now - self._last_shed < self.shed_after_s:
            return False
        captioned = {s.call.uniqueid for s in self._expected.values() if not s.call.shed}
        return len(captioned) > 1

    def shed(self, call: _Call) -> None:
        """Give up live captions of C{call} under overload, rather than let every call's
        captions lag: its streams stop decoding (what is queued is dropped), the desk is
        told, and its transcript and note come from its recordings after hang-up, as without
        captions. The calls still captioned catch up with the decoders freed."""
        if call.shed:
            return
        call.shed = True
        self.shed_calls += 1
        self._last_shed = self.reactor.seconds()
        self.transcripts.give_up(call.uniqueid)
        _log.warn("live captions of {call} given up: the decoders are {s:.1f} s behind",
                  call=call.uniqueid, s=self.shed_after_bytes / 16000)
        self.push(call.interface, {
            "call": call.uniqueid, "kind": "shed", "speaker": "", "text": "",
            "note": "系统繁忙，实时字幕已停止；挂机后由录音生成转写",
            "sent_at": self.reactor.seconds()})

    def said(self, texts: list[LiveText], stream: CaptionStream) -> None:
        """On the reactor: what a recogniser made of a chunk, to the desk and the record."""
        call = stream.call
        for t in texts:
            payload: dict[str, Any] = {
                "call": call.uniqueid, "speaker": stream.speaker, "kind": t.kind,
                "text": t.text, "start_s": round(t.start_s, 2), "end_s": round(t.end_s, 2),
                "fed_s": round(t.fed_s, 3), "sent_at": self.reactor.seconds()}
            if t.kind == "final":
                self.transcripts.add(call.uniqueid, Segment(stream.speaker, t.start_s, t.end_s,
                                                            t.text, t.confidence))
                call.texts.append(t.text)
                if call.spotter is not None and len(call.spotter):
                    found = call.spotter.suggest(" ".join(call.texts))
                    if found is not None:
                        call.suggestion = found.as_dict()
                payload["suggestion"] = call.suggestion
            self.push(call.interface, payload)

    # -- calls -----------------------------------------------------------------------------

    def _answered(self, event: CallAnswered) -> defer.Deferred[None] | None:
        live = self.tracker.calls.get(event.uniqueid)
        if not self.ready or live is None or not event.agent_channel or not event.agent_interface:
            return None
        call = _Call(uniqueid=event.uniqueid, interface=event.agent_interface)
        targets = {"citizen": live.channel, "agent": event.agent_channel}
        return defer.ensureDeferred(self._fork(call, targets))

    async def _fork(self, call: _Call, targets: dict[str, str]) -> None:
        host, port = self.address
        for speaker in SPEAKERS:
            stream_id = self.expect(call, speaker)
            try:
                await self.ami.action(
                    "Originate", Channel=f"AudioSocket/{host}:{port}/{stream_id}",
                    Application="ChanSpy", Data=f"{targets[speaker]},qoE", Async="true",
                    ChannelId=caption_leg_id(speaker), Timeout="5000")
            except Exception as e:  # the call goes on without captions
                self._expected.pop(stream_id, None)
                _log.warn("no live captions of {speaker} on {call}: {error}",
                          speaker=speaker, call=call.uniqueid, error=e)
        try:
            call.spotter = KeywordSpotter(await self.db.run(load_entries))
        except Exception:  # noqa: BLE001 - captions without a suggestion are still captions
            _log.failure("captions of {call}: the directory's keywords are unavailable",
                         call=call.uniqueid)
