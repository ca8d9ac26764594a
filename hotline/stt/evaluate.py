# -*- test-case-name: tests.stt.test_evaluate -*-
"""How good a model is on a site's own calls: character error rate against reference texts.

Characters, not words: Chinese has no spaces, and a model's word split (Korean morphemes,
Chinese words) is not the reference's. Spaces and punctuation are ignored on both sides.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["normalise", "edit_distance", "cer", "closest", "FileScore", "Evaluation",
           "evaluate_dir"]


def normalise(text: str) -> str:
    """The characters that count: letters and digits, lower-cased, width-folded (NFKC)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


def edit_distance(a: Sequence[object], b: Sequence[object]) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost one)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Edits needed to turn the hypothesis into the reference, per reference character.

    An empty reference scores 0.0 for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def closest(hypothesis: str, candidates: Sequence[str]) -> int:
    """Index of the candidate sentence nearest the hypothesis by character edits (the first on a
    tie): the pick of a closed sentence set after a grammar-restricted decode."""
    if not candidates:
        raise ValueError("no candidate sentences to choose from")
    hyp = normalise(hypothesis)
    return min(range(len(candidates)), key=lambda k: edit_distance(hyp, normalise(candidates[k])))


@dataclass(frozen=True)
class FileScore:
    name: str
    reference: str
    hypothesis: str
    edits: int
    ref_chars: int

    @property
    def cer(self) -> float:
        return self.edits / self.ref_chars if self.ref_chars else float(self.edits > 0)


@dataclass(frozen=True)
class Evaluation:
    files: tuple[FileScore, ...]
    skipped: tuple[str, ...]

    @property
    def cer(self) -> float:
        """Corpus CER: all edits over all reference characters (long calls weigh more)."""
        chars = sum(f.ref_chars for f in self.files)
        edits = sum(f.edits for f in self.files)
        return edits / chars if chars else 0.0


def evaluate_dir(directory: Path, transcribe: Callable[[Path], str]) -> Evaluation:
    """Score every ``NAME.wav`` that has a ``NAME.txt`` reference beside it (UTF-8).

    ``transcribe`` turns a file into text (the decoder with the site's model). WAV files without
    a reference are listed in ``skipped``. Raises ValueError when nothing can be scored.
    """
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder")
    files, skipped = [], []
    for wav in sorted(directory.glob("*.wav")):
        ref_path = wav.with_suffix(".txt")
        if not ref_path.is_file():
            skipped.append(wav.name)
            continue
        reference = ref_path.read_text("utf-8").strip()
        hypothesis = transcribe(wav)
        ref = normalise(reference)
        files.append(FileScore(name=wav.name, reference=reference, hypothesis=hypothesis,
                               edits=edit_distance(ref, normalise(hypothesis)),
                               ref_chars=len(ref)))
    if not files:
        raise ValueError(f"no NAME.wav with a NAME.txt reference in {directory}")
    return Evaluation(files=tuple(files), skipped=tuple(skipped))
