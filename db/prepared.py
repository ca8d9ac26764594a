# -*- test-case-name: tests.db.test_prepared -*-
"""The statements every call runs, compiled once per back end and run on the DB-API cursor.

A call's database work is a handful of small statements. Through a ``Session`` each one pays
for SQLAlchemy's execution machinery (the unit's session and connection, the compiled-cache
look-up, an execution context, a result object): measured in one process, opening a call's row
cost ~440 µs that way and ~90 µs as the same statements on the driver's cursor, of which
the driver's own work is the same ~20 µs a statement. ``bench.burst`` put the difference at
about a fifth of the controller's CPU per call.

So the per-call paths (``hotline.calls.journal``) write their statements as Core constructs,
as everywhere else, wrap each in a L{Prepared} once, and run them through a L{Cursor}: either
a unit of work of its own (``Database.run_direct``, no Session at all) or the connection of a
caller's Session (L{cursor_for}). Values go through the column types' processors exactly as
SQLAlchemy would send them, and the driver's errors come back as SQLAlchemy's exceptions, so a
caller cannot tell the two paths apart except by their cost.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

__all__ = ["Prepared", "Cursor", "cursor_for"]


@dataclass(frozen=True)
class _Form:
    """A statement as one back end's driver takes it."""

    sql: str
    #: Parameter names in the driver's order (positional styles), or None (named styles).
    order: tuple[str, ...] | None
    #: Every parameter's name, with its value when the statement carries one (literals).
    defaults: Mapping[str, Any]
    #: The names the caller must give.
    required: frozenset[str]
    binds: Mapping[str, Callable[[Any], Any]]
    #: One processor (or None) per result column; empty if the statement returns no rows.
    results: tuple[Callable[[Any], Any] | None, ...]
    returns_rows: bool

    def parameters(self, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        missing = self.required.difference(given)
        if missing:
            raise KeyError(f"prepared statement needs {', '.join(sorted(missing))}")
        values = dict(self.defaults)
        values.update(given)
        for name, process in self.binds.items():
            values[name] = process(values[name])
        if self.order is None:
            return values
        return [values[name] for name in self.order]

    def rows(self, raw: list[Any]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(r) for r in raw]
        return [tuple(v if p is None else p(v) for p, v in zip(self.results, r, strict=True))
                for r in raw]


class Prepared:
    """One Core statement, compiled once per back end for the L{Cursor}.

    Parameters are the statement's ``bindparam`` names; literal values in it (an ``IN`` over
    a fixed list, a status written as a constant) are compiled in. Statements whose parameters
    change shape per call (an expanding ``IN`` given at run time) are refused here: they
    would need compiling per call, and belong on a Session.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = self._compile(dialect)
        return form

    def _compile(self, dialect: Dialect) -> _Form:
        compiled = self.statement.compile(dialect=dialect)
        required = {name for name, bind in compiled.binds.items() if bind.required}
        for name, bind in compiled.binds.items():
            if bind.expanding and name in required:
                raise TypeError(f"{name}: a list given per call cannot be prepared once")
        # Literal lists are expanded into one parameter each, the statement text with them.
        expanded = compiled.construct_expanded_state(dict.fromkeys(required), escape_names=False)
        defaults = {name: value.value if isinstance(value, enum.Enum) else value
                    for name, value in expanded.parameters.items()}
        binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            if name in defaults:
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    binds[name] = process
        binds.update((name, p) for name, p in (expanded.processors or {}).items()
                     if p is not None and name in defaults)
        columns = list(self.statement.exported_columns)  # a SELECT's, or its RETURNING's
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                        for c in columns)
        return _Form(sql=expanded.statement,
                     order=tuple(expanded.positiontup) if expanded.positiontup else None,
                     defaults=defaults, required=frozenset(required), binds=binds,
                     results=results, returns_rows=bool(columns))


class Cursor:
    """L{Prepared} statements on one DB-API connection, inside its current transaction."""

    __slots__ = ("dialect", "_cursor", "_error")

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cursor = dbapi_connection.cursor()
        self._error = dialect.loaded_dbapi.Error

    def all(self, statement: Prepared, **params: Any) -> list[tuple[Any, ...]]:
        """Every row the statement returns (none for one that returns nothing)."""
        form = statement.form(self.dialect)
        try:
            self._cursor.execute(form.sql, form.parameters(params))
            raw = self._cursor.fetchall() if form.returns_rows else []
        except self._error as e:
            raise DBAPIError.instance(form.sql, params, e, self._error,
                                      dialect=self.dialect) from e
        return form.rows(raw)

    def first(self, statement: Prepared, **params: Any) -> tuple[Any, ...] | None:
        rows = self.all(statement, **params)
        return rows[0] if rows else None

    def scalar(self, statement: Prepared, **params: Any) -> Any:
        """The first column of the first row, or None if there is no row."""
        row = self.first(statement, **params)
        return None if row is None else row[0]


def cursor_for(unit: Session | Cursor) -> Cursor:
    """The L{Cursor} of a unit of work, whichever kind the caller runs: its own, or the
    connection (and transaction) of a Session."""
    if isinstance(unit, Cursor):
        return unit
    unit.flush()  # what the session holds is seen, as its own execute would (autoflush)
    connection = unit.connection()
    return Cursor(connection.connection.dbapi_connection, connection.dialect)
