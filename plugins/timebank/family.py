"""Family ties that allow gifts of hours (家庭成员间转赠).

A member may give hours to a spouse, a parent or a grandparent aged
``settings.family_min_age`` or more. The register knows households, not kinship, so the
tie is recorded here, once, by whoever checked it (the acting user is kept).
"""

from __future__ import annotations

import attrs
from sqlalchemy import insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365 import Context
from community365.db.schema import persons
from community365.errors import FieldError, UsageError
from community365.registry.people import get_person
from community365_timebank.tables import RELATIONS, family

RELATION_NAMES = {"spouse": "配偶", "parent": "父母", "grandparent": "祖父母/外祖父母"}
_ALIASES = {
    **{r: r for r in RELATIONS},
    "配偶": "spouse",
    "父母": "parent",
    "父亲": "parent",
    "母亲": "parent",
    "祖父母": "grandparent",
    "外祖父母": "grandparent",
}


@attrs.frozen
class Tie:
    """``relative`` is ``person``'s ``relation``; names and ID numbers of both."""

    person_name: str
    person_id_number: str | None
    relative_name: str
    relative_id_number: str | None
    relation: str


def parse_relation(text: str) -> str:
    try:
        return _ALIASES[text.strip().lower()]
    except KeyError:
        known = ", ".join(f"{r} ({RELATION_NAMES[r]})" for r in RELATIONS)
        raise FieldError("relation", f"expected one of {known}, got {text!r}") from None


def add_tie(ctx: Context, person_ref: str, relative_ref: str, relation: str) -> Tie:
    """Record that ``relative_ref`` is ``person_ref``'s ``relation`` (both ID numbers)."""
    conn = ctx.connection
    person, relative = get_person(conn, person_ref), get_person(conn, relative_ref)
    relation = parse_relation(relation)
    if person.id == relative.id:
        raise UsageError("a person is not their own relative")
    if relation_of(conn, person.id, relative.id) or relation_of(conn, relative.id, person.id):
        raise UsageError(f"{relative.name} is already recorded as {person.name}'s relative")
    conn.execute(
        insert(family).values(
            person_id=person.id,
            relative_id=relative.id,
            relation=relation,
            recorded_at=ctx.now,
            recorded_by=ctx.actor,
        )
    )
    return Tie(person.name, person.id_number, relative.name, relative.id_number, relation)


def relation_of(conn: Connection, person_id: int, relative_id: int) -> str | None:
    """What ``relative_id`` is to ``person_id`` (spouse, parent, grandparent), or None.
    A spouse recorded either way round counts both ways; a parent does not."""
    found = conn.execute(
        select(family.c.relation).where(
            family.c.person_id == person_id, family.c.relative_id == relative_id
        )
    ).scalar()
    if found is None:
        found = conn.execute(
            select(family.c.relation).where(
                family.c.person_id == relative_id,
                family.c.relative_id == person_id,
                family.c.relation == "spouse",
            )
        ).scalar()
    return found


def ties_of(conn: Connection, person_ref: str) -> list[Tie]:
    """Every recorded tie of the person, either way round."""
    person = get_person(conn, person_ref)
    one, other = aliased(persons, name="one"), aliased(persons, name="other")
    rows = conn.execute(
        select(one.c.name, one.c.id_number, other.c.name, other.c.id_number, family.c.relation)
        .join(one, one.c.id == family.c.person_id)
        .join(other, other.c.id == family.c.relative_id)
        .where(or_(family.c.person_id == person.id, family.c.relative_id == person.id))
        .order_by(family.c.id)
    ).all()
    return [Tie(*row) for row in rows]
