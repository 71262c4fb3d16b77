"""Persons (居民): parsing raw fields, bulk upserts, and lookups.

Imports parse each row with :func:`parse_person` (or :func:`make_person`, the same checks
on cells already picked) and hand whole batches to :func:`upsert_persons`, which resolves
households with one query per batch and writes through :func:`~community365.db.bulk.upsert_rows`.
The CLI adds one person at a time with :func:`add_person`, which refuses a key that exists
and then takes the same path with a batch of one.

A person is found again by ID number, or, without one, by name within a household (a
partial unique index on ``(household_id, name) WHERE id_number IS NULL``). In an upsert a
blank optional field never erases a stored value: a ledger with fewer columns must not
wipe what another ledger filled in.

Households and tags have their own modules; their public names are importable from here
too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs
from sqlalchemy import Select, select
from sqlalchemy.engine import Connection

from community365.db import bulk
from community365.db.schema import areas, households, person_tags, persons, tags
from community365.errors import FieldError, NotFound, UsageError
from community365.registry import fields
from community365.registry.areas import area_id
from community365.registry.contact import match_mobile
from community365.registry.households import (
    HouseholdRecord,
    HouseholdView,
    add_household,
    get_household,
    list_households,
    parse_household,
    upsert_households,
)
from community365.registry.idcard import InvalidIdNumber, id_parts
from community365.registry.tags import (
    TagView,
    add_tag,
    ensure_tags,
    list_tags,
    parse_tags,
    replace_tags,
    tag_person,
    tags_of,
    untag_person,
)

# The household and tag names stay importable from here, where they were first.
__all__ = [
    "PERSON_FIELDS",
    "HouseholdRecord",
    "HouseholdView",
    "PersonQuery",
    "PersonRecord",
    "PersonView",
    "TagView",
    "add_household",
    "add_person",
    "add_tag",
    "age_on",
    "birth_date_bounds",
    "ensure_tags",
    "get_household",
    "get_person",
    "list_households",
    "list_persons",
    "list_tags",
    "make_person",
    "parse_gender",
    "parse_household",
    "parse_person",
    "parse_tags",
    "tag_person",
    "untag_person",
    "upsert_households",
    "upsert_persons",
]

_GENDERS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}


class PersonRecord(NamedTuple):
    """A person as an import or the CLI gives it: keyed by ID number, else household + name.

    ``tags`` None leaves the person's tags alone; a tuple (even empty) replaces them.
    A named tuple rather than a frozen attrs class: an import makes one per row, and a
    tuple is made in half the time.
    """

    name: str
    id_number: str | None = None
    gender: str | None = None  # "M"/"F"
    birth_date: dt.date | None = None
    phone: str | None = None
    household_code: str | None = None
    tags: tuple[str, ...] | None = None


@attrs.frozen
class PersonView:
    """A stored person; ``area_code`` is their household's area."""

    id: int
    name: str
    id_number: str | None
    gender: str | None
    birth_date: dt.date | None
    phone: str | None
    household_code: str | None
    area_code: str | None
    tags: tuple[str, ...] = ()


@attrs.frozen
class PersonQuery:
    """Filters of :func:`list_persons`; ages are full years on ``today``."""

    area_code: str | None = None
    household_code: str | None = None
    tag: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    today: dt.date | None = None
    limit: int | None = None


# -- parsing raw fields ---------------------------------------------------------------------

# The fields of a person in the order :func:`make_person` takes them.
PERSON_FIELDS = ("name", "id_number", "gender", "birth_date", "phone", "household", "tags")


def parse_gender(text: str) -> str:
    """M or F from M/F/男/女/male/female (any case)."""
    return fields.choice("gender", _GENDERS, text, "M/F/男/女/male/female")


def parse_person(raw: Mapping[str, str]) -> PersonRecord:
    """A person from raw strings keyed name, id_number, gender, birth_date, phone,
    household, tags.

    A valid ID number gives birth date and gender; a row that also gives them must agree.
    Without an ID number the person needs a household. A missing ``tags`` key gives
    ``tags=None`` (leave tags alone); a present but empty one gives ``()`` (clear them).
    """
    return make_person(*map(raw.get, PERSON_FIELDS))


