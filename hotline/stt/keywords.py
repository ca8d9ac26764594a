# -*- test-case-name: tests.stt.test_keywords -*-
"""Suggest a ticket's category, department and hotline from what was said in the call.

The directory's entries carry categories (供水) and keywords (停水|水压|爆管); the transcript is
matched against them and the best-scoring entry becomes a *suggestion* the agent sees beside the
ticket. It is never applied: a transcript can be wrong, and the agent decides.

Matching ignores spaces and punctuation (``evaluate.normalise``), because decoders split text
into their own words ("停 水" or "쓰레기 가") and keywords must still be found across the split.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hotline.directory.index import DirectoryEntry
from hotline.stt.evaluate import normalise

__all__ = ["Suggestion", "KeywordSpotter", "KEYWORD_WEIGHT", "CATEGORY_WEIGHT",
           "SPOT_MIN_CONFIDENCE"]

KEYWORD_WEIGHT = 2.0
CATEGORY_WEIGHT = 1.0
#: A word of the grammar-restricted pass counts only when the decoder was this sure of it.
SPOT_MIN_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Suggestion:
    """What the agent is offered: a category, the department, and the hotline to bridge in."""

    category: str | None
    department_code: str
    department_name: str
    hotline_id: int
    hotline_name: str
    hotline_number: str
    matched: tuple[str, ...]
    score: float
    #: "text" (found in the transcript) or "keyword-pass" (the grammar-restricted pass).
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "department": self.department_code,
                "department_name": self.department_name, "hotline_id": self.hotline_id,
                "hotline_name": self.hotline_name, "hotline_number": self.hotline_number,
                "matched": list(self.matched), "score": self.score, "source": self.source,
                "applied": False}

    def describe(self) -> str:
        """One line for the call note, worded as a suggestion."""
        what = f"category {self.category}, " if self.category else ""
        return (f"Suggestion (not applied, for the agent to confirm): {what}department "
                f"{self.department_code} {self.department_name}, hotline {self.hotline_name} "
                f"{self.hotline_number}; heard: {', '.join(self.matched)}")


@dataclass(frozen=True)
class _Terms:
    entry: DirectoryEntry
    keywords: tuple[tuple[str, str], ...]  # (as written, normalised)
    categories: tuple[tuple[str, str], ...]


class KeywordSpotter:
    """The directory's terms, ready to match; built from ``DirectoryEntry`` snapshots so it can
    be used on any thread."""

    def __init__(self, entries: Iterable[DirectoryEntry]) -> None:
        self._terms = []
        for entry in entries:
            keywords = tuple((k, normalise(k)) for k in entry.keywords if normalise(k))
            categories = tuple((c, normalise(c)) for c in entry.categories if normalise(c))
            if keywords or categories:
                self._terms.append(_Terms(entry, keywords, categories))

    def __len__(self) -> int:
        return len(self._terms)

    def grammar(self) -> list[str]:
        """Every keyword and category once, for a grammar-restricted decoding pass."""
        seen: dict[str, None] = {}
        for terms in self._terms:
            for written, _norm in terms.keywords + terms.categories:
                seen.setdefault(written, None)
        return list(seen)

    def suggest(self, text: str, *, source: str = "text") -> Suggestion | None:
        """The best entry for ``text``, or None when no term of any entry occurs in it.

        Score: 2 per keyword and 1 per category found; ties go to the entry with the most
        distinct terms, then to the first by name, so the same text always gives the same
        suggestion.
        """
        said = normalise(text)
        if not said:
            return None
        best: tuple[float, int, str, int] | None = None
        best_suggestion = None
        for terms in self._terms:
            keys = [w for w, n in terms.keywords if n in said]
            cats = [w for w, n in terms.categories if n in said]
            if not keys and not cats:
                continue
            score = KEYWORD_WEIGHT * len(keys) + CATEGORY_WEIGHT * len(cats)
            rank = (-score, -(len(keys) + len(cats)), terms.entry.name, terms.entry.id)
            if best is None or rank < best:
                best = rank
                entry = terms.entry
                category = cats[0] if cats else (entry.categories[0] if entry.categories
                                                 else None)
                best_suggestion = Suggestion(
                    category=category, department_code=entry.department_code,
                    department_name=entry.department_name, hotline_id=entry.id,
                    hotline_name=entry.name, hotline_number=entry.number,
                    matched=tuple(dict.fromkeys(keys + cats)), score=score, source=source)
        return best_suggestion

    def spotted_text(self, utterances: Iterable[Any]) -> str:
        """The words of a grammar-restricted pass the decoder was sure of, as one text."""
        return " ".join(w.word for u in utterances for w in u.words
                        if w.confidence >= SPOT_MIN_CONFIDENCE)
