"""Unit tests of the city simulator's hands (the real-PBX path is every PBX test's)."""

from __future__ import annotations

import pytest_twisted

from hotline.sim.city import CitySimulator


class _CityAMI:
    """What the city's AMI answers: its live channels, and the hang-ups asked of it."""

    def __init__(self) -> None:
        self.channels: list[dict[str, str]] = []
        self.hung_up: list[str] = []
        self.originated: list[dict[str, object]] = []

    async def action(self, name: str, **headers: object):
        if name == "Originate":
            self.originated.append(headers)
            self.channels.append({"Event": "CoreShowChannel", "Channel": "PJSIP/hotline-0001",
                                  "Uniqueid": str(headers["ChannelId"]),
                                  "Context": "sim-citizen", "CallerIDNum": "13800138000"})
            return {"Response": "Success"}
        if name == "CoreShowChannels":
            return [dict(c) for c in self.channels]
        if name == "Hangup":
            self.hung_up.append(str(headers["Channel"]))
            self.channels = [c for c in self.channels if c["Channel"] != headers["Channel"]]
            return {"Response": "Success"}
        raise AssertionError(f"unexpected action {name}")


@pytest_twisted.ensureDeferred
async def test_a_citizen_is_hung_up_by_the_call_placed_even_when_its_caller_id_changed():
    """Once an agent answers a citizen sent back to the queue by a bridge room, the city shows
    the hotline's connected line (the agent, 1003) as that channel's caller ID: the citizen is
    still found, by the channel id the simulator gave the call."""
    ami = _CityAMI()
    city = CitySimulator(ami=ami, hotline_number="83658365")
    await city.call("13800138000")
    ami.channels[0]["CallerIDNum"] = "1003"
    ami.channels.append({"Event": "CoreShowChannel", "Channel": "PJSIP/phone-1003-0002",
                         "Uniqueid": "x-2", "Context": "sim-agent", "CallerIDNum": "1003"})
    assert await city.hangup_citizen("13900139000") == 0
    assert await city.hangup_citizen("13800138000") == 1
    assert ami.hung_up == ["PJSIP/hotline-0001"]
    assert await city.hangup_all() == 1
    assert ami.hung_up == ["PJSIP/hotline-0001", "PJSIP/phone-1003-0002"]
