"""Households, persons and their tags: parsing raw fields, bulk upserts, and lookups.

Two paths write here. Imports parse each row with :func:`parse_household` /
:func:`parse_person` and hand whole batches to :func:`upsert_households` /
:func:`upsert_persons`, which resolve references with one query per kind and write with
``INSERT ... ON CONFLICT DO UPDATE``. The CLI adds one record at a time with
:func:`add_household` / :func:`add_person`, which refuse a key that exists and then take
the same bulk path with a batch of one.

A person is found again by ID number, or, without one, by name within a household (a
partial unique index on ``(household_id, name) WHERE id_number IS NULL``). In an upsert a
blank optional field never erases a stored value: a ledger with fewer columns must not
wipe what another ledger filled in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Select, any_, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from community365.db.schema import areas, households, person_tags, persons, tags
from community365.errors import FieldError, NotFound, UsageError
from community365.registry.contact import InvalidPhone, parse_phone
from community365.registry.idcard import InvalidIdNumber, parse_id_number

# Keys per IN (...) list on SQLite: well under its limit on bound parameters.
CHUNK = 5000

_GENDERS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}
_TAG_SPLIT = re.compile(r"[;；，,、|\s]+")
_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})|([0-9]{4})([0-9]{2})([0-9]{2})")


# -- records --------------------------------------------------------------------------------


@attrs.frozen
class HouseholdRecord:
    """A household as an import or the CLI gives it: keyed by ``code``."""

    code: str
    area_code: str
    address: str = ""
    phone: str | None = None


@attrs.frozen
class PersonRecord:
    """A person as an import or the CLI gives it: keyed by ID number, else household + name.

    ``tags`` None leaves the person's tags alone; a tuple (even empty) replaces them.
    """

    name: str
    id_number: str | None = None
    gender: str | None = None  # "M"/"F"
    birth_date: dt.date | None = None
    phone: str | None = None
    household_code: str | None = None
    tags: tuple[str, ...] | None = None


@attrs.frozen
class HouseholdView:
    """A stored household with its area and number of members."""

    code: str
    area_code: str
    area_name: str
    address: str
    phone: str | None
    members: int


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
class TagView:
    """A tag and the number of persons holding it."""

    name: str
    name_en: str
    builtin: bool
    persons: int


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


def _text(fields: Mapping[str, str], key: str) -> str:
    return (fields.get(key) or "").strip()


def _bounded(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise FieldError(field, f"longer than {limit} characters")
    return value


def _phone(fields: Mapping[str, str]) -> str | None:
    text = _text(fields, "phone")
    if not text:
        return None
    try:
        return parse_phone(text)
    except InvalidPhone as exc:
        raise FieldError("phone", str(exc)) from None


def parse_gender(text: str) -> str:
    """M or F from M/F/男/女/male/female (any case)."""
    gender = _GENDERS.get(text.strip().lower())
    if gender is None:
        raise FieldError("gender", f"expected M/F/男/女/male/female, got {text!r}")
    return gender


def parse_date(field: str, text: str) -> dt.date:
    """A date written 2024-01-31, 2024/1/31, 2024.1.31 or 20240131."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise FieldError(field, f"not a date: {text!r} (use 2024-01-31, 2024/1/31 or 20240131)")
    g = match.groups()
    year, month, day = (g[0], g[2], g[3]) if g[0] else (g[4], g[5], g[6])
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise FieldError(field, f"not a date: {text!r}") from None


def parse_tags(text: str) -> tuple[str, ...]:
    """Tag names split on ; ， , 、 | and spaces, without repeats, in the order given."""
    names = [name for name in _TAG_SPLIT.split(text.strip()) if name]
    for name in names:
        _bounded("tags", name, 50)
    return tuple(dict.fromkeys(names))


def parse_household(fields: Mapping[str, str]) -> HouseholdRecord:
    """A household from raw strings keyed code, area, address, phone."""
    code = _bounded("code", _text(fields, "code"), 40)
    if not code:
        raise FieldError("code", "a household needs a code")
    if "/" in code or any(ch.isspace() for ch in code):
        raise FieldError("code", f"household codes cannot contain '/' or spaces: {code!r}")
    area = _text(fields, "area")
    if not area:
        raise FieldError("area", "a household needs an area code")
    address = _bounded("address", _text(fields, "address"), 200)
    return HouseholdRecord(code=code, area_code=area, address=address, phone=_phone(fields))


