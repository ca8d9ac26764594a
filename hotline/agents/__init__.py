"""Agents at their seats: queue log in/out and pauses, as the PBX and the records know them."""

from hotline.agents.service import AgentError, AgentService, AgentStatus

__all__ = ["AgentService", "AgentError", "AgentStatus"]
