# -*- test-case-name: tests.sim.test_cli -*-
"""``hotline sim``: be a citizen, an agent's phone or a municipal hotline on the city simulator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.reactor import connect_ami, react
from hotline.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="the city simulator: place citizens' calls, set phones' "
                                   "behaviour (PBX sandbox only)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    call = verbs.add_parser("call", help="a citizen calls the hotline")
    call.add_argument("--from", dest="caller", required=True, metavar="NUMBER",
                      help="the citizen's number, e.g. 13800138000")
    _sound_args(call)
    call.add_argument("--hold", type=float, default=30.0, metavar="SECONDS",
                      help="hang up this long after the hotline answers (default 30)")
    call.add_argument("--pause", type=float, default=9.0, metavar="SECONDS",
                      help="wait this long (the greeting) before speaking (default 9)")
    call.add_argument("--to", metavar="NUMBER", help="the number dialled (default: the hotline)")
    hangup = verbs.add_parser("hangup", help="a simulated party hangs up")
    who = hangup.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", metavar="CODE", help="the agent's phone hangs up")
    who.add_argument("--citizen", metavar="NUMBER", help="the citizen calling from NUMBER")
    agent = verbs.add_parser("agent", help="how a simulated agent's phone answers")
    agent.add_argument("code", help="agent code, e.g. 1001")
    agent.add_argument("--delay", type=float, default=1.5, metavar="SECONDS")
    _sound_args(agent)
    number = verbs.add_parser("number", help="how a number the hotline dials behaves")
    number.add_argument("number")
    number.add_argument("--mode", default="answer",
                        choices=("answer", "busy", "noanswer", "congestion", "unreachable"))
    number.add_argument("--delay", type=float, metavar="SECONDS")
    number.add_argument("--dtmf", help="digits it presses once connected (a survey answer)")
    _sound_args(number)
    p.set_defaults(func=_sim)


def _sound_args(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group()
    what.add_argument("--say", metavar="TEXT",
                      help="speech to synthesise (Chinese or tone-numbered pinyin)")
    what.add_argument("--play", metavar="FILE", help="an audio file to play")
    what.add_argument("--tone", metavar="HZ", help="a steady tone, e.g. 400")


def _sim(args: argparse.Namespace, cfg: Config) -> int:
    if not cfg["pbx"]["sandbox"]:
        raise CommandError("the city simulator exists only with the PBX sandbox "
                           "(pbx.sandbox = true)")
    return react(lambda reactor: _act(reactor, cfg, args))


async def _sound(cfg: Config, args: argparse.Namespace) -> str | None:
    """The sound to play, as a path inside the sandbox (no extension), made off the reactor."""
    from twisted.internet import threads

    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.speech import SpeechError, convert_for_playback, synthesise

    if not (args.say or args.play):
        return None
    sandbox = Sandbox(cfg)
    out_dir = sandbox.var_dir / "sounds" / "sim"
    try:
        if args.say:
            path = await threads.deferToThread(synthesise, args.say, out_dir)
        else:
            path = await threads.deferToThread(convert_for_playback, Path(args.play), out_dir)
    except SpeechError as e:
        raise CommandError(str(e)) from None
    return f"/srv/hotline/{path.relative_to(sandbox.var_dir).with_suffix('')}"


async def _act(reactor: Any, cfg: Config, args: argparse.Namespace) -> None:
    from hotline.sim.city import CitySimulator

    play = await _sound(cfg, args) if args.verb != "hangup" else None
    ami = await connect_ami(reactor, cfg, which="city")
    try:
        city = CitySimulator(ami=ami, hotline_number=cfg["site"]["hotline_number"])
        if args.verb == "call":
            placed = await city.call(args.caller, play=play, tone=args.tone, hold_s=args.hold,
                                     pause_s=args.pause, number=args.to)
            print(f"citizen {args.caller} calls {args.to or city.hotline_number} "
                  f"(channel {placed.channel_id}); hangs up {args.hold:g} s after the answer")
        elif args.verb == "hangup":
            if args.agent:
                count = await city.hangup_agent(args.agent)
                who = f"agent {args.agent}'s phone"
            else:
                count = await city.hangup_citizen(args.citizen)
                who = f"citizen {args.citizen}"
            if not count:
                raise CommandError(f"{who} is in no call")
            print(f"{who} hung up ({count} call{'s' if count > 1 else ''})")
        elif args.verb == "agent":
            await city.set_agent(args.code, delay_s=args.delay, tone=args.tone, play=play)
            print(f"agent {args.code}'s phone answers after {args.delay:g} s")
        else:
            await city.set_number(args.number, mode=args.mode, delay_s=args.delay,
                                  tone=args.tone, play=play, dtmf=args.dtmf)
            print(f"number {args.number}: {args.mode}")
    finally:
        await ami.stop()
