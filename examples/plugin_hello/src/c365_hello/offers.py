"""Posting offers and reading the board: plain functions over a unit of work."""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from c365_hello.settings import HelloSettings
from c365_hello.tables import offers
from community365 import Context
from community365.db.schema import areas
from community365.errors import FieldError
from community365.registry.areas import area_id, get_area


@attrs.frozen
class Offer:
    id: int
    area_code: str
    neighbour: str
    what: str
    offered_at: dt.datetime  # aware, UTC
    offered_by: str


def post_offer(
    ctx: Context, settings: HelloSettings, area_code: str, neighbour: str, what: str
) -> int:
    """Put an offer on the board of ``area_code``; return its number.

    Raises NotFound for an unknown area and FieldError for an empty field or a neighbour
    who already has ``settings.max_offers`` offers in that area.
    """
    conn = ctx.connection
    where = area_id(conn, area_code)
    neighbour, what = neighbour.strip(), what.strip()
    if not neighbour:
        raise FieldError("neighbour", "must not be empty")
    if not what:
        raise FieldError("what", "must not be empty")
    posted = conn.execute(
        select(func.count())
        .select_from(offers)
        .where(offers.c.area_id == where, offers.c.neighbour == neighbour)
    ).scalar_one()
    if posted >= settings.max_offers:
        raise FieldError(
            "neighbour",
            f"{neighbour} already has {posted} offer(s) in {area_code} "
            f"(plugins.hello.max_offers = {settings.max_offers})",
        )
    result = conn.execute(
        insert(offers).values(
            area_id=where,
            neighbour=neighbour,
            what=what,
            offered_at=ctx.now,
            offered_by=ctx.actor,
        )
    )
    return result.inserted_primary_key[0]


def board(conn: Connection, root_code: str) -> list[Offer]:
    """Every offer in the area subtree under ``root_code``, oldest first."""
    get_area(conn, root_code)  # NotFound for an unknown code
    rows = conn.execute(
        select(offers, areas.c.code.label("area_code"))
        .join(areas, areas.c.id == offers.c.area_id)
        .where(areas.c.code.startswith(root_code, autoescape=True))
        .order_by(offers.c.id)
    ).mappings()
    return [
        Offer(
            id=r["id"],
            area_code=r["area_code"],
            neighbour=r["neighbour"],
            what=r["what"],
            offered_at=r["offered_at"],
            offered_by=r["offered_by"],
        )
        for r in rows
    ]
