"""Timed-reply enforcement: reminders, escalation, callbacks placed and retried, surveys.

Wired into a controller by L{scheduler.plugin}; a node of its own by L{scheduler.runner}.
"""

__all__ = ["engine", "http", "leader", "placing", "plugin", "policy", "runner", "service",
           "store"]
