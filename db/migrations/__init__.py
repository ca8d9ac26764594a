"""Alembic migrations of the hotline's schema; run them with ``hotline db upgrade``."""
