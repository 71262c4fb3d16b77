"""Resident ID numbers (GB 11643), phone numbers, and masking them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from community365.registry.contact import InvalidPhone, mask_id_number, mask_phone, parse_phone
from community365.registry.idcard import (
    PROVINCES,
    InvalidIdNumber,
    check_char,
    looks_like_id_number,
    make_id_number,
    parse_id_number,
)

TODAY = dt.date.today()

regions = st.builds(
    str.__add__, st.sampled_from(sorted(PROVINCES)), st.from_regex(r"[0-9]{4}", fullmatch=True)
)
births = st.dates(min_value=dt.date(1880, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)
id_numbers = st.builds(make_id_number, regions, births, sequences)


def with_check(first17: str) -> str:
    """Seventeen characters completed with their right check character."""
    return first17 + check_char(first17)


# -- ID numbers -------------------------------------------------------------------------------


def test_example_from_the_standard():
    # The worked example of GB 11643-1999: a woman born on 31 December 1949 in Beijing.
    parsed = parse_id_number(" 11010519491231002x ")
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "F"
    assert parsed.region == "110105"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1101051949123100", "18 characters, got 16"),
        ("11010519491231002X1", "18 characters, got 19"),
        ("11010519491231A02X", "17 digits then a digit or X"),
        ("X10105194912310022", "17 digits then a digit or X"),
        (with_check("99010519491231002"), "region 990105"),
        (with_check("11010519491331002"), "birth date 19491331 is not a date"),
        (with_check("11010519490230002"), "birth date 19490230 is not a date"),
        (with_check("11010518791231002"), "out of range"),
        ("110105194912310021", "check character is 1, expected X"),
    ],
)
def test_bad_numbers_are_rejected_with_the_reason(number, message):
    with pytest.raises(InvalidIdNumber, match=message):
        parse_id_number(number)


WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643-1999, table 1


@given(st.from_regex(r"[0-9]{17}", fullmatch=True))
def test_check_character_is_the_weighted_sum_of_the_standard(first17):
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    assert check_char(first17) == "10X98765432"[total % 11]


def test_birth_date_after_today_is_rejected():
    number = make_id_number("330212", dt.date(2020, 5, 6), 11)
    assert parse_id_number(number, today=dt.date(2020, 5, 6)).birth_date == dt.date(2020, 5, 6)
    with pytest.raises(InvalidIdNumber, match="out of range"):
        parse_id_number(number, today=dt.date(2020, 5, 5))
    tomorrow = make_id_number("330212", TODAY + dt.timedelta(days=1), 11)
    with pytest.raises(InvalidIdNumber, match="out of range"):
        parse_id_number(tomorrow)


def test_full_width_digits_are_not_digits():
    number = make_id_number("330212", dt.date(1960, 1, 1), 21)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    with pytest.raises(InvalidIdNumber, match="17 digits"):
        parse_id_number(full_width)


def test_the_shape_of_an_id_number_tells_it_from_a_code():
    number = make_id_number("330212", dt.date(1960, 1, 1), 21)
    assert looks_like_id_number(f" {number.lower()} ")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number[:17]) + number[17]
    for other in ("V001", "HC-01-001/张三", number[:17], number + "1", full_width, "pool:330212"):
        assert not looks_like_id_number(other), other


@pytest.mark.parametrize(("region", "sequence"), [("33021", 1), ("33021a", 1), ("330212", 1000)])
def test_make_id_number_refuses_what_cannot_be_a_number(region, sequence):
    with pytest.raises(ValueError, match="6-digit region"):
        make_id_number(region, dt.date(1960, 1, 1), sequence)


@given(regions, births, sequences)
def test_built_numbers_parse_back_to_birth_date_and_gender(region, birth, sequence):
    number = make_id_number(region, birth, sequence)
    parsed = parse_id_number(number)
    assert parsed.number == number
    assert parsed.region == region
    assert parsed.birth_date == birth
    assert parsed.gender == ("M" if sequence % 2 else "F")


@given(id_numbers, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_changing_any_one_character_is_rejected(number, position, replacement):
    if number[position] == replacement:
        replacement = "0" if replacement == "1" else "1"
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidIdNumber):
        parse_id_number(changed)


@given(id_numbers)
def test_masking_keeps_first_six_and_last_four(number):
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert masked[:6] == number[:6]
    assert masked[-4:] == number[-4:]
    assert set(masked[6:-4]) == {"*"}


def test_masking_nothing_or_short_values():
    assert mask_id_number(None) is None
    assert mask_id_number("") == ""
    assert mask_id_number("12345") == "*****"


# -- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0086-138-1234-5678", "13812345678"),
        ("(0574) 87654321", "057487654321"),
        ("0574-87654321", "0574-87654321"),
        ("010-1234567", "010-1234567"),
    ],
)
def test_phones_are_normalised(text, phone):
    assert parse_phone(text) == phone


@pytest.mark.parametrize(
    "text",
    ["12812345678", "1381234567", "138123456789", "87654321", "１３８１２３４５６７８", "abc"],
)
def test_bad_phones_are_rejected(text):
    with pytest.raises(InvalidPhone, match="not a phone number"):
        parse_phone(text)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_mobiles_keep_first_three_and_last_four(mobile):
    assert parse_phone(mobile) == mobile
    assert mask_phone(mobile) == mobile[:3] + "****" + mobile[-4:]


def test_masked_landline_hides_the_middle():
    masked = mask_phone("0574-87654321")
    assert masked == "057****4321"
    assert "8765" not in masked
    assert mask_phone(None) is None
