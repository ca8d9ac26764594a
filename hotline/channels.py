# -*- test-case-name: tests.tickets.test_schemas -*-
"""The intake channels (受理渠道) the district runs: tickets are filed through them and other
channels' API keys are issued for them. One table, here, read by the tickets and the console's
accounts alike; this module imports nothing of the project."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Channel", "CHANNELS", "PHONE_CHANNELS", "register_channel"]


@dataclass(frozen=True)
class Channel:
    """An intake channel: a stable code stored on the ticket, and the label staff read."""

    code: str
    label: str
    #: Whether a ticket from this channel must come with the citizen's phone number.
    requires_phone: bool = False


#: The channels the district runs, by code. Extend with ``register_channel``; codes are stored
#: as strings, so a new channel needs no migration.
CHANNELS: dict[str, Channel] = {}


def register_channel(code: str, label: str, *, requires_phone: bool = False) -> Channel:
    """Add an intake channel; refuses a code already taken so two sites cannot silently clash."""
    if code in CHANNELS:
        raise ValueError(f"intake channel {code!r} is already registered")
    if not code or not code.replace("_", "").isalnum() or not code.isascii():
        raise ValueError(f"channel code {code!r} must be ASCII letters, digits and _")
    channel = Channel(code, label, requires_phone)
    CHANNELS[code] = channel
    return channel


for _code, _label, _phone in (
    ("hotline", "83658365 热线", True),
    ("sub_12345", "12345 分平台", False),
    ("provincial_site", "省网民留言板", False),
    ("city_site", "市网民留言板", False),
    ("deputies_office", "代表委员工作室", False),
    ("web", "网站", False),
    ("wechat", "微信", False),
    ("grid_worker", "网格员上报", False),
    ("residents_council", "居民议事会", False),
    ("service_window", "服务窗口", False),
    ("walk_in", "来访", False),
    ("proactive", "未诉先办（预警转任务）", False),
):
    register_channel(_code, _label, requires_phone=_phone)

#: Channels on which the citizen is on the phone with us (callbacks go to the same number).
PHONE_CHANNELS: frozenset[str] = frozenset({"hotline"})
