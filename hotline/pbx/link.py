# -*- test-case-name: tests.test_controller -*-
"""Where the hotline PBX's AMI listens and who the controller is on it: the sandbox's own
port and generated secret, or the site's ``[ami]`` and ``HOTLINE_AMI_SECRET``. Shared by the
controller, a standalone scheduler node and the command line."""

from __future__ import annotations

from hotline.config import Config, ConfigError

__all__ = ["ami_address", "ami_credentials"]


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
        return "127.0.0.1", config["pbx"]["ami_port"]
    return config["ami"]["host"], config["ami"]["port"]
