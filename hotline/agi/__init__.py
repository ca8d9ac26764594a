"""The FastAGI server: the per-call half of the controller's wire to Asterisk."""

__all__ = [
    "channel",
    "errors",
    "routes",
    "server",
    "variables",
    "wire",
]
