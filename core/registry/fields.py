"""Parsing the raw text fields of registry records: an import's cells, the CLI's options.

Each parser takes text as a person typed it and returns the value to store, or raises
:class:`~community365.errors.FieldError` naming the field and saying what is wrong.
Surrounding spaces never count; a blank optional field is "not given".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TypeVar

from community365.errors import FieldError
from community365.registry.contact import InvalidPhone, parse_phone
from community365.registry.idcard import IdNumber, InvalidIdNumber, parse_id_number

T = TypeVar("T")

# Lists in one cell (tags, skills): ; ； , ， 、 | ｜ and white space all separate.
_WORD_SEPARATORS = re.compile(r"[;；,，、|｜\s]+")
_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})|([0-9]{4})([0-9]{2})([0-9]{2})")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")


def text(fields: Mapping[str, str | None], key: str) -> str:
    """The field's text without surrounding spaces; '' when it is absent or blank."""
    return (fields.get(key) or "").strip()


def bounded(field: str, value: str, limit: int) -> str:
    """``value``, or FieldError when it is longer than ``limit`` characters."""
    if len(value) > limit:
        raise FieldError(field, f"longer than {limit} characters")
    return value


def required(
    fields: Mapping[str, str | None], key: str, limit: int, missing: str = "missing"
) -> str:
    """The field's text, which must be there and at most ``limit`` characters long."""
    value = text(fields, key)
    if not value:
        raise FieldError(key, missing)
    return bounded(key, value, limit)


def code(fields: Mapping[str, str | None], key: str) -> str:
    """A code of letters, digits, '-', '_' and '.', starting with a letter or digit."""
    value = required(fields, key, 40)
    if not _CODE.fullmatch(value):
        raise FieldError(key, f"{value!r} is not a code (letters, digits, '-', '_', '.')")
    return value


def choice(field: str, aliases: Mapping[str, T], value: str, known: str) -> T:
    """What ``value`` (any case) stands for in ``aliases``, whose keys are lower-case;
    FieldError listing the ``known`` spellings otherwise."""
    found = aliases.get(value)
    if found is None:
        found = aliases.get(value.strip().lower())
    if found is None:
        raise FieldError(field, f"unknown {field} {value.strip()!r} ({known})")
    return found


def phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number as stored (see :func:`~community365.registry.contact.parse_phone`);
    None when blank."""
    if not value or value.isspace():
        return None
    try:
        return parse_phone(value)
    except InvalidPhone as exc:
        raise FieldError(field, str(exc)) from None


def id_number(value: str, field: str = "id_number") -> IdNumber:
    """A valid resident ID number with the birth date and gender it holds."""
    try:
        return parse_id_number(value)
    except InvalidIdNumber as exc:
        raise FieldError(field, str(exc)) from None


def parse_date(field: str, value: str) -> dt.date:
    """A date written 2024-01-31, 2024/1/31, 2024.1.31 or 20240131."""
    # Nearly every date a ledger holds is ISO already: one C call, no regex.
    if len(value) == 10 and value[4] == "-" == value[7]:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    match = _DATE.fullmatch(value.strip())
    if match is None:
        raise FieldError(field, f"not a date: {value!r} (use 2024-01-31, 2024/1/31 or 20240131)")
    g = match.groups()
    year, month, day = (g[0], g[2], g[3]) if g[0] else (g[4], g[5], g[6])
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise FieldError(field, f"not a date: {value!r}") from None


def words(field: str, value: str, limit: int = 50) -> tuple[str, ...]:
    """A cell's list (tags, skills): split on the separators, in order, each once."""
    found = tuple(dict.fromkeys(word for word in _WORD_SEPARATORS.split(value) if word))
    for word in found:
        if len(word) > limit:
            raise FieldError(field, f"{word[:20]!r}... is longer than {limit} characters")
    return found