def make_person(
    name: str | None,
    id_number: str | None = None,
    gender: str | None = None,
    birth_date: str | None = None,
    phone: str | None = None,
    household: str | None = None,
    tags: str | None = None,
) -> PersonRecord:
    """:func:`parse_person` on the raw text of each field, None or '' when not given
    (``tags`` None: no tags column). Imports call it with a row's cells."""
    # An import calls this once per row: common values take the first, shortest branch.
    name = name.strip() if name else ""
    if not name:
        raise FieldError("name", "a person needs a name")
    if len(name) > 50:
        raise FieldError("name", "longer than 50 characters")
    sex = None
    if gender:
        sex = _GENDERS.get(gender) or (parse_gender(gender) if gender.strip() else None)
    if birth_date and birth_date.isspace():
        birth_date = None
    if id_number and not id_number.isspace():
        try:
            id_number, birth, id_sex = id_parts(id_number)
        except InvalidIdNumber as exc:
            raise FieldError("id_number", str(exc)) from None
        if sex is not None and sex != id_sex:
            raise FieldError("gender", f"{sex} disagrees with the ID number ({id_sex})")
        sex = id_sex
        # A birth date beside the ID number is most often the same date, written as ISO.
        if birth_date and birth_date != birth.isoformat():
            given = fields.parse_date("birth_date", birth_date)
            if given != birth:
                raise FieldError("birth_date", f"{given} disagrees with the ID number ({birth})")
    else:
        id_number = None
        birth = fields.parse_date("birth_date", birth_date) if birth_date else None
        if birth is not None and birth > dt.date.today():
            raise FieldError("birth_date", f"{birth} is in the future")
    household = household.strip() if household else None
    if not household:
        if id_number is None:
            raise FieldError("household", "a person without an ID number needs a household")
        household = None
    return PersonRecord(
        name,
        id_number,
        sex,
        birth,
        phone if phone and match_mobile(phone) else fields.phone(phone),
        household,
        None if tags is None else parse_tags(tags),
    )


# -- bulk upserts ---------------------------------------------------------------------------

PersonKey = tuple[str, Any]  # ("id", id_number) or ("name", (household_id, name))

_COLUMNS = ("id_number", "name", "gender", "birth_date", "phone", "household_id")
_KEPT = {column: bulk.kept(persons, column) for column in ("gender", "birth_date", "phone")}
# By ID number the name and household change too; by household and name they are the key.
_UPDATE_BY_ID = {
    "name": "excluded.name",
    **_KEPT,
    "household_id": bulk.kept(persons, "household_id"),
}


