"""Timed-reply enforcement: reminders, escalation, callbacks, surveys."""
