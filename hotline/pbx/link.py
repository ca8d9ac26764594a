# -*- test-case-name: tests.test_controller -*-
"""Where the hotline PBX's AMI listens and who the controller is on it: the sandbox's own
port and generated secret, or the site's ``[ami]`` and ``HOTLINE_AMI_SECRET``. Shared by the
controller, a standalone scheduler node and the command line."""

from __future__ import annotations

import os

from hotline.config import Config, ConfigError
from hotline.pbx import topology

__all__ = ["ami_address", "ami_credentials", "node_view"]

_DEFAULT_DATABASE = "sqlite:///hotline.db"


def ami_credentials(config: Config) -> tuple[str, str]:
    """The controller's AMI user and secret: the environment's, else the sandbox's own."""
    secret = config.secret("ami.secret")
    if secret:
        return config["ami"]["username"], secret
    if config["pbx"]["sandbox"]:
        from hotline.pbx.sandbox import Sandbox

        sandbox = Sandbox(config)
        if sandbox.run_dir.joinpath("secrets.json").exists():
            creds = sandbox.secrets()["pbx_ami"]
            return creds["username"], creds["secret"]
        raise ConfigError(["no AMI secret yet: start the sandbox (`hotline pbx start`) or set "
                           "HOTLINE_AMI_SECRET"], config.source)
    raise ConfigError(["no AMI secret: set HOTLINE_AMI_SECRET"], config.source)


def ami_address(config: Config) -> tuple[str, int]:
    """Where the hotline PBX's AMI listens: the sandbox's own port, or the site's [ami]."""
    if config["pbx"]["sandbox"]:
        node = topology.nodes(config)[config["cluster"]["node"] - 1]
        return node.address, config["pbx"]["ami_port"]
    return config["ami"]["host"], config["ami"]["port"]


def node_view(config: Config, node: int | None = None) -> Config:
    """The configuration node ``node``'s controller (and every command) works with.

    With the sandbox, a running cluster's node count and shared PostgreSQL come from the
    sandbox itself (so ``hotline --node 2 run`` needs no file after ``pbx start --nodes 2``;
    a database URL set in the file or HOTLINE_DATABASE_URL still wins); then the node's own
    addresses (L{topology.node_config})."""
    if config["pbx"]["sandbox"]:
        from hotline.pbx.sandbox import Sandbox

        sandbox = Sandbox(config)
        overrides: dict = {}
        running = sandbox.running_nodes()
        if running and running != config["cluster"]["nodes"]:
            overrides["cluster"] = {"nodes": running}
        url = sandbox.database_url()
        if (url and config["database"]["url"] == _DEFAULT_DATABASE
                and not os.environ.get("HOTLINE_DATABASE_URL")):
            overrides["database"] = {"url": url}
        if overrides:
            config = config.with_overrides(overrides)
    if node is not None and not 1 <= node <= config["cluster"]["nodes"]:
        raise ConfigError([f"--node {node}: the cluster has {config['cluster']['nodes']} "
                           "node(s) (`hotline pbx start --nodes N`, or [cluster] nodes)"],
                          config.source)
    return topology.node_config(config, node)
