# -*- test-case-name: tests.directory.test_directory -*-
"""The in-memory search index over the directory: an agent types while a citizen waits.

Built from plain ``DirectoryEntry`` snapshots (no ORM objects, so the reactor thread can search
while a pool thread rebuilds it) and swapped in whole. A search scans one precomputed
lower-case text per entry (700 entries: a few tens of microseconds) and ranks the hits.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from pypinyin import Style, lazy_pinyin

from hotline.directory.hours import ServiceHours, parse_hours

__all__ = ["DirectoryEntry", "DirectoryIndex", "pinyin_initials"]


@functools.lru_cache(maxsize=16384)
def pinyin_initials(text: str) -> str:
    """First letters of each character's pinyin, Latin letters and digits kept: 供水 → gs,
    区自来水公司 → qzlsgs. What an agent types on a Latin keyboard to find a Chinese name.

    Kept per text: a directory's keywords and categories repeat across its entries, and the
    index is rebuilt whenever the directory changes (pypinyin takes ~150 µs a name here)."""
    letters = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return "".join(ch for ch in "".join(letters).lower() if ch.isascii() and ch.isalnum())


@dataclass(frozen=True)
class DirectoryEntry:
    """One municipal hotline as the console shows it and the bridge dials it."""

    id: int
    name: str
    department_code: str
    department_name: str
    number: str
    fallback_numbers: tuple[str, ...]
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    service_hours: str
    notes: str | None
    pinyin_initials: str
    hours: ServiceHours = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.hours is None:
            object.__setattr__(self, "hours", parse_hours(self.service_hours))

    def as_dict(self) -> dict[str, object]:
        """The entry as the JSON API and the CSV export write it."""
        return {"id": self.id, "name": self.name, "department": self.department_code,
                "department_name": self.department_name, "number": self.number,
                "fallback_numbers": list(self.fallback_numbers),
                "categories": list(self.categories), "keywords": list(self.keywords),
                "service_hours": self.service_hours, "notes": self.notes}


# Rank of a hit, best first.
_EXACT_NAME, _NAME_PREFIX, _NAME, _KEYWORD, _CATEGORY, _INITIALS_PREFIX, _INITIALS, _OTHER = \
    range(8)


@dataclass(frozen=True)
class _Indexed:
    entry: DirectoryEntry
    name: str
    keywords: tuple[str, ...]
    categories: tuple[str, ...]
    initials: str
    #: Initials of each keyword and category: `gs` is the category 供水 itself, not just any
    #: 公司 inside a name, so it ranks with keyword hits.
    term_initials: tuple[str, ...]
    blob: str


class DirectoryIndex:
    """An immutable search index over directory entries; build a new one to change it."""

    #: Distinct (query, category) results kept; the cache is simply emptied when full.
    CACHE_SIZE = 4096

    def __init__(self, entries: Iterable[DirectoryEntry], zone: dt.tzinfo) -> None:
        self.zone = zone
        self._items: list[_Indexed] = []
        for e in entries:
            keywords = tuple(k.lower() for k in e.keywords)
            categories = tuple(c.lower() for c in e.categories)
            terms = tuple(pinyin_initials(t) for t in (*e.keywords, *e.categories))
            blob = "\x00".join([e.name.lower(), e.pinyin_initials, e.number, *terms,
                                *e.fallback_numbers, e.department_name.lower(),
                                e.department_code.lower(), *keywords, *categories])
            self._items.append(_Indexed(e, e.name.lower(), keywords, categories,
                                        e.pinyin_initials, terms, blob))
        self._items.sort(key=lambda item: item.entry.name)
        self._categories = sorted({c for e in self._items for c in e.entry.categories})
        self._by_category: dict[str, list[_Indexed]] = {}
        for item in self._items:
            for c in item.categories:
                self._by_category.setdefault(c, []).append(item)
        self._cache: dict[tuple[tuple[str, ...], str | None], tuple[DirectoryEntry, ...]] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def categories(self) -> list[str]:
        """Every category used, for the console's filter list."""
        return list(self._categories)

    def search(self, query: str = "", *, category: str | None = None, open_now: bool = False,
               at: dt.datetime | None = None, limit: int = 20) -> list[DirectoryEntry]:
        """Entries matching every word of ``query`` in name, keyword, category, pinyin
        initials, department or number; best matches first (exact name, name prefix, name,
        keyword or its initials, category, initials), then by name.

        ``category`` keeps entries of that category only; ``open_now`` keeps those whose
        service hours cover ``at`` (default: now) in the site zone. An empty query lists.
        """
        ranked = self._ranked(tuple(query.lower().split()),
                              category.lower() if category else None)
        if not open_now:
            return list(ranked[:limit])
        local = (at or dt.datetime.now(dt.UTC)).astimezone(self.zone)
        today, minute = local.weekday(), local.hour * 60 + local.minute
        hits: list[DirectoryEntry] = []
        for entry in ranked:
            if entry.hours.is_open_local(today, minute):
                hits.append(entry)
                if len(hits) == limit:
                    break
        return hits

    def _ranked(self, words: tuple[str, ...], category: str | None
                ) -> tuple[DirectoryEntry, ...]:
        """Every entry matching ``words`` and ``category``, best first. The index never
        changes, so results are kept: agents type the same few prefixes all day."""
        key = (words, category)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        items = self._items if category is None else self._by_category.get(category, [])
        for word in words:
            items = [item for item in items if word in item.blob]
        if len(words) == 1:
            # Entries are in name order already and sort is stable: rank alone decides.
            word = words[0]
            items = sorted(items, key=lambda item: _rank(item, word))
        elif words:
            items = sorted(items, key=lambda item: max(_rank(item, w) for w in words))
        result = tuple(item.entry for item in items)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = result
        return result


def _rank(item: _Indexed, word: str) -> int:
    if item.name == word:
        return _EXACT_NAME
    if item.name.startswith(word):
        return _NAME_PREFIX
    if word in item.name:
        return _NAME
    if any(word in k for k in item.keywords) or word in item.term_initials:
        return _KEYWORD
    if any(word in c for c in item.categories):
        return _CATEGORY
    if item.initials.startswith(word):
        return _INITIALS_PREFIX
    if word in item.initials:
        return _INITIALS
    return _OTHER
