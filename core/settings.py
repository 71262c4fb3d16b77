"""Structuring TOML tables into attrs settings classes, with errors that name the key.

cattrs does the structuring; this module makes it strict (a string is not an int, a float
is not a bool) and turns its exception groups into one line per problem, such as
``plugins.timebank.daily_cap: expected int, got str 'eight'``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mapping,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
)
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from community365.errors import ConfigError

T = TypeVar("T")


class _WrongType(TypeError):
    def __init__(self, expected: str, value: Any) -> None:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        super().__init__(f"expected {expected}, got {type(value).__name__} {shown}")


def _strict(expected: type, name: str, accept: tuple[type, ...]) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and expected is not bool:
            raise _WrongType(name, value)
        if not isinstance(value, accept):
            raise _WrongType(name, value)
        return expected(value)

    return structure


def _decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _WrongType("a decimal number", value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _WrongType("a decimal number", value) from None
    if not number.is_finite():
        raise _WrongType("a finite decimal number", value)
    return number


def _date(value: Any, _: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _WrongType("a date (YYYY-MM-DD)", value)


def _time(value: Any, _: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise _WrongType("a time (HH:MM)", value)


def _only(kinds: tuple[type, ...], expected: str, hook: Any) -> Any:
    """``hook`` behind a check of the value's kind: cattrs would take any iterable for a
    list (a string as a list of letters) and fail on a non-table with an AttributeError."""

    def structure(value: Any, cls: Any) -> Any:
        if not isinstance(value, kinds):
            raise _WrongType(expected, value)
        return hook(value, cls)

    return structure


def _list_hook(cls: Any, conv: cattrs.Converter) -> Any:
    factory = (
        list_structure_factory if is_mutable_sequence(cls) else homogenous_tuple_structure_factory
    )
    return _only((list, tuple), "a list", factory(cls, conv))


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook_factory(
        attrs.has, lambda cls: _only((dict,), "a table", conv.gen_structure_attrs_fromdict(cls))
    )
    conv.register_structure_hook_factory(is_sequence, lambda cls: _list_hook(cls, conv))
    conv.register_structure_hook_factory(
        is_mapping, lambda cls: _only((dict,), "a table", conv.gen_structure_mapping(cls))
    )
    conv.register_structure_hook(int, _strict(int, "int", (int,)))
    conv.register_structure_hook(float, _strict(float, "float", (int, float)))
    conv.register_structure_hook(str, _strict(str, "str", (str,)))
    conv.register_structure_hook(bool, _strict(bool, "bool (true or false)", (bool,)))
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_structure_hook(dt.date, _date)
    conv.register_structure_hook(dt.time, _time)
    return conv


converter = make_converter()


def structure(data: Any, cls: type[T], path: str) -> T:
    """Structure ``data`` (a TOML table) into ``cls``; raise ConfigError naming ``path.key``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {type(data).__name__}")
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        problems = list(_problems(exc, path, cls))
        raise ConfigError("; ".join(problems) if problems else f"{path}: {exc}") from None


def _problems(exc: BaseException, path: str, cls: Any = None) -> list[str]:
    if isinstance(exc, ForbiddenExtraKeysError):
        known = ", ".join(a.name for a in attrs.fields(exc.cl)) if attrs.has(exc.cl) else ""
        return [
            f"{path}.{_toml_key(key)}: unknown key (known keys: {known})"
            for key in sorted(exc.extra_fields)
        ]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[str] = []
        for sub in exc.exceptions:
            found.extend(_problems(sub, _sub_path(sub, path), None))
        return found
    if isinstance(exc, KeyError):
        return [f"{path}: required key is missing"]
    return [f"{path}: {exc}"]


def _toml_key(key: str) -> str:
    """``key`` as TOML writes it in a dotted path: bare when it can be, else quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _sub_path(exc: BaseException, path: str) -> str:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if name is None:
            index = getattr(note, "index", None)
            if isinstance(index, str):  # a key of a table of tables
                return f"{path}.{_toml_key(index)}"
            if index is not None:
                return f"{path}[{index}]"
            continue
        return f"{path}.{name}"
    return path


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)