def parse_person(fields: Mapping[str, str]) -> PersonRecord:
    """A person from raw strings keyed name, id_number, gender, birth_date, phone,
    household, tags.

    A valid ID number gives birth date and gender; a row that also gives them must agree.
    Without an ID number the person needs a household. A missing ``tags`` key gives
    ``tags=None`` (leave tags alone); a present but empty one gives ``()`` (clear them).
    """
    name = _bounded("name", _text(fields, "name"), 50)
    if not name:
        raise FieldError("name", "a person needs a name")
    id_text = _text(fields, "id_number")
    gender_text = _text(fields, "gender")
    birth_text = _text(fields, "birth_date")
    gender = parse_gender(gender_text) if gender_text else None
    birth = parse_date("birth_date", birth_text) if birth_text else None
    id_number = None
    if id_text:
        try:
            parsed = parse_id_number(id_text)
        except InvalidIdNumber as exc:
            raise FieldError("id_number", str(exc)) from None
        if gender is not None and gender != parsed.gender:
            raise FieldError("gender", f"{gender} disagrees with the ID number ({parsed.gender})")
        if birth is not None and birth != parsed.birth_date:
            raise FieldError(
                "birth_date", f"{birth} disagrees with the ID number ({parsed.birth_date})"
            )
        id_number, gender, birth = parsed.number, parsed.gender, parsed.birth_date
    elif birth is not None and birth > dt.date.today():
        raise FieldError("birth_date", f"{birth} is in the future")
    household = _text(fields, "household") or None
    if id_number is None and household is None:
        raise FieldError("household", "a person without an ID number needs a household")
    return PersonRecord(
        name=name,
        id_number=id_number,
        gender=gender,
        birth_date=birth,
        phone=_phone(fields),
        household_code=household,
        tags=parse_tags(fields["tags"] or "") if "tags" in fields else None,
    )


# -- set-based helpers ----------------------------------------------------------------------


def _batches(conn: Connection, keys: Iterable[Any]) -> Iterator[list[Any]]:
    """Distinct keys in batches for :func:`_among`: all at once on PostgreSQL, which takes
    them as one array parameter, and :data:`CHUNK` at a time on SQLite."""
    distinct = sorted(set(keys))
    size = len(distinct) if conn.dialect.name == "postgresql" else CHUNK
    for start in range(0, len(distinct), max(size, 1)):
        yield distinct[start : start + size]


def _among(conn: Connection, column: Any, batch: list[Any]) -> Any:
    """``column`` is one of ``batch``.

    On PostgreSQL ``= ANY(array)``: an IN list of thousands of placeholders costs more to
    render and parse than the query takes to run."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(batch, postgresql.ARRAY(column.type)))
    return column.in_(batch)


def _upsert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_update`` and ``excluded``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise UsageError(f"unsupported database {conn.dialect.name!r}")


def _lookup(conn: Connection, key: Any, value: Any, keys: Iterable[Any]) -> dict[Any, Any]:
    """``{key: value}`` for the keys that exist, one query per batch of keys."""
    found: dict[Any, Any] = {}
    for batch in _batches(conn, keys):
        found.update(conn.execute(select(key, value).where(_among(conn, key, batch))).all())
    return found


def _keep(excluded: Any, column: Any) -> Any:
    """The new value, or the stored one when the new one is NULL."""
    return func.coalesce(excluded, column)


# -- bulk upserts ---------------------------------------------------------------------------


def upsert_households(
    conn: Connection, records: Sequence[HouseholdRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update households by code; return ``(index, error)`` for records whose area
    does not exist (those are not written). Within the batch the last record of a code wins.
    Does not commit."""
    area_ids = _lookup(conn, areas.c.code, areas.c.id, (r.area_code for r in records))
    errors: list[tuple[int, FieldError]] = []
    rows: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        area_id = area_ids.get(record.area_code)
        if area_id is None:
            errors.append((index, FieldError("area", f"no area {record.area_code!r}")))
            continue
        rows[record.code] = {
            "code": record.code,
            "area_id": area_id,
            "address": record.address,
            "phone": record.phone,
        }
    if rows:
        stmt = _upsert(conn, households)
        new = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[households.c.code],
                set_={
                    "area_id": new.area_id,
                    "address": _keep(func.nullif(new.address, ""), households.c.address),
                    "phone": _keep(new.phone, households.c.phone),
                },
            ),
            list(rows.values()),
        )
    return errors


