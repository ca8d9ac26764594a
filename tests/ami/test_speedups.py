"""The compiled reader (hotline/ami/_speedups.c) against its Python twins, on generated input.

Each compiled function must give the very answer its twin gives (the twins are the reference:
protocol.frame_messages, message.header_in_frame), on Asterisk-shaped frames and on bytes no
Asterisk sends; and it must be the one the reader uses, so a build that failed cannot hide
behind the slower twin.
"""

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami import message as message_module
from hotline.ami import protocol as protocol_module
from hotline.ami.message import Message, header_in_frame
from hotline.ami.protocol import frame_messages

try:
    from hotline.ami import _speedups
except ImportError:  # reported by test_the_reader_uses_the_compiled_steps
    _speedups = None

#: Header names as Asterisk spells them, the same names in other spellings, names with the
#: letter that U+212A KELVIN SIGN lowers to, and names no header should have.
NAMES = ["Uniqueid", "UNIQUEID", "uniqueid", "UniqueID", "Event", "event", "Response",
         "ChanVariable", "Linkedid", "Kind", "KIND", "kind", "Links", "Bank", "X-k",
         "İd", "名字", "a:b", "a\r\nb", "", "N" * 129, "N" * 128, "Ki"]
#: Values: plain, empty, Chinese, a Kelvin sign, a dotted capital I, one with a colon.
VALUES = ["1700000000.1", "", "张三", "K", "\u212a", "İ", "a: b", "x\x00y", " lead"]

header_lines = st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)).map(
    lambda nv: f"{nv[0]}: {nv[1]}"
)
odd_lines = st.sampled_from(["", "no colon", ":", " : x", "Uniqueid:x", "Uniqueid :x",
                             "uniqueid:  y", "\u212aind: 7", "KİND: 8"])
frames_text = st.lists(st.one_of(header_lines, odd_lines), min_size=0, max_size=8).map(
    "\r\n".join
)
frames_bytes = st.one_of(
    frames_text.map(lambda t: t.encode("utf-8")),
    frames_text.map(lambda t: t.encode("gb18030")),
    st.binary(max_size=200),
)
query_names = st.one_of(st.sampled_from(NAMES), st.text(max_size=6))

#: Pieces a buffer is made of: frames of either kind, separators, stray line endings, bytes.
first_lines = st.sampled_from(["Event: Newchannel", "Event: ", "Event: 张三", "Response: Success",
                               "Response: Error", "Output: x", "event: lower", "Junk", ""])
buffer_pieces = st.one_of(
    st.tuples(first_lines, frames_text).map(
        lambda ft: (ft[0] + ("\r\n" + ft[1] if ft[1] else "")).encode("utf-8")
    ),
    st.sampled_from([b"\r\n\r\n", b"\r\n", b"\n", b"\r", b"\n\n", b"\r\n\r\n\r\n", b"\xff",
                     "Event: 名".encode("gb18030")]),
    st.binary(max_size=40),
)
buffers = st.lists(buffer_pieces, max_size=12).map(b"".join)


def _outcome(function, *args):
    """What a call gives, or the type of what it raised, comparable between the twins."""
    try:
        result = function(*args)
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return ("raised", type(e))
    return ("gave", _comparable(result))


def _comparable(result):
    if isinstance(result, tuple):
        items, rest = result
        return ([(type(i).__name__, i.raw, i.event, i._frame) if isinstance(i, Message) else i
                 for i in items], rest)
    return result


class Recording:
    """A message type that records how it was called, to compare the twins' calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, text, event, frame):
        self.calls.append((text, event, frame))
        return Message(text, event, frame)


class CompiledTests(SynchronousTestCase):
    def setUp(self):
        if _speedups is None:
            self.fail("hotline.ami._speedups is not built: `make venv` (pip install -e .) "
                      "compiles it, and needs a C compiler")

    def test_the_reader_uses_the_compiled_steps(self):
        self.assertIs(protocol_module._frame_messages, _speedups.frame_messages)
        self.assertIs(message_module._header_in_frame, _speedups.header_in_frame)

    @settings(max_examples=1500, deadline=None)
    @given(frames_bytes, query_names)
    def test_header_in_frame_answers_as_its_twin(self, frame, name):
        self.assertEqual(_outcome(_speedups.header_in_frame, frame, name),
                         _outcome(header_in_frame, frame, name))

    @settings(max_examples=1500, deadline=None)
    @given(buffers, st.sampled_from([0, 5, 30, 4 * 1024 * 1024]))
    def test_frame_messages_answers_as_its_twin(self, buffer, max_length):
        compiled, twin = Recording(), Recording()
        outcome = _outcome(_speedups.frame_messages, buffer, compiled, max_length)
        self.assertEqual(outcome, _outcome(frame_messages, buffer, twin, max_length))
        if outcome != ("gave", None):
            # (With a bare LF further on, the compiled pass may have built messages before it
            # met it, all dropped: the message type is a plain constructor.)
            self.assertEqual(compiled.calls, twin.calls)

    def test_the_bench_stream_frames_as_its_twin_does(self):
        """Asterisk-shaped traffic: the events bench.ami streams, cut mid-message."""
        from bench.peers.ami_server import build_events

        data = build_events(400)
        for cut in (len(data), len(data) - 17):
            self.assertEqual(_comparable(_speedups.frame_messages(data[:cut], Message, 4096)),
                             _comparable(frame_messages(data[:cut], Message, 4096)))
        items, rest = _speedups.frame_messages(data, Message, 4096)
        self.assertEqual((len(items), rest), (400, b""))
        self.assertEqual([m.get("Uniqueid") for m in items[:5]],
                         ["1700000000.0"] * 4 + ["1700000000.1"])

    def test_wrong_arguments_are_refused(self):
        for args in [(), (b"x",), (b"x", "n", 1), ("text", "name"), (b"x", b"name")]:
            with self.assertRaises(TypeError):
                _speedups.header_in_frame(*args)
        for args in [(), (b"x", Message), ("text", Message, 9), (b"x", Message, "9"),
                     (b"x", Message, 9, 9)]:
            with self.assertRaises(TypeError):
                _speedups.frame_messages(*args)

    def test_a_failing_message_type_fails_the_call(self):
        def broken(text, event, frame):
            raise RuntimeError("no")

        with self.assertRaises(RuntimeError):
            _speedups.frame_messages(b"Event: A\r\n\r\nEvent: B\r\n\r\n", broken, 99)

    def test_no_memory_is_kept_across_calls(self):
        """Every reference the compiled steps take is given back (a leak grows per call)."""
        from bench.peers.ami_server import build_events

        data = build_events(20) + b"Junk\r\n\r\n\xff\xfe\r\n\r\nEvent: tail"
        built = [0]

        def refusing(text, event, frame):
            # The error path: the third message cannot be built.
            built[0] += 1
            if built[0] % 3 == 0:
                raise RuntimeError("refused")
            return Message(text, event, frame)

        def run(times):
            for _ in range(times):
                items, _rest = _speedups.frame_messages(data, Message, 4096)
                for item in items:
                    if isinstance(item, Message):
                        _speedups.header_in_frame(item._frame, "Uniqueid")
                        _speedups.header_in_frame(item._frame, "Nope")
                _speedups.frame_messages(b"a\nb", Message, 9)
                try:
                    _speedups.frame_messages(data, refusing, 4096)
                except RuntimeError:
                    pass

        run(200)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            run(3000)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        # 3,000 rounds of 22 messages: a reference leaked per message would keep megabytes.
        self.assertLess(grown, 64 * 1024)
