# -*- test-case-name: tests.directory.test_directory -*-
"""The directory's CSV form: reading with line-numbered validation, and writing.

One row per hotline. Lists (fallback numbers, categories, keywords) are separated by ``|``.
Lines starting with ``#`` are comments (the sample file says there that it is sample data).
Reading checks every row and reports every problem at once, so a file is fixed in one pass.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from hotline import phone
from hotline.directory.exceptions import DirectoryImportError, InvalidServiceHours
from hotline.directory.hours import parse_hours

__all__ = ["COLUMNS", "ParsedEntry", "read_csv", "write_csv"]

COLUMNS = ("name", "department_code", "department_name", "department_kind", "number",
           "fallback_numbers", "categories", "keywords", "service_hours", "notes")
_REQUIRED = ("name", "department_code", "department_name", "number")
_LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class ParsedEntry:
    """A validated CSV row, numbers normalised, with the line it came from."""

    line: int
    name: str
    department_code: str
    department_name: str
    department_kind: str
    number: str
    fallback_numbers: tuple[str, ...]
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    service_hours: str
    notes: str | None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(_LIST_SEPARATOR) if v.strip())


def read_csv(text: str) -> list[ParsedEntry]:
    """Parse and validate a whole directory file. Raises DirectoryImportError listing every
    problem by line number: missing columns, empty fields, bad numbers or hours, and numbers
    used twice in the file (a number must lead to exactly one entry)."""
    problems: list[tuple[int, str]] = []
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    # Skip comments and blank lines but remember where each data line was in the file.
    numbered = [(i + 1, ln) for i, ln in enumerate(lines)
                if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise DirectoryImportError([(1, "the file has no header and no entries")])
    header_line, header_text = numbered[0]
    header = [h.strip() for h in next(csv.reader([header_text]))]
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        why = []
        if missing:
            why.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            why.append(f"unknown column(s) {', '.join(unknown)}")
        raise DirectoryImportError(
            [(header_line, "; ".join(why) + f" (columns: {', '.join(COLUMNS)})")])
    entries: list[ParsedEntry] = []
    first_line_of: dict[str, int] = {}
    for line_no, line_text in numbered[1:]:
        row = next(csv.reader([line_text]))
        if len(row) != len(header):
            problems.append((line_no, f"has {len(row)} fields, the header has {len(header)}"))
            continue
        values = {h: v.strip() for h, v in zip(header, row, strict=True)}
        bad = False
        for column in _REQUIRED:
            if not values.get(column):
                problems.append((line_no, f"{column} is empty"))
                bad = True
        kind = values.get("department_kind") or "partner"
        if kind not in ("partner", "utility"):
            problems.append((line_no, f"department_kind {kind!r} must be partner or utility"))
            bad = True
        numbers: list[str] = []
        for column, raw in [("number", values.get("number", ""))] + \
                [("fallback_numbers", n) for n in _split(values.get("fallback_numbers", ""))]:
            if not raw:
                continue
            try:
                numbers.append(phone.normalise(raw))
            except phone.InvalidPhoneNumber as e:
                problems.append((line_no, f"{column}: {e}"))
                bad = True
        hours_text = values.get("service_hours") or "24/7"
        try:
            hours = parse_hours(hours_text)
        except InvalidServiceHours as e:
            problems.append((line_no, f"service_hours: {e}"))
            bad = True
        if bad:
            continue
        number = numbers[0]
        if number in first_line_of:
            problems.append((line_no, f"number {number} is already used on line "
                                      f"{first_line_of[number]}"))
            continue
        first_line_of[number] = line_no
        entries.append(ParsedEntry(
            line=line_no, name=values["name"], department_code=values["department_code"],
            department_name=values["department_name"], department_kind=kind, number=number,
            fallback_numbers=tuple(numbers[1:]), categories=_split(values.get("categories", "")),
            keywords=_split(values.get("keywords", "")), service_hours=hours.text,
            notes=values.get("notes") or None))
    if problems:
        raise DirectoryImportError(problems)
    return entries


def write_csv(rows: Iterable[dict[str, object]], *, comments: Iterable[str] = ()) -> str:
    """The CSV text of directory rows (dicts with the ``COLUMNS`` keys, lists as lists)."""
    out = io.StringIO()
    for comment in comments:
        out.write(f"# {comment}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_LIST_SEPARATOR.join(v) if isinstance(v, list | tuple) else
                         ("" if v is None else str(v)) for v in (row[c] for c in COLUMNS)])
    return out.getvalue()
