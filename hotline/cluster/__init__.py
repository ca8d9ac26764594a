"""Past one machine: several hotline PBXs behind a SIP edge, one controller per PBX."""

__all__: list[str] = []
