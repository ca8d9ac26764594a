# -*- test-case-name: tests.directory.test_directory -*-
"""The directory service: import and export the municipal hotlines, and search them fast.

Writes take the caller's session like every service. Search never touches the database: it
reads an in-memory ``DirectoryIndex`` built by ``refresh(session)`` after a change (and
periodically, to pick up another controller's import: ``refresh_if_changed`` is one cheap
query). Searching is therefore safe on the reactor thread.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from db.models import Department, MunicipalHotline, utcnow
from hotline.directory.csvio import ParsedEntry, read_csv, write_csv
from hotline.directory.exceptions import DirectoryImportError
from hotline.directory.index import DirectoryEntry, DirectoryIndex, pinyin_initials

__all__ = ["DirectoryService", "ImportResult", "load_entries"]


@dataclass(frozen=True)
class ImportResult:
    """What an import did: entries added, entries removed (replace mode), departments created."""

    added: int
    removed: int
    departments_created: tuple[str, ...]


def load_entries(session: Session) -> list[DirectoryEntry]:
    """Every directory entry as a plain snapshot, ordered by name."""
    hotlines = session.scalars(select(MunicipalHotline)
                               .options(joinedload(MunicipalHotline.department))
                               .order_by(MunicipalHotline.name, MunicipalHotline.id))
    return [DirectoryEntry(
        id=h.id, name=h.name, department_code=h.department.code,
        department_name=h.department.name, number=h.number,
        fallback_numbers=tuple(h.fallback_numbers), categories=tuple(h.categories),
        keywords=tuple(h.keywords), service_hours=h.service_hours, notes=h.notes,
        pinyin_initials=h.pinyin_initials) for h in hotlines]


class DirectoryService:
    """Directory import/export and the search index the console and the bridge use.

    ``timezone`` is the site's zone (service hours are local times); ``clock`` returns the
    current aware UTC time for the open-now filter.
    """

    def __init__(self, *, timezone: str = "Asia/Shanghai",
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.clock = clock
        self.index = DirectoryIndex([], self.zone)
        self._fingerprint: tuple[int, object] | None = None

    # -- search (memory only) ----------------------------------------------------------------------

    def search(self, query: str = "", *, category: str | None = None, open_now: bool = False,
               at: dt.datetime | None = None, limit: int = 20) -> list[DirectoryEntry]:
        """Search the current index; see ``DirectoryIndex.search``."""
        return self.index.search(query, category=category, open_now=open_now,
                                 at=at or (self.clock() if open_now else None), limit=limit)

    # -- keeping the index current -----------------------------------------------------------------

    def refresh(self, session: Session) -> DirectoryIndex:
        """Rebuild the index from the database and swap it in."""
        self._fingerprint = self._read_fingerprint(session)
        self.index = DirectoryIndex(load_entries(session), self.zone)
        return self.index

    def refresh_if_changed(self, session: Session) -> bool:
        """Rebuild only when the directory changed since the last refresh (count or newest
        update time differ); returns whether it did."""
        if self._read_fingerprint(session) == self._fingerprint:
            return False
        self.refresh(session)
        return True

    @staticmethod
    def _read_fingerprint(session: Session) -> tuple[int, object]:
        count, newest = session.execute(
            select(func.count(MunicipalHotline.id), func.max(MunicipalHotline.updated_at))).one()
        return int(count), newest

    # -- import / export ---------------------------------------------------------------------------

    def import_csv(self, session: Session, text: str, *, replace: bool = False) -> ImportResult:
        """Add the entries of a directory CSV, all or nothing.

        Every line is validated first; any problem (including a number already in the
        directory, unless ``replace``) raises DirectoryImportError with line numbers and
        nothing is written. ``replace`` swaps the whole directory for the file's entries.
        Unknown department codes are created from the row's name and kind. Call
        ``refresh(session)`` once the caller's transaction has committed.
        """
        entries = read_csv(text)
        removed = 0
        if replace:
            removed = session.execute(delete(MunicipalHotline)).rowcount or 0
        else:
            existing = dict(session.execute(
                select(MunicipalHotline.number, MunicipalHotline.name).where(
                    MunicipalHotline.number.in_([e.number for e in entries]))).all())
            clashes = [(e.line, f"number {e.number} is already in the directory "
                                f"({existing[e.number]}); use replace to load a new directory")
                       for e in entries if e.number in existing]
            if clashes:
                raise DirectoryImportError(clashes)
        departments, created = self._departments(session, entries)
        now = self.clock()
        session.add_all(MunicipalHotline(
            name=e.name, department=departments[e.department_code], number=e.number,
            fallback_numbers=list(e.fallback_numbers), categories=list(e.categories),
            keywords=list(e.keywords), service_hours=e.service_hours, notes=e.notes,
            pinyin_initials=pinyin_initials(e.name), updated_at=now) for e in entries)
        session.flush()
        return ImportResult(added=len(entries), removed=removed, departments_created=created)

    @staticmethod
    def _departments(session: Session, entries: list[ParsedEntry]
                     ) -> tuple[dict[str, Department], tuple[str, ...]]:
        codes = {e.department_code for e in entries}
        known = {d.code: d for d in session.scalars(
            select(Department).where(Department.code.in_(codes)))}
        created = []
        for e in entries:
            if e.department_code not in known:
                dept = Department(code=e.department_code, name=e.department_name,
                                  kind=e.department_kind)
                session.add(dept)
                known[e.department_code] = dept
                created.append(e.department_code)
        return known, tuple(created)

    def export_csv(self, session: Session) -> str:
        """The whole directory as CSV in the import format (a round trip changes nothing)."""
        rows = []
        kinds = dict(session.execute(select(Department.code, Department.kind)).all())
        for e in load_entries(session):
            row = e.as_dict()
            row["department_code"] = e.department_code
            row["department_kind"] = kinds.get(e.department_code, "partner")
            rows.append(row)
        return write_csv(rows)
