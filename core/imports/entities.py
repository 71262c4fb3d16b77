"""The importable entities: their columns, their registry functions and their natural keys.

Each entity's rows are parsed by ``parse_<x>(fields)`` and written by
``upsert_<xs>(conn, records)`` of its registry module, imported only when used. The natural
key is what a re-import updates by, and what may appear only once in one file.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from community365.config import AreaLevel
from community365.db import schema
from community365.errors import FieldError, UsageError
from community365.imports.columns import Column

Parse = Callable[[Mapping[str, str]], Any]
Key = tuple[str, Hashable]
Write = Callable[[Connection, Sequence[Any]], list[tuple[int, FieldError]]]


@attrs.frozen
class Entity:
    """One importable entity. ``key`` gives a parsed record's natural key as
    ``(field, value)``, or None for a record without one.

    ``whole_file`` entities are written in one batch because their rows refer to each
    other in any order (areas: parents may come after their children).
    """

    name: str
    zh: str
    table: Table
    columns: tuple[Column, ...]
    module: str
    parse_name: str
    upsert_name: str
    key: Callable[[Any], Key | None]
    whole_file: bool = False
    takes_levels: bool = False

    def parser(self) -> Parse:
        """The registry's ``parse_<x>``."""
        return getattr(importlib.import_module(self.module), self.parse_name)

    def writer(self, levels: Sequence[AreaLevel]) -> Write:
        """The registry's ``upsert_<xs>``, bound to the district's area levels if it needs them."""
        upsert = getattr(importlib.import_module(self.module), self.upsert_name)
        return functools.partial(upsert, levels=levels) if self.takes_levels else upsert


def _code_key(record: Any) -> Key:
    return ("code", record.code)


def _person_key(record: Any) -> Key | None:
    if record.id_number:
        return ("id_number", record.id_number)
    return ("name", (record.household_code, record.name)) if record.household_code else None


def _duty_key(record: Any) -> Key:
    return ("duty", (record.handler_code, record.area_code, record.service_group, record.role))


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "areas",
            "区域",
            schema.areas,
            (
                Column("code", "区域编码", required=True),
                Column("name", "区域名称", required=True, extra=("网格名称", "社区名称")),
                Column("level", "层级"),
                Column("parent", "上级编码"),
            ),
            "community365.registry.areas",
            "parse_area",
            "upsert_areas",
            _code_key,
            whole_file=True,
            takes_levels=True,
        ),
        Entity(
            "households",
            "住户",
            schema.households,
            (
                Column("code", "户号", required=True, extra=("户编号", "户编码")),
                Column("area", "网格编码", required=True),
                Column("address", "地址"),
                Column("phone", "联系电话"),
            ),
            "community365.registry.people",
            "parse_household",
            "upsert_households",
            _code_key,
        ),
        Entity(
            "persons",
            "居民",
            schema.persons,
            (
                Column("name", "姓名", required=True),
                Column("id_number", "身份证号"),
                Column("gender", "性别"),
                Column("birth_date", "出生日期"),
                Column("phone", "联系电话"),
                Column("household", "户号"),
                Column("tags", "标签"),
            ),
            "community365.registry.people",
            "parse_person",
            "upsert_persons",
            _person_key,
        ),
        Entity(
            "handlers",
            "处置人",
            schema.handlers,
            (
                Column("code", "处置人编码", required=True),
                Column("name", "名称", required=True),
                Column("kind", "类型", required=True),
                Column("phone", "联系电话"),
                Column("id_number", "身份证号"),
                Column("skills", "技能"),
            ),
            "community365.registry.handlers",
            "parse_handler",
            "upsert_handlers",
            _code_key,
        ),
        Entity(
            "duties",
            "责任",
            schema.duties,
            (
                Column("handler", "处置人编码", required=True),
                Column("area", "区域编码", required=True),
                Column("role", "角色", required=True),
                Column("service_group", "服务类别"),
            ),
            "community365.registry.handlers",
            "parse_duty",
            "upsert_duties",
            _duty_key,
        ),
    )
}


def get_entity(name: str) -> Entity:
    """The entity called ``name`` (areas, households, persons, handlers, duties)."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise UsageError(f"cannot import {name!r}; choose one of: {', '.join(ENTITIES)}") from None
