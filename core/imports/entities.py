"""The importable entities: their columns, their registry functions and their natural keys.

Each entity's rows are parsed by ``parse_<record>(fields)`` (or ``make_<record>(*cells)``)
and written by ``upsert_<name>(conn, records)`` of its registry module, imported only
when used. The natural key is what a re-import updates by, and what may appear only once
in one file.
"""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Table

from community365.config import AreaLevel
from community365.db import schema
from community365.db.bulk import Write
from community365.errors import UsageError
from community365.imports.columns import Column

Parse = Callable[[Mapping[str, str]], Any]
Pick = Callable[[list[Any]], tuple[Any, ...]]
Key = tuple[str, Hashable]


@attrs.frozen
class Entity:
    """One importable entity, read by the registry module ``community365.registry.<module>``
    with ``parse_<record>(fields)`` and written with ``upsert_<name>(conn, records)``.

    ``key`` gives a parsed record's natural key as ``(field, value)``, or None for a record
    without one. ``whole_file`` entities are written in one batch because their rows refer
    to each other in any order (areas: parents may come after their children). A module
    with ``make_<record>`` (``builds``) parses a row from its cells in the order of
    :attr:`columns`, without a mapping per row.
    """

    name: str
    zh: str
    columns: tuple[Column, ...]
    module: str
    record: str
    key: Callable[[Any], Key | None]
    whole_file: bool = False
    takes_levels: bool = False
    builds: bool = False

    @property
    def table(self) -> Table:
        """The table its records go to: the core table of the same name."""
        return schema.metadata.tables[self.name]

    def _registry(self, function: str) -> Any:
        return getattr(importlib.import_module(f"community365.registry.{self.module}"), function)

    def parser(self) -> Parse:
        """The registry's ``parse_<record>``, which takes a mapping of fields."""
        return self._registry(f"parse_{self.record}")

    def row_parser(self, fields: Sequence[str]) -> tuple[Callable[..., Any], Pick]:
        """``(build, pick)`` for rows whose cells belong to ``fields`` (a matched header),
        in that order: a row's record is ``build(*pick(cells))``, once the row has one more
        cell, None, which stands for each column the file lacks.

        ``build`` is ``make_<record>``, which takes the cells in the order of
        :attr:`columns`, or else ``parse_<record>``, given a mapping of fields."""
        if not self.builds:
            names = list(fields)
            return self.parser(), lambda cells: (dict(zip(names, cells, strict=False)),)
        absent = len(fields)
        indexes = [fields.index(c.field) if c.field in fields else absent for c in self.columns]
        return self._registry(f"make_{self.record}"), operator.itemgetter(*indexes)

    def writer(self, levels: Sequence[AreaLevel]) -> Write:
        """The registry's ``upsert_<name>``, bound to the district's area levels if it needs
        them."""
        upsert = self._registry(f"upsert_{self.name}")
        return functools.partial(upsert, levels=levels) if self.takes_levels else upsert


def _code_key(record: Any) -> Key:
    return ("code", record.code)


def _person_key(record: Any) -> Key | None:
    if record.id_number:
        return ("id_number", record.id_number)
    return ("name", (record.household_code, record.name)) if record.household_code else None


def _duty_key(record: Any) -> Key:
    return ("duty", (record.handler_code, record.area_code, record.service_group, record.role))


def _optional(**headers: str) -> tuple[Column, ...]:
    """Optional columns, ``field="中文表头"``, in this order."""
    return tuple(Column(field, zh) for field, zh in headers.items())


_AREA_COLUMNS = (
    Column("code", "区域编码", required=True),
    Column("name", "区域名称", required=True, extra=("网格名称", "社区名称")),
    *_optional(level="层级", parent="上级编码"),
)
_HOUSEHOLD_COLUMNS = (
    Column("code", "户号", required=True, extra=("户编号", "户编码")),
    Column("area", "网格编码", required=True),
    *_optional(address="地址", phone="联系电话"),
)
# In the order make_person takes them.
_PERSON_COLUMNS = (
    Column("name", "姓名", required=True),
    *_optional(id_number="身份证号", gender="性别", birth_date="出生日期"),
    *_optional(phone="联系电话", household="户号", tags="标签"),
)
_HANDLER_COLUMNS = (
    Column("code", "处置人编码", required=True),
    Column("name", "名称", required=True),
    Column("kind", "类型", required=True),
    *_optional(phone="联系电话", id_number="身份证号", skills="技能"),
)
_DUTY_COLUMNS = (
    Column("handler", "处置人编码", required=True),
    Column("area", "区域编码", required=True),
    Column("role", "角色", required=True),
    *_optional(service_group="服务类别"),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "areas",
            "区域",
            _AREA_COLUMNS,
            "areas",
            "area",
            _code_key,
            whole_file=True,
            takes_levels=True,
        ),
        Entity("households", "住户", _HOUSEHOLD_COLUMNS, "households", "household", _code_key),
        Entity("persons", "居民", _PERSON_COLUMNS, "people", "person", _person_key, builds=True),
        Entity("handlers", "处置人", _HANDLER_COLUMNS, "handlers", "handler", _code_key),
        Entity("duties", "责任", _DUTY_COLUMNS, "handlers", "duty", _duty_key),
    )
}


def get_entity(name: str) -> Entity:
    """The entity called ``name`` (areas, households, persons, handlers, duties)."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise UsageError(f"cannot import {name!r}; choose one of: {', '.join(ENTITIES)}") from None