PersonKey = tuple[str, Any]  # ("id", id_number) or ("name", (household_id, name))


@attrs.define
class _PersonBatch:
    """Rows to write, by key (the last record of a key wins), and the records refused."""

    with_id: dict[str, dict[str, Any]] = attrs.Factory(dict)
    without_id: dict[tuple[int, str], dict[str, Any]] = attrs.Factory(dict)
    tag_sets: dict[PersonKey, tuple[str, ...] | None] = attrs.Factory(dict)
    errors: list[tuple[int, FieldError]] = attrs.Factory(list)

    def add(self, index: int, record: PersonRecord, household_id: int | None) -> None:
        if record.household_code and household_id is None:
            message = f"no household {record.household_code!r}"
            self.errors.append((index, FieldError("household", message)))
            return
        row = {
            "id_number": record.id_number or None,
            "name": record.name,
            "gender": record.gender,
            "birth_date": record.birth_date,
            "phone": record.phone,
            "household_id": household_id,
        }
        key: PersonKey
        if record.id_number:
            key = ("id", record.id_number)
            self.with_id[record.id_number] = row
        elif household_id is not None:
            key = ("name", (household_id, record.name))
            self.without_id[(household_id, record.name)] = row
        else:
            message = "a person without an ID number needs a household"
            self.errors.append((index, FieldError("household", message)))
            return
        self.tag_sets[key] = record.tags


