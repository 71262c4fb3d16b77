"""Tags (标签) that say which residents need attention: built-in ones and free ones.

The six built-in tags come with the database; any other name becomes a free tag when
first used. Tags are sensitive personal data: they appear in person output only, and
:func:`list_tags` gives counts, not names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from community365.db import bulk
from community365.db.schema import person_tags, tags
from community365.errors import FieldError
from community365.registry import fields

if TYPE_CHECKING:
    from community365.registry.people import PersonView


@attrs.frozen
class TagView:
    """A tag and the number of persons holding it."""

    name: str
    name_en: str
    builtin: bool
    persons: int


def parse_tags(text: str) -> tuple[str, ...]:
    """Tag names split on ; ， , 、 | and spaces, without repeats, in the order given."""
    return fields.words("tags", text)


def ensure_tags(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named tags, creating the missing ones as free tags."""
    names = set(names)
    found = bulk.lookup(conn, tags.c.name, tags.c.id, names)
    missing = sorted(names - found.keys())
    if missing:
        rows = [(name, "", False) for name in missing]
        bulk.upsert_rows(conn, tags, ("name", "name_en", "builtin"), rows, key=["name"])
        found.update(bulk.lookup(conn, tags.c.name, tags.c.id, missing))
    return found


def replace_tags(conn: Connection, wanted: Mapping[int, Sequence[str]]) -> None:
    """Give each person (by id) exactly the named tags."""
    tag_ids = ensure_tags(conn, (name for names in wanted.values() for name in names))
    for batch in bulk.batches(conn, wanted):
        conn.execute(delete(person_tags).where(bulk.among(conn, person_tags.c.person_id, batch)))
    _add_pairs(conn, wanted, tag_ids)


def _add_pairs(
    conn: Connection, wanted: Mapping[int, Sequence[str]], tag_ids: Mapping[str, int]
) -> None:
    pairs = [
        (person_id, tag_ids[name])
        for person_id, names in wanted.items()
        for name in dict.fromkeys(names)
    ]
    bulk.upsert_rows(conn, person_tags, ("person_id", "tag_id"), pairs, key=["person_id", "tag_id"])


def tags_of(conn: Connection, person_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Tag names of each person, built-in tags first."""
    found: dict[int, list[str]] = {}
    for batch in bulk.batches(conn, person_ids):
        query = (
            select(person_tags.c.person_id, tags.c.name)
            .join(tags)
            .where(bulk.among(conn, person_tags.c.person_id, batch))
            .order_by(tags.c.builtin.desc(), tags.c.id)
        )
        for person_id, name in conn.execute(query):
            found.setdefault(person_id, []).append(name)
    return {person_id: tuple(names) for person_id, names in found.items()}


def tag_person(conn: Connection, person: PersonView, names: Sequence[str]) -> None:
    """Give ``person`` the named tags (free tags are created); tags it has are kept."""
    _add_pairs(conn, {person.id: names}, ensure_tags(conn, names))


def untag_person(conn: Connection, person: PersonView, names: Sequence[str]) -> None:
    """Take the named tags from ``person``; each must be one it has."""
    for name in names:
        if name not in person.tags:
            raise FieldError("tag", f"{person.name} has no tag {name!r}")
    tag_ids = bulk.lookup(conn, tags.c.name, tags.c.id, names)
    conn.execute(
        delete(person_tags).where(
            person_tags.c.person_id == person.id, person_tags.c.tag_id.in_(tag_ids.values())
        )
    )


def list_tags(conn: Connection) -> list[TagView]:
    """Every tag with the number of persons holding it, built-in tags first."""
    counts = (
        select(person_tags.c.tag_id, func.count().label("persons"))
        .group_by(person_tags.c.tag_id)
        .subquery()
    )
    query = (
        select(tags.c.name, tags.c.name_en, tags.c.builtin, func.coalesce(counts.c.persons, 0))
        .outerjoin(counts, counts.c.tag_id == tags.c.id)
        .order_by(tags.c.builtin.desc(), tags.c.id)
    )
    return [
        TagView(name, name_en, bool(builtin), n)
        for name, name_en, builtin, n in conn.execute(query)
    ]


def add_tag(conn: Connection, name: str, name_en: str = "") -> TagView:
    """Create a free tag; a name that exists is a FieldError."""
    parsed = parse_tags(name)
    if len(parsed) != 1 or parsed[0] != name.strip():
        raise FieldError("name", f"a tag name is one word without ; , 、 | or spaces: {name!r}")
    if conn.execute(select(tags.c.id).where(tags.c.name == parsed[0])).first():
        raise FieldError("name", f"tag {parsed[0]} already exists")
    conn.execute(insert(tags).values(name=parsed[0], name_en=name_en.strip(), builtin=False))
    return TagView(parsed[0], name_en.strip(), False, 0)
