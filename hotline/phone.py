# -*- test-case-name: tests.test_phone -*-
"""Phone numbers as the hotline stores them (digits only) and shows them to departments (masked).

Callers reach us with numbers in many spellings: ``+86 138-1234-0000``, ``0086 13812340000``,
``(010) 8365 8365``. A citizen must be one row whatever the spelling, so every number is
normalised on intake, before it is stored or looked up.
"""

from __future__ import annotations

import re

__all__ = ["InvalidPhoneNumber", "normalise", "mask", "is_mobile", "redact_numbers"]

_SEPARATORS = str.maketrans("", "", " -()./\t")
_COUNTRY_PREFIXES = ("+86", "0086")
#: Shortest and longest number we accept once normalised: service numbers (12345) to full
#: landline numbers with area code and extension-free subscriber number.
MIN_DIGITS = 3
MAX_DIGITS = 15


class InvalidPhoneNumber(ValueError):
    """A string that cannot be a phone number; the message says what is wrong with it."""


def normalise(raw: str) -> str:
    """Return the digits of ``raw`` without country prefix, separators or spaces.

    ``+86``/``0086`` are dropped, as is a bare ``86`` in front of an 11-digit mobile number,
    so a mobile is always its 11 national digits and a landline keeps its leading ``0`` area code.

    Raises InvalidPhoneNumber when ``raw`` has other characters, or too few or too many digits.
    """
    if raw is None:
        raise InvalidPhoneNumber("no phone number given")
    text = str(raw).strip().translate(_SEPARATORS)
    for prefix in _COUNTRY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if not text:
        raise InvalidPhoneNumber(f"{raw!r} has no digits")
    if not text.isascii() or not text.isdigit():
        raise InvalidPhoneNumber(f"{raw!r} has characters other than digits, spaces, "
                                 "dashes, brackets and a leading +86")
    if len(text) == 13 and text.startswith("861"):
        text = text[2:]
    if not MIN_DIGITS <= len(text) <= MAX_DIGITS:
        raise InvalidPhoneNumber(f"{raw!r} has {len(text)} digits; a phone number has "
                                 f"{MIN_DIGITS} to {MAX_DIGITS}")
    return text


def is_mobile(number: str) -> bool:
    """Whether a normalised number is a mainland mobile number (11 digits starting with 1)."""
    return len(number) == 11 and number.startswith("1")


def mask(number: str) -> str:
    """The number as a department or a report may see it: ``13812340000`` → ``138****0000``.

    The first three and last four digits stay so staff can tell callers apart and read a number
    back; numbers of seven digits or fewer keep only their last two.
    """
    if len(number) <= 7:
        return "*" * max(len(number) - 2, 1) + number[-2:] if len(number) > 2 else "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


#: Digits as a transcript may write them: Arabic, or Chinese numerals as said aloud (幺 is how a
#: 1 is read out in a phone number).
_DIGIT = "0-9０-９零〇一二三四五六七八九幺两"
_NUMERAL_VALUE = str.maketrans("０１２３４５６７８９零〇一二三四五六七八九幺两",
                               "01234567890012345678912")
#: A run of at least seven digits, single spaces or hyphens allowed between them.
_NUMBER_RUN = re.compile(rf"[{_DIGIT}](?:[ \-]?[{_DIGIT}]){{6,}}")


def redact_numbers(text: str) -> str:
    """Mask every phone-number-like run of digits in free text (a transcript), as ``mask`` does
    for a number: ``我的电话是一三八一二三四零零零零`` → ``我的电话是138****0000``.

    For readers whose lists show masked numbers only: a number said aloud is the same number.
    """
    def masked(m: re.Match[str]) -> str:
        digits = re.sub(r"[ \-]", "", m.group(0)).translate(_NUMERAL_VALUE)
        return mask(digits)

    return _NUMBER_RUN.sub(masked, text)
