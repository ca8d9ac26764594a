"""The controller's AMI client: framing (protocol), messages, actions and the self-healing client."""

__all__ = ["actions", "client", "message", "protocol"]
