"""Phone number normalisation and masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline import phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("13812340000", "13812340000"),
    ("+86 138-1234-0000", "13812340000"),
    ("0086 13812340000", "13812340000"),
    ("8613812340000", "13812340000"),
    ("(010) 8365-8365", "01083658365"),
    ("12345", "12345"),
])
def test_normalise_spellings(raw, expected):
    """Common spellings of one number normalise to the same digits."""
    assert phone.normalise(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "abc", "138１２３40000", "+86", "12", "1" * 16])
def test_normalise_refuses(raw):
    """Empty, non-digit, too short and too long numbers are refused with a message."""
    with pytest.raises(phone.InvalidPhoneNumber):
        phone.normalise(raw)


@pytest.mark.parametrize(("number", "masked"), [
    ("13812340000", "138****0000"),
    ("01083658365", "010****8365"),
    ("83658365", "836*8365"),
    ("12345", "***45"),
])
def test_mask(number, masked):
    """Masks keep the first three and last four digits (last two for short numbers)."""
    assert phone.mask(number) == masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_masks_keep_length_and_ends(number):
    """Any mobile number masks to 3 digits, 4 stars, 4 digits."""
    masked = phone.mask(number)
    assert masked == number[:3] + "****" + number[-4:]
    assert phone.is_mobile(phone.normalise("+86" + number))
