"""``c365 household``, ``c365 person`` and ``c365 tag``: residents and their tags.

ID numbers and phones are masked in every output unless ``--reveal``; a reveal is written
to the audit log (action ``reveal``) in the same transaction as the read.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from community365.cli.personal import audit_reveal, shown_id_number, shown_phone
from community365.cli.state import (
    CliState,
    emit,
    emit_table,
    json_option,
    pass_state,
    reveal_option,
)
from community365.registry.contact import mask_id_number

# Commands import the registry when they run: it pulls in SQLAlchemy, which --help needs not.
if TYPE_CHECKING:
    from community365.registry.households import HouseholdView
    from community365.registry.people import PersonView


def person_label(view: PersonView) -> str:
    """How a person is named in messages and the audit log: never a full ID number."""
    if view.household_code:
        return f"{view.household_code}/{view.name}"
    return f"{view.name} ({mask_id_number(view.id_number)})"


def person_data(view: PersonView, today: dt.date, reveal: bool) -> dict[str, Any]:
    from community365.registry.people import age_on

    return {
        "name": view.name,
        "id_number": shown_id_number(view.id_number, reveal),
        "gender": view.gender,
        "birth_date": view.birth_date.isoformat() if view.birth_date else None,
        "age": age_on(view.birth_date, today) if view.birth_date else None,
        "phone": shown_phone(view.phone, reveal),
        "household": view.household_code,
        "area": view.area_code,
        "tags": list(view.tags),
    }


def household_data(view: HouseholdView, reveal: bool) -> dict[str, Any]:
    return {
        "code": view.code,
        "area": view.area_code,
        "area_name": view.area_name,
        "address": view.address,
        "phone": shown_phone(view.phone, reveal),
        "members": view.members,
    }


def _persons_table(rows: list[dict[str, Any]]) -> None:
    emit_table(
        ["name", "id_number", "gender", "age", "phone", "household", "tags"],
        [
            (
                r["name"],
                r["id_number"],
                r["gender"],
                r["age"],
                r["phone"],
                r["household"],
                ",".join(r["tags"]),
            )
            for r in rows
        ],
    )


# -- household -------------------------------------------------------------------------------


@click.group("household")
def household_cli() -> None:
    """Households (住户): a code, the area they live in, an address and a phone."""


@household_cli.command("add")
@click.argument("code")
@click.option("--area", required=True, help="Code of the area (building, grid ...) it is in.")
@click.option("--address", default="", help="Street address, e.g. 百丈路1幢101室.")
@click.option("--phone", default="", help="Household phone.")
@pass_state
def household_add_cmd(state: CliState, code: str, area: str, address: str, phone: str) -> None:
    """Add household CODE in area AREA."""
    from community365.registry import households

    record = households.parse_household(
        {"code": code, "area": area, "address": address, "phone": phone}
    )
    district = state.district()
    with district.begin() as ctx:
        view = households.add_household(ctx.connection, record)
        district.audit(ctx, "household.add", view.code, f"area {view.area_code}")
    click.echo(f"added household {view.code} in {view.area_code} {view.area_name}")


@household_cli.command("show")
@click.argument("code")
@json_option
@reveal_option
@pass_state
def household_show_cmd(state: CliState, code: str, as_json: bool, reveal: bool) -> None:
    """One household and its members."""
    from community365.registry import households, people

    district = state.district()
    today = district.today()
    with district.begin() as ctx:
        view = households.get_household(ctx.connection, code)
        members = people.list_persons(ctx.connection, people.PersonQuery(household_code=code))
        audit_reveal(district, ctx, reveal, f"household show {code}: {len(members)} persons")
    data = {
        **household_data(view, reveal),
        "persons": [person_data(m, today, reveal) for m in members],
    }

    def table() -> None:
        click.echo(f"{view.code}  {view.area_code} {view.area_name}  {view.address}")
        click.echo(f"phone: {data['phone'] or '-'}   members: {view.members}")
        _persons_table(data["persons"])

    emit(as_json, data, table)


@household_cli.command("list")
@click.option("--area", help="Only households in the subtree of this area code.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@reveal_option
@pass_state
def household_list_cmd(
    state: CliState, area: str | None, limit: int, as_json: bool, reveal: bool
) -> None:
    """Households in code order, with their member counts."""
    from community365.registry import households

    district = state.district()
    with district.begin() as ctx:
        views = households.list_households(ctx.connection, area, limit)
        filters = f"area={area}" if area else ""
        audit_reveal(district, ctx, reveal, f"household list: {len(views)} households", filters)
    rows = [household_data(v, reveal) for v in views]
    emit(
        as_json,
        rows,
        lambda: emit_table(
            ["code", "area", "area_name", "address", "phone", "members"],
            [tuple(r.values()) for r in rows],
        ),
    )


# -- person ----------------------------------------------------------------------------------


@click.group("person")
def person_cli() -> None:
    """Residents (居民): found by ID number, or by HOUSEHOLD_CODE/NAME."""


@person_cli.command("add")
@click.argument("name")
@click.option("--id-number", default="", help="18-character resident ID number (身份证号).")
@click.option("--gender", default="", help="M/F/男/女 (taken from the ID number if given).")
@click.option("--birth-date", default="", help="2024-01-31, 2024/1/31 or 20240131.")
@click.option("--phone", default="", help="Mobile or landline.")
@click.option("--household", default="", help="Household code (needed without an ID number).")
@click.option("--tag", "tag_names", multiple=True, help="A tag, e.g. 独居; repeat for more.")
@pass_state
def person_add_cmd(
    state: CliState,
    name: str,
    id_number: str,
    gender: str,
    birth_date: str,
    phone: str,
    household: str,
    tag_names: tuple[str, ...],
) -> None:
    """Add person NAME."""
    from community365.registry import people

    fields = {
        "name": name,
        "id_number": id_number,
        "gender": gender,
        "birth_date": birth_date,
        "phone": phone,
        "household": household,
    }
    if tag_names:
        fields["tags"] = ",".join(tag_names)
    record = people.parse_person(fields)
    district = state.district()
    with district.begin() as ctx:
        view = people.add_person(ctx.connection, record)
        district.audit(ctx, "person.add", person_label(view), ",".join(view.tags))
    click.echo(f"added person {person_label(view)}")


@person_cli.command("show")
@click.argument("person")
@json_option
@reveal_option
@pass_state
def person_show_cmd(state: CliState, person: str, as_json: bool, reveal: bool) -> None:
    """One person, by ID number or HOUSEHOLD_CODE/NAME."""
    from community365.registry import people

    district = state.district()
    today = district.today()
    with district.begin() as ctx:
        view = people.get_person(ctx.connection, person)
        audit_reveal(district, ctx, reveal, f"person show {person_label(view)}: 1 person")
    data = person_data(view, today, reveal)

    def table() -> None:
        for key, value in data.items():
            shown = ",".join(value) if isinstance(value, list) else value
            click.echo(f"{key + ':':<12}{'-' if shown in (None, '') else shown}")

    emit(as_json, data, table)


@person_cli.command("list")
@click.option("--area", help="Only persons whose household is in this area's subtree.")
@click.option("--household", help="Only members of this household.")
@click.option("--tag", help="Only persons with this tag.")
@click.option("--min-age", type=click.IntRange(0, 150), help="Aged at least this many years.")
@click.option("--max-age", type=click.IntRange(0, 150), help="Aged at most this many years.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@reveal_option
@pass_state
def person_list_cmd(
    state: CliState,
    area: str | None,
    household: str | None,
    tag: str | None,
    min_age: int | None,
    max_age: int | None,
    limit: int,
    as_json: bool,
    reveal: bool,
) -> None:
    """Persons matching every filter given, by household then name."""
    from community365.registry import people

    district = state.district()
    today = district.today()
    query = people.PersonQuery(
        area_code=area,
        household_code=household,
        tag=tag,
        min_age=min_age,
        max_age=max_age,
        today=today,
        limit=limit,
    )
    with district.begin() as ctx:
        views = people.list_persons(ctx.connection, query)
        given = {"area": area, "household": household, "tag": tag}
        given |= {"min_age": min_age, "max_age": max_age}
        filters = ", ".join(f"{k}={v}" for k, v in given.items() if v is not None)
        audit_reveal(district, ctx, reveal, f"person list: {len(views)} persons", filters)
    rows = [person_data(v, today, reveal) for v in views]
    emit(as_json, rows, lambda: _persons_table(rows))


def _change_tags(state: CliState, person: str, tag_names: tuple[str, ...], remove: bool) -> None:
    from community365.registry import people, tags

    names = tags.parse_tags(" ".join(tag_names))
    district = state.district()
    with district.begin() as ctx:
        view = people.get_person(ctx.connection, person)
        (tags.untag_person if remove else tags.tag_person)(ctx.connection, view, names)
        action = "person.untag" if remove else "person.tag"
        district.audit(ctx, action, person_label(view), ",".join(names))
    click.echo(f"{'untagged' if remove else 'tagged'} {person_label(view)}: {', '.join(names)}")


@person_cli.command("tag")
@click.argument("person")
@click.argument("tag_names", metavar="TAG...", nargs=-1, required=True)
@pass_state
def person_tag_cmd(state: CliState, person: str, tag_names: tuple[str, ...]) -> None:
    """Give PERSON one or more tags; a new name becomes a free tag."""
    _change_tags(state, person, tag_names, remove=False)


@person_cli.command("untag")
@click.argument("person")
@click.argument("tag_names", metavar="TAG...", nargs=-1, required=True)
@pass_state
def person_untag_cmd(state: CliState, person: str, tag_names: tuple[str, ...]) -> None:
    """Take one or more tags from PERSON."""
    _change_tags(state, person, tag_names, remove=True)


# -- tag -------------------------------------------------------------------------------------


@click.group("tag")
def tag_cli() -> None:
    """Resident tags (标签): built-in 独居 残疾 低保 特困 党员 重点服务对象, and free tags."""


@tag_cli.command("list")
@json_option
@pass_state
def tag_list_cmd(state: CliState, as_json: bool) -> None:
    """Every tag, built-in first, with the number of persons holding it."""
    from community365.registry import tags

    district = state.district()
    with district.engine.connect() as conn:
        views = tags.list_tags(conn)
    rows = [
        {"name": v.name, "name_en": v.name_en, "builtin": v.builtin, "persons": v.persons}
        for v in views
    ]
    emit(
        as_json,
        rows,
        lambda: emit_table(
            ["name", "name_en", "kind", "persons"],
            [
                (r["name"], r["name_en"], "built-in" if r["builtin"] else "free", r["persons"])
                for r in rows
            ],
        ),
    )


@tag_cli.command("add")
@click.argument("name")
@click.option("--en", "name_en", default="", help="English name, shown beside the Chinese.")
@pass_state
def tag_add_cmd(state: CliState, name: str, name_en: str) -> None:
    """Create free tag NAME."""
    from community365.registry import tags

    district = state.district()
    with district.begin() as ctx:
        view = tags.add_tag(ctx.connection, name, name_en)
        district.audit(ctx, "tag.add", view.name, view.name_en)
    click.echo(f"added tag {view.name}" + (f" ({view.name_en})" if view.name_en else ""))
