"""Households (住户): a code, the area they live in, an address and a phone.

Imports parse each row with :func:`parse_household` and write whole batches with
:func:`upsert_households`; the CLI adds one at a time with :func:`add_household`, which
refuses a code that exists and then takes the same path with a batch of one. In an upsert
a blank address or phone keeps the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from community365.db import bulk
from community365.db.schema import areas, households, persons
from community365.errors import FieldError, NotFound
from community365.registry import fields
from community365.registry.areas import area_id


@attrs.frozen
class HouseholdRecord:
    """A household as an import or the CLI gives it: keyed by ``code``."""

    code: str
    area_code: str
    address: str = ""
    phone: str | None = None


@attrs.frozen
class HouseholdView:
    """A stored household with its area and number of members."""

    code: str
    area_code: str
    area_name: str
    address: str
    phone: str | None
    members: int


def parse_household(raw: Mapping[str, str]) -> HouseholdRecord:
    """A household from raw strings keyed code, area, address, phone."""
    code = fields.required(raw, "code", 40, "a household needs a code")
    if "/" in code or any(ch.isspace() for ch in code):
        raise FieldError("code", f"household codes cannot contain '/' or spaces: {code!r}")
    area = fields.required(raw, "area", 32, "a household needs an area code")
    address = fields.bounded("address", fields.text(raw, "address"), 200)
    return HouseholdRecord(code, area, address, fields.phone(raw.get("phone")))


_COLUMNS = ("code", "area_id", "address", "phone")
_UPDATE = {
    "area_id": "excluded.area_id",
    "address": "coalesce(nullif(excluded.address, ''), households.address)",
    "phone": bulk.kept(households, "phone"),
}


def upsert_households(
    conn: Connection, records: Sequence[HouseholdRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update households by code; return ``(index, error)`` for records whose area
    does not exist (those are not written). Within the batch the last record of a code wins.
    Does not commit."""
    area_ids = bulk.lookup(conn, areas.c.code, areas.c.id, (r.area_code for r in records))
    errors: list[tuple[int, FieldError]] = []
    rows: dict[str, tuple[Any, ...]] = {}
    for index, record in enumerate(records):
        found = area_ids.get(record.area_code)
        if found is None:
            errors.append((index, FieldError("area", f"no area {record.area_code!r}")))
            continue
        rows[record.code] = (record.code, found, record.address, record.phone)
    bulk.upsert_rows(conn, households, _COLUMNS, list(rows.values()), key=["code"], update=_UPDATE)
    return errors


def add_household(conn: Connection, record: HouseholdRecord) -> HouseholdView:
    """Add a new household; a code that exists is a FieldError."""
    if bulk.exists(conn, households.c.code, record.code):
        raise FieldError("code", f"household {record.code} already exists")
    bulk.write_one(conn, upsert_households, record)
    return get_household(conn, record.code)


def _household_query() -> Select[Any]:
    members = (
        select(func.count())
        .where(persons.c.household_id == households.c.id)
        .scalar_subquery()
        .label("members")
    )
    return (
        select(
            households.c.code,
            areas.c.code.label("area_code"),
            areas.c.name.label("area_name"),
            households.c.address,
            households.c.phone,
            members,
        )
        .join_from(households, areas, households.c.area_id == areas.c.id)
        .order_by(households.c.code)
    )


def get_household(conn: Connection, code: str) -> HouseholdView:
    """The household with ``code``, or NotFound."""
    row = conn.execute(_household_query().where(households.c.code == code)).first()
    if row is None:
        raise NotFound(f"no household with code {code!r}")
    return HouseholdView(*row)


def list_households(
    conn: Connection, area_code: str | None = None, limit: int | None = None
) -> list[HouseholdView]:
    """Households in code order, optionally only those in the subtree of ``area_code``."""
    query = _household_query().limit(limit)
    if area_code is not None:
        area_id(conn, area_code)
        query = query.where(areas.c.code.startswith(area_code, autoescape=True))
    return [HouseholdView(*row) for row in conn.execute(query)]
