"""Chinese resident identity numbers (居民身份证号码, GB 11643-1999).

Eighteen characters: a 6-digit region code, the birth date as YYYYMMDD, a 3-digit sequence
whose last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check
character (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

_CHECK = "10X98765432"  # by the weighted sum modulo 11
# The year this process started: time only moves on, so a birth year before it is past.
_YEAR = dt.date.today().year
# First two digits of the region code: the provinces, autonomous regions and
# municipalities of GB/T 2260, plus 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
# [0-9], not \d: \d also matches full-width and other Unicode digits.
_REGION = re.compile(r"[0-9]{6}")


class InvalidIdNumber(ValueError):
    pass


@attrs.frozen
class IdNumber:
    number: str
    birth_date: dt.date
    gender: str  # "M" or "F"

    @property
    def region(self) -> str:
        return self.number[:6]


def check_char(first17: str) -> str:
    """The check character of 17 ASCII digits: ISO 7064 MOD 11-2.

    The weights are 2**17 .. 2**1 modulo 11, and 13 is 2 modulo 11, so the weighted sum is
    twice the digits read as a base-13 number, modulo 11: one C call instead of 17
    multiplications."""
    return _CHECK[2 * int(first17, 13) % 11]


def looks_like_id_number(text: str) -> bool:
    """Whether ``text`` has the shape of an ID number (17 ASCII digits, then a digit or X):
    enough to tell an ID number from a code in a reference, not a validation."""
    number = text.strip()
    return (
        len(number) == 18
        and number.isascii()
        and number[:17].isdigit()
        and number[17] in "0123456789Xx"
    )


def parse_id_number(text: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate an ID number; return it normalised (upper-case X) with birth date and gender."""
    return IdNumber(*id_parts(text, today=today))


def id_parts(text: str, *, today: dt.date | None = None) -> tuple[str, dt.date, str]:
    """:func:`parse_id_number` as a plain ``(number, birth_date, gender)``: imports check
    a million of them."""
    number = text.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(f"ID number must have 18 characters, got {len(number)}")
    # isdigit() alone would take other scripts' digits too; isascii() leaves only 0-9.
    if not (number.isascii() and number[:17].isdigit() and number[17] in "0123456789X"):
        raise InvalidIdNumber("ID number must be 17 digits then a digit or X")
    if number[:2] not in PROVINCES:
        raise InvalidIdNumber(f"ID number region {number[:6]} is not a Chinese region code")
    try:
        birth = dt.date.fromisoformat(number[6:14])  # YYYYMMDD; the shape made it digits
    except ValueError:
        raise InvalidIdNumber(f"ID number birth date {number[6:14]} is not a date") from None
    # A birth before this year is never after today: ask the clock only about later ones.
    year = birth.year
    if year < 1880 or ((today or year >= _YEAR) and birth > (today or dt.date.today())):
        raise InvalidIdNumber(f"ID number birth date {birth} is out of range")
    check = _CHECK[2 * int(number[:17], 13) % 11]  # check_char, without the call
    if number[17] != check:
        raise InvalidIdNumber(f"ID number check character is {number[17]}, expected {check}")
    return number, birth, "M" if number[16] in "13579" else "F"


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID number (demo data and tests); ``sequence`` 0-999, odd for men."""
    if not _REGION.fullmatch(region) or not 0 <= sequence <= 999:
        raise ValueError(f"need a 6-digit region and a sequence 0-999, got {region!r}, {sequence}")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
