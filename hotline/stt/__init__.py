"""Speech-to-text call notes: per-speaker recordings decoded by Vosk, merged onto the ticket."""

from hotline.stt.wiring import attach

__all__ = ["attach", "decoder", "evaluate", "jobs", "keywords", "models", "service", "wiring"]
