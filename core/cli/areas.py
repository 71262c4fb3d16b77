"""``c365 area``: add, move, rename and look at the area tree."""

from __future__ import annotations

import attrs
import click

from community365.cli.state import CliState, emit, emit_table, json_option, pass_state


@click.group("area")
def area_cli() -> None:
    """The area tree: district → street → community → grid → small grid → building."""


@area_cli.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", help="Parent area code. Default: the code minus this level's digits.")
@click.option(
    "--level", help="Level key (see [areas] levels). Default: the level below the parent."
)
@pass_state
def add_cmd(state: CliState, code: str, name: str, parent: str | None, level: str | None) -> None:
    """Add area CODE called NAME, e.g. ``c365 area add 33021200100101 第一网格``."""
    from community365.registry import areas

    district = state.district()
    levels = district.config.areas.levels
    with district.begin() as ctx:
        if parent is None:
            parent = areas.guess_parent(ctx.connection, code)
        view = areas.add_area(ctx, levels, code=code, name=name, parent=parent, level=level)
        district.audit(ctx, "area.add", code, name)
    click.echo(f"added {view.level} {view.code} {view.name}")


@area_cli.command("rename")
@click.argument("code")
@click.argument("name")
@pass_state
def rename_cmd(state: CliState, code: str, name: str) -> None:
    """Give area CODE a new NAME."""
    from community365.registry import areas

    district = state.district()
    with district.begin() as ctx:
        old = areas.get_area(ctx.connection, code).name
        areas.rename_area(ctx, code, name)
        district.audit(ctx, "area.rename", code, f"{old} -> {name}")
    click.echo(f"renamed {code}: {old} -> {name}")


@area_cli.command("move")
@click.argument("code")
@click.argument("new_parent")
@click.option("--code", "new_code", help="New code (default: new parent's code + own digits).")
@pass_state
def move_cmd(state: CliState, code: str, new_parent: str, new_code: str | None) -> None:
    """Move area CODE (and everything under it) under NEW_PARENT; codes follow."""
    from community365.registry import areas

    district = state.district()
    with district.begin() as ctx:
        view = areas.move_area(ctx, district.config.areas.levels, code, new_parent, new_code)
        district.audit(ctx, "area.move", code, f"-> {view.code} under {new_parent}")
    click.echo(f"moved {code} -> {view.code} under {new_parent}")


@area_cli.command("show")
@click.argument("code")
@json_option
@pass_state
def show_cmd(state: CliState, code: str, as_json: bool) -> None:
    """One area: its level, parent, children and household count."""
    from community365.registry import areas

    district = state.district()
    with district.engine.connect() as conn:
        view = areas.get_area(conn, code)
        nodes = areas.tree(conn, code, depth=1)
    data = {
        **attrs.asdict(view),
        "households": nodes[0].households,
        "children": [{"code": n.code, "name": n.name, "level": n.level} for n in nodes[1:]],
    }

    def table() -> None:
        click.echo(f"{view.code}  {view.name}  ({view.level})")
        click.echo(f"parent: {view.parent_code or '-'}   households: {nodes[0].households}")
        for n in nodes[1:]:
            click.echo(f"  {n.code}  {n.name}  ({n.level})")

    emit(as_json, data, table)


@area_cli.command("tree")
@click.argument("root", required=False)
@click.option("--depth", type=click.IntRange(min=0), help="Show this many levels below ROOT.")
@json_option
@pass_state
def tree_cmd(state: CliState, root: str | None, depth: int | None, as_json: bool) -> None:
    """The tree under ROOT (default: the whole district), with household counts."""
    from community365.registry import areas

    district = state.district()
    with district.engine.connect() as conn:
        nodes = areas.tree(conn, root, depth)
    names = {lv.key: lv.name for lv in district.config.areas.levels}

    def table() -> None:
        for n in nodes:
            click.echo(
                f"{'  ' * n.depth}{n.code}  {n.name}  [{names.get(n.level, n.level)}]"
                f"  {n.households} 户"
            )

    emit(as_json, [attrs.asdict(n) for n in nodes], table)


@area_cli.command("list")
@click.option("--level", help="Only areas of this level.")
@json_option
@pass_state
def list_cmd(state: CliState, level: str | None, as_json: bool) -> None:
    """All areas (optionally of one level) as a table."""
    from community365.registry import areas

    district = state.district()
    with district.engine.connect() as conn:
        nodes = [n for n in areas.tree(conn) if level is None or n.level == level]
    emit(
        as_json,
        [attrs.asdict(n) for n in nodes],
        lambda: emit_table(
            ["code", "name", "level", "households"],
            [(n.code, n.name, n.level, n.households) for n in nodes],
        ),
    )
