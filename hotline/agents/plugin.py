# -*- test-case-name: tests.agents.test_service -*-
"""Wire the agents: the queue membership service and its routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.agents import http
from hotline.agents.service import AgentService
from hotline.pbx.topology import node_seats

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """Build the agent service when there is a PBX link; register ``/api/agents``."""
    if deps.ami is not None and deps.agents is None:
        deps.agents = AgentService(ami=deps.ami, db=deps.db, queue=deps.config["queue"]["name"],
                                   agents=node_seats(deps.config))
    if deps.console is not None:
        http.register(deps.console.router)
