"""Three-way bridging (三方通话): citizen, agent and a municipal hotline in one room.

Wired by L{hotline.bridge.plugin}; routes in L{hotline.bridge.http}."""

__all__ = ["events", "http", "outcomes", "plugin", "records", "rooms", "service", "views"]
