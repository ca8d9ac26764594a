"""Speech-to-text call notes: per-speaker recordings decoded by Vosk, merged onto the ticket.

Wired by L{hotline.stt.plugin}."""

__all__ = ["decoder", "evaluate", "http", "jobs", "keywords", "models", "plugin", "service"]
