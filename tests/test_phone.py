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


@pytest.mark.parametrize("text, expected", [
    ("我的电话是一三八一二三四零零零零", "我的电话是138****0000"),
    ("号码 138 1234 5678 谢谢", "号码 138****5678 谢谢"),
    ("幺三九 一二三四 五六七八", "139****5678"),
    ("家里电话八 三 六 五 八 三 六 五", "家里电话836*8365"),
    ("幸福路12号三楼", "幸福路12号三楼"),
    ("2026年11月27日下午", "2026年11月27日下午"),
])
def test_redact_numbers_masks_numbers_said_aloud(text, expected):
    """Phone-number-like digit runs, in Arabic or spoken Chinese numerals, are masked; short
    numbers (addresses, dates) are left as said."""
    from hotline.phone import redact_numbers

    assert redact_numbers(text) == expected
