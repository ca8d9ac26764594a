# -*- test-case-name: tests.web.test_bridge_api -*-
"""The bridge's own domain event: a room looks different now (someone joined or left, a
department rings, a number failed, the room ended). The console's bridge panel and anything
else that shows rooms listen to it instead of re-deriving rooms from AMI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.bridge.rooms import Room

__all__ = ["RoomUpdated"]


@dataclass(frozen=True, slots=True)
class RoomUpdated:
    """Room C{room} (the bridge service's live object: read it, never change it) changed."""

    room: Room
