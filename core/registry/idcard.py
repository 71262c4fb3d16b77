"""Chinese resident identity numbers (居民身份证号码, GB 11643-1999).

Eighteen characters: a 6-digit region code, the birth date as YYYYMMDD, a 3-digit sequence
whose last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check
character (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
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
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
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
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_number(text: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate an ID number; return it normalised (upper-case X) with birth date and gender."""
    number = text.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(f"ID number must have 18 characters, got {len(number)}")
    if not _SHAPE.fullmatch(number):
        raise InvalidIdNumber("ID number must be 17 digits then a digit or X")
    if number[:2] not in PROVINCES:
        raise InvalidIdNumber(f"ID number region {number[:6]} is not a Chinese region code")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"ID number birth date {number[6:14]} is not a date") from None
    if birth.year < 1880 or birth > (today or dt.date.today()):
        raise InvalidIdNumber(f"ID number birth date {birth} is out of range")
    expected = check_char(number[:17])
    if number[17] != expected:
        raise InvalidIdNumber(f"ID number check character is {number[17]}, expected {expected}")
    return IdNumber(number, birth, "M" if int(number[16]) % 2 else "F")


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID number (demo data and tests); ``sequence`` 0-999, odd for men."""
    if not _REGION.fullmatch(region) or not 0 <= sequence <= 999:
        raise ValueError(f"need a 6-digit region and a sequence 0-999, got {region!r}, {sequence}")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
