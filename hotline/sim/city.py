# -*- test-case-name: tests.sim.test_cli -*-
"""Steer the city simulator over its AMI: place citizens' calls, set how phones and numbers behave."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.ami.actions import AMIError
from hotline.ami.client import AMIClient
from hotline.ami.message import Message

__all__ = ["CitySimulator", "CitizenCall", "NUMBER_MODES"]

#: How a number dialled out by the hotline behaves on the city side.
NUMBER_MODES = ("answer", "busy", "noanswer", "congestion", "unreachable")


@dataclass(frozen=True)
class CitizenCall:
    """A simulated citizen's call placed on the city simulator."""

    channel_id: str
    caller: str


class CitySimulator:
    """The test harness's and the demo's hands on the city instance.

    Behaviour lives in the city's AstDB (see asterisk-config/city/extensions.conf.j2), so it
    changes at once, without a reload.
    """

    def __init__(self, *, ami: AMIClient, hotline_number: str, trunk: str = "hotline") -> None:
        self.ami = ami
        self.hotline_number = hotline_number
        self.trunk = trunk
        self._seq = 0
        #: Channel ids of the citizens' calls this simulator placed, by caller.
        self._placed: dict[str, set[str]] = {}

    async def call(self, caller: str, *, play: str | None = None, tone: str | None = None,
                   dtmf: str | None = None, hold_s: float = 600.0, pause_s: float = 0.2,
                   number: str | None = None, channel_id: str | None = None,
                   name: str | None = None) -> CitizenCall:
        """Place a citizen's call to the hotline; returns once the city accepted it.

        ``play`` is a sound path inside the sandbox (no extension), ``tone`` an Asterisk tone
        list (``"400"``); the citizen hangs up after ``hold_s`` seconds unless hung up first.
        ``name`` is the caller ID name the carrier sends (none by default).
        """
        self._seq += 1
        channel_id = channel_id or f"citizen-{caller}-{self._seq}-{id(self) % 10000}"
        self._placed.setdefault(caller, set()).add(channel_id)
        variables = [f"SIM_HOLD={hold_s:g}", f"SIM_PAUSE={pause_s:g}"]
        if play:
            variables.append(f"SIM_PLAY={play}")
        if tone:
            variables.append(f"SIM_TONE={tone}")
        if dtmf:
            variables.append(f"SIM_DTMF={dtmf}")
        await self.ami.action(
            "Originate", Channel=f"PJSIP/{number or self.hotline_number}@{self.trunk}",
            Context="sim-citizen", Exten="s", Priority="1",
            CallerID=f'"{name}" <{caller}>' if name else f"<{caller}>",
            Timeout="30000", Async="true", ChannelId=channel_id, Variable=variables)
        return CitizenCall(channel_id=channel_id, caller=caller)

    async def press(self, channel_id: str, keys: str, *, duration_ms: int = 120) -> None:
        """The citizen on ``channel_id`` presses ``keys`` now, one after the other (DTMF sent
        to the hotline, as a phone's keypad does), for a menu or a prompt that asks."""
        for key in keys:
            await self.ami.action("PlayDTMF", Channel=channel_id, Digit=key,
                                  Duration=str(duration_ms))

    async def hangup(self, channel_id: str) -> Message:
        """Hang up a simulated party's channel by its id (a citizen, for instance)."""
        return await self.ami.action("Hangup", Channel=channel_id, Cause="16")

    async def hangup_agent(self, agent: str) -> int:
        """Hang up whatever simulated agent ``agent``'s phone is in; returns how many calls."""
        return await self._hangup_where(
            lambda m: m.get("Channel", "").startswith(f"PJSIP/phone-{agent}-"))

    async def hangup_citizen(self, number: str) -> int:
        """Hang up the simulated citizen calling from ``number``; returns how many calls.

        A call this simulator placed is found by its channel id: the caller ID the city shows
        for it is the hotline's connected line once an agent answers a second time (after a
        bridge room sends the citizen back to the queue), no longer the citizen's number."""
        placed = self._placed.pop(number, set())  # every call of theirs ends here
        return await self._hangup_where(
            lambda m: m.get("Context") == "sim-citizen"
            and (m.get("Uniqueid") in placed or m.get("CallerIDNum") == number))

    async def hangup_number(self, number: str) -> int:
        """Hang up the city's side of every call the hotline placed to ``number`` (the
        department hangs up); returns how many. Calls that end meanwhile are skipped."""
        reply = await self.ami.action("CoreShowChannels")
        candidates = [m["Channel"] for m in reply if m.get("Event") == "CoreShowChannel"
                      and m.get("Context") == "from-hotline"]
        hung = 0
        for channel in candidates:
            try:
                # The dialled number is kept in N (the extension becomes mode-answer).
                dialled = (await self.ami.action("Getvar", Channel=channel, Variable="N"))
                if dialled.get("Value") == number:
                    await self.ami.action("Hangup", Channel=channel, Cause="16")
                    hung += 1
            except AMIError:
                continue  # it went by itself meanwhile
        return hung

    async def hangup_all(self) -> int:
        """Hang up every call on the city side (citizens, agents' phones, numbers dialled by
        the hotline); returns how many channels there were."""
        self._placed.clear()
        return await self._hangup_where(lambda m: True)

    async def _hangup_where(self, match) -> int:
        reply = await self.ami.action("CoreShowChannels")
        channels = [m["Channel"] for m in reply
                    if m.get("Event") == "CoreShowChannel" and match(m)]
        for channel in channels:
            try:
                await self.ami.action("Hangup", Channel=channel, Cause="16")
            except AMIError:
                pass  # it went by itself meanwhile
        return len(channels)

    async def set_agent(self, agent: str, *, delay_s: float | None = None,
                        tone: str | None = None, play: str | None = None) -> None:
        """How simulated agent ``agent``'s phone answers: after a delay, then a tone or a file."""
        await self._put(f"sim/agent/{agent}", delay=delay_s, tone=tone, play=play)

    async def set_number(self, number: str, *, mode: str = "answer",
                         delay_s: float | None = None, tone: str | None = None,
                         play: str | None = None, dtmf: str | None = None) -> None:
        """How a number the hotline dials out behaves (a department, a citizen called back)."""
        if mode not in NUMBER_MODES:
            raise ValueError(f"mode must be one of {', '.join(NUMBER_MODES)}, not {mode!r}")
        await self._put(f"sim/number/{number}", mode=mode, delay=delay_s, tone=tone,
                        play=play, dtmf=dtmf)

    async def _put(self, family: str, **values: object) -> None:
        for key, value in values.items():
            if value is None:
                await self._del(family, key)
            else:
                val = f"{value:g}" if isinstance(value, float) else str(value)
                await self.ami.action("DBPut", Family=family, Key=key, Val=val)

    async def _del(self, family: str, key: str) -> None:
        try:
            await self.ami.action("DBDel", Family=family, Key=key)
        except AMIError:
            pass  # nothing stored under that key: already the default
