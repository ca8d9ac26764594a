"""Live call state: calls waiting, ringing and talking, and the agents, rebuilt from AMI events."""

__all__ = ["model", "notifier", "service", "tracker"]
