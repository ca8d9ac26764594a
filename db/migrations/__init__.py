"""Alembic migrations of the hotline's schema; run them with ``hotline db upgrade``."""

#: How batch mode (SQLite's table rebuilds) reads the table it rebuilds: without also loading
#: every table its foreign keys point to, and theirs in turn. The rebuilt table's DDL names
#: those tables only by name, so the schema is the same (same tables, columns, constraints and
#: indexes); a new database's upgrade reads 14 tables instead of 75 and takes about a third
#: less CPU (every new site, and every fresh database of the test suite's commands).
BATCH: dict = {"reflect_kwargs": {"resolve_fks": False}}
