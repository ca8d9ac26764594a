"""The city simulator's controls: simulated citizens calling in, agents' phones, department numbers."""

__all__: list[str] = []