def upsert_persons(
    conn: Connection, records: Sequence[PersonRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update persons by ID number, or by household and name for those without
    one; replace the tag sets of records whose ``tags`` is not None (free tags are created).

    Returns ``(index, error)`` for records whose household does not exist (those are not
    written). Within the batch the last record of a key wins. Does not commit."""
    codes = (r.household_code for r in records if r.household_code)
    household_ids = _lookup(conn, households.c.code, households.c.id, codes)
    batch = _PersonBatch()
    for index, record in enumerate(records):
        batch.add(index, record, household_ids.get(record.household_code))
    _write_persons(conn, list(batch.with_id.values()), list(batch.without_id.values()))
    wanted = {key: names for key, names in batch.tag_sets.items() if names is not None}
    if wanted:
        ids = _person_ids(conn, wanted)
        _replace_tags(conn, {ids[key]: names for key, names in wanted.items()})
    return batch.errors


def _write_persons(
    conn: Connection, with_id: list[dict[str, Any]], without_id: list[dict[str, Any]]
) -> None:
    if with_id:
        stmt = _upsert(conn, persons)
        new = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[persons.c.id_number],
                set_={
                    "name": new.name,
                    "gender": _keep(new.gender, persons.c.gender),
                    "birth_date": _keep(new.birth_date, persons.c.birth_date),
                    "phone": _keep(new.phone, persons.c.phone),
                    "household_id": _keep(new.household_id, persons.c.household_id),
                },
            ),
            with_id,
        )
    if without_id:
        stmt = _upsert(conn, persons)
        new = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[persons.c.household_id, persons.c.name],
                index_where=persons.c.id_number.is_(None),
                set_={
                    "gender": _keep(new.gender, persons.c.gender),
                    "birth_date": _keep(new.birth_date, persons.c.birth_date),
                    "phone": _keep(new.phone, persons.c.phone),
                },
            ),
            without_id,
        )


def _person_ids(conn: Connection, keys: Iterable[PersonKey]) -> dict[PersonKey, int]:
    """Database ids of persons by key: one query per batch of ID numbers or households."""
    numbers = [value for kind, value in keys if kind == "id"]
    pairs = {value for kind, value in keys if kind == "name"}
    ids: dict[PersonKey, int] = {
        ("id", number): person_id
        for number, person_id in _lookup(conn, persons.c.id_number, persons.c.id, numbers).items()
    }
    # By household, then by name here: a plain indexed IN, where a (household, name) row
    # IN list is a sequential scan on PostgreSQL.
    for batch in _batches(conn, (household_id for household_id, _ in pairs)):
        query = select(persons.c.household_id, persons.c.name, persons.c.id).where(
            persons.c.id_number.is_(None), _among(conn, persons.c.household_id, batch)
        )
        for household_id, name, person_id in conn.execute(query):
            if (household_id, name) in pairs:
                ids[("name", (household_id, name))] = person_id
    return ids


def ensure_tags(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named tags, creating the missing ones as free tags."""
    names = set(names)
    found = _lookup(conn, tags.c.name, tags.c.id, names)
    missing = sorted(names - found.keys())
    if missing:
        stmt = _upsert(conn, tags).on_conflict_do_nothing(index_elements=[tags.c.name])
        conn.execute(stmt, [{"name": name, "name_en": "", "builtin": False} for name in missing])
        found.update(_lookup(conn, tags.c.name, tags.c.id, missing))
    return found


def _replace_tags(conn: Connection, wanted: Mapping[int, Sequence[str]]) -> None:
    tag_ids = ensure_tags(conn, (name for names in wanted.values() for name in names))
    for batch in _batches(conn, wanted):
        conn.execute(delete(person_tags).where(_among(conn, person_tags.c.person_id, batch)))
    _add_pairs(conn, wanted, tag_ids)


def _add_pairs(
    conn: Connection, wanted: Mapping[int, Sequence[str]], tag_ids: Mapping[str, int]
) -> None:
    pairs = [
        {"person_id": person_id, "tag_id": tag_ids[name]}
        for person_id, names in wanted.items()
        for name in dict.fromkeys(names)
    ]
    if pairs:
        stmt = _upsert(conn, person_tags).on_conflict_do_nothing()
        conn.execute(stmt, pairs)


# -- one record at a time -------------------------------------------------------------------


def _raise_first(errors: list[tuple[int, FieldError]]) -> None:
    if errors:
        raise errors[0][1]


def add_household(conn: Connection, record: HouseholdRecord) -> HouseholdView:
    """Add a new household; a code that exists is a FieldError."""
    if conn.execute(select(households.c.id).where(households.c.code == record.code)).first():
        raise FieldError("code", f"household {record.code} already exists")
    _raise_first(upsert_households(conn, [record]))
    return get_household(conn, record.code)


def add_person(conn: Connection, record: PersonRecord) -> PersonView:
    """Add a new person; an ID number, or a name without one in the household, that exists
    is a FieldError."""
    if record.id_number:
        taken = select(persons.c.id).where(persons.c.id_number == record.id_number)
        if conn.execute(taken).first():
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
    _raise_first(upsert_persons(conn, [record]))
    if record.id_number:
        return get_person(conn, record.id_number)
    return get_person(conn, f"{record.household_code}/{record.name}")


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
        _require_area(conn, area_code)
        query = query.where(areas.c.code.startswith(area_code, autoescape=True))
    return [HouseholdView(*row) for row in conn.execute(query)]


def _require_area(conn: Connection, code: str) -> None:
    if conn.execute(select(areas.c.id).where(areas.c.code == code)).first() is None:
        raise NotFound(f"no area with code {code!r}")


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


def _tags_of(conn: Connection, person_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Tag names of each person, built-in tags first."""
    found: dict[int, list[str]] = {}
    for batch in _batches(conn, person_ids):
        query = (
            select(person_tags.c.person_id, tags.c.name)
            .join(tags)
            .where(_among(conn, person_tags.c.person_id, batch))
            .order_by(tags.c.builtin.desc(), tags.c.id)
        )
        for person_id, name in conn.execute(query):
            found.setdefault(person_id, []).append(name)
    return {person_id: tuple(names) for person_id, names in found.items()}


def _views(conn: Connection, query: Select[Any]) -> list[PersonView]:
    rows = conn.execute(query).all()
    tag_map = _tags_of(conn, [row.id for row in rows])
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
        _require_area(conn, query.area_code)
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


# -- tags ------------------------------------------------------------------------------------


def tag_person(conn: Connection, person: PersonView, names: Sequence[str]) -> None:
    """Give ``person`` the named tags (free tags are created); tags it has are kept."""
    _add_pairs(conn, {person.id: names}, ensure_tags(conn, names))


def untag_person(conn: Connection, person: PersonView, names: Sequence[str]) -> None:
    """Take the named tags from ``person``; each must be one it has."""
    for name in names:
        if name not in person.tags:
            raise FieldError("tag", f"{person.name} has no tag {name!r}")
    tag_ids = _lookup(conn, tags.c.name, tags.c.id, names)
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