def upsert_persons(
    conn: Connection, records: Sequence[PersonRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update persons by ID number, or by household and name for those without
    one; replace the tag sets of records whose ``tags`` is not None (free tags are created).

    Returns ``(index, error)`` for records whose household does not exist (those are not
    written). Within the batch the last record of a key wins. Does not commit."""
    codes = {r.household_code for r in records}
    codes.discard(None)
    household_ids = bulk.lookup(conn, households.c.code, households.c.id, codes)
    iso = bulk.dates_as_text(conn)
    errors: list[tuple[int, FieldError]] = []
    with_id: dict[str, tuple[Any, ...]] = {}
    without_id: dict[tuple[int, str], tuple[Any, ...]] = {}
    tag_sets: dict[PersonKey, tuple[str, ...] | None] = {}
    # Once per row of an import: no call that can be saved.
    for index, (name, id_number, gender, birth, phone, code, names) in enumerate(records):
        household_id = None
        if code:
            household_id = household_ids.get(code)
            if household_id is None:
                errors.append((index, FieldError("household", f"no household {code!r}")))
                continue
        if iso and birth:
            birth = birth.isoformat()
        row = (id_number, name, gender, birth, phone, household_id)
        if id_number:
            with_id[id_number] = row
        elif household_id is not None:
            without_id[(household_id, name)] = row
        else:
            message = "a person without an ID number needs a household"
            errors.append((index, FieldError("household", message)))
            continue
        if names is not None or tag_sets:
            key = ("id", id_number) if id_number else ("name", (household_id, name))
            tag_sets[key] = names
    bulk.upsert_rows(
        conn, persons, _COLUMNS, list(with_id.values()), key=["id_number"], update=_UPDATE_BY_ID
    )
    bulk.upsert_rows(
        conn,
        persons,
        _COLUMNS,
        list(without_id.values()),
        key=["household_id", "name"],
        where="id_number IS NULL",
        update=_KEPT,
    )
    wanted = {key: names for key, names in tag_sets.items() if names is not None}
    if wanted:
        ids = _person_ids(conn, wanted)
        replace_tags(conn, {ids[key]: names for key, names in wanted.items()})
    return errors


def _person_ids(conn: Connection, keys: Iterable[PersonKey]) -> dict[PersonKey, int]:
    """Database ids of persons by key: one query per batch of ID numbers or households."""
    numbers = [value for kind, value in keys if kind == "id"]
    pairs = {value for kind, value in keys if kind == "name"}
    ids: dict[PersonKey, int] = {
        ("id", number): person_id
        for number, person_id in bulk.lookup(
            conn, persons.c.id_number, persons.c.id, numbers
        ).items()
    }
    # By household, then by name here: a plain indexed IN, where a (household, name) row
    # IN list is a sequential scan on PostgreSQL.
    for batch in bulk.batches(conn, (household_id for household_id, _ in pairs)):
        query = select(persons.c.household_id, persons.c.name, persons.c.id).where(
            persons.c.id_number.is_(None), bulk.among(conn, persons.c.household_id, batch)
        )
        for household_id, name, person_id in conn.execute(query):
            if (household_id, name) in pairs:
                ids[("name", (household_id, name))] = person_id
    return ids


# -- one person -------------------------------------------------------------------------------


def add_person(conn: Connection, record: PersonRecord) -> PersonView:
    """Add a new person; an ID number, or a name without one in the household, that exists
    is a FieldError."""
    if record.id_number:
        if bulk.exists(conn, persons.c.id_number, record.id_number):
            raise FieldError("id_number", "a person with this ID number already exists")
    elif record.household_code:
        taken = (
            select(persons.c.id)
            .join(households)
            .where(
                households.c.code == record.household_code,
                persons.c.name == record.name,
                persons.c.id_number.is_(None),
            )
        )
        if conn.execute(taken).first():
            raise FieldError(
                "name", f"{record.name} already exists in household {record.household_code}"
            )
    bulk.write_one(conn, upsert_persons, record)
    if record.id_number:
        return get_person(conn, record.id_number)
    return get_person(conn, f"{record.household_code}/{record.name}")


def _person_query() -> Select[Any]:
    return (
        select(
            persons.c.id,
            persons.c.name,
            persons.c.id_number,
            persons.c.gender,
            persons.c.birth_date,
            persons.c.phone,
            households.c.code.label("household_code"),
            areas.c.code.label("area_code"),
        )
        .select_from(persons)
        .outerjoin(households, persons.c.household_id == households.c.id)
        .outerjoin(areas, households.c.area_id == areas.c.id)
    )


def _views(conn: Connection, query: Select[Any]) -> list[PersonView]:
    rows = conn.execute(query).all()
    tag_map = tags_of(conn, [row.id for row in rows])
    return [PersonView(*row, tags=tag_map.get(row.id, ())) for row in rows]


def get_person(conn: Connection, key: str) -> PersonView:
    """A person by ID number, or by ``HOUSEHOLD_CODE/NAME``."""
    key = key.strip()
    if "/" in key:
        code, name = (part.strip() for part in key.split("/", 1))
        query = _person_query().where(households.c.code == code, persons.c.name == name)
        found = _views(conn, query)
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} persons named {name} in household {code}: use an ID number"
            )
        what = f"no person {name!r} in household {code!r}"
    else:
        found = _views(conn, _person_query().where(persons.c.id_number == key.upper()))
        what = "no person with this ID number"
    if not found:
        raise NotFound(what)
    return found[0]


# -- ages and lists ---------------------------------------------------------------------------


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Full years from ``birth_date`` to ``day`` (a 29 February birthday counts on 1 March)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def birth_date_bounds(
    day: dt.date, min_age: int | None, max_age: int | None
) -> tuple[dt.date | None, dt.date | None]:
    """Inclusive ``(earliest, latest)`` birth dates of persons aged ``min_age..max_age``
    on ``day``; None where that side is open."""
    latest = _years_before(day, min_age) if min_age is not None else None
    earliest = None
    if max_age is not None:
        earliest = _years_before(day, max_age + 1) + dt.timedelta(days=1)
    return earliest, latest


def list_persons(conn: Connection, query: PersonQuery) -> list[PersonView]:
    """Persons matching every filter given, by household code then name."""
    select_ = _person_query()
    if query.area_code is not None:
        area_id(conn, query.area_code)
        select_ = select_.where(areas.c.code.startswith(query.area_code, autoescape=True))
    if query.household_code is not None:
        get_household(conn, query.household_code)
        select_ = select_.where(households.c.code == query.household_code)
    if query.tag is not None:
        tag_id = conn.execute(select(tags.c.id).where(tags.c.name == query.tag)).scalar()
        if tag_id is None:
            raise NotFound(f"no tag {query.tag!r}")
        tagged = select(person_tags.c.person_id).where(person_tags.c.tag_id == tag_id)
        select_ = select_.where(persons.c.id.in_(tagged))
    earliest, latest = birth_date_bounds(
        query.today or dt.date.today(), query.min_age, query.max_age
    )
    if earliest is not None:
        select_ = select_.where(persons.c.birth_date >= earliest)
    if latest is not None:
        select_ = select_.where(persons.c.birth_date <= latest)
    select_ = select_.order_by(
        households.c.code.asc().nulls_last(), persons.c.name, persons.c.id
    ).limit(query.limit)
    return _views(conn, select_)
