"""``c365 demo``: create the demo district (示范辖区) from the shipped ledgers, and show it.

The demo is 鄞州区 → 百丈街道 → 划船社区 and 七塔社区 with invented residents, on SQLite,
with the three bundled plugins enabled. Its files ship as ``community365.demo_district``.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from community365.cli.state import CliState, emit, json_option, pass_state
from community365.config import DISTRICT_FILE
from community365.errors import UsageError

if TYPE_CHECKING:
    from community365.district import District

DEMO_PACKAGE = "community365.demo_district"
# Import order: each file refers only to what the files before it created.
DEMO_FILES = (
    ("areas", "areas.csv"),
    ("households", "households.csv"),
    ("persons", "persons.csv"),
    ("handlers", "handlers.csv"),
    ("duties", "duties.csv"),
)
TREE_DEPTH = 4  # down to the small grids; `c365 area tree` shows the buildings too


@click.command("demo")
@click.argument(
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-district"),
)
@click.option(
    "--weeks",
    type=click.IntRange(0, 52),
    default=4,
    show_default=True,
    help="Weeks of invented demands to run through the pipeline, up to yesterday (0: none).",
)
@json_option
@pass_state
def demo_cli(state: CliState, directory: Path, weeks: int, as_json: bool) -> None:
    """Create the demo district in DIRECTORY (default: ./demo-district), run a few
    weeks of demands through it, and show it with the figures of those weeks."""
    if (directory / DISTRICT_FILE).exists():
        raise UsageError(f"{directory}: a district already exists here; choose another directory")
    with _removed_on_failure(directory):
        district = build_demo(directory, actor=state.actor, quiet=as_json)
        try:
            overview = demo_overview(district)
            stats = simulate_weeks(district, weeks, quiet=as_json) if weeks else None
        finally:
            district.engine.dispose()
    data = {"directory": str(directory), **overview}
    if stats is not None:
        data["stats"] = stats.to_json()

    def text() -> None:
        show(directory, overview)
        if stats is not None:
            from community365.cli.cases import show_stats

            click.echo("")
            show_stats(stats, district)
        _next_steps(directory)

    emit(as_json, data, text)


def simulate_weeks(district: District, weeks: int, *, quiet: bool) -> Any:
    """Run ``weeks`` of demands up to yesterday; return the figures of those weeks."""
    import datetime as dt

    from community365.cases.stats import case_stats, inclusive_period
    from community365.demo_district.simulate import simulate

    today = district.today()
    summary = simulate(district.root, weeks=weeks, end=today, actor=district.actor)
    if not quiet:
        click.echo(
            f"ran {summary.days} days of demands: {summary.submitted} taken in "
            f"({summary.linked} repeats linked), {summary.steps} steps"
        )
    with district.begin() as ctx:
        period = inclusive_period(today - dt.timedelta(weeks=weeks), today - dt.timedelta(days=1))
        return case_stats(district, ctx, period)


def demo_toml() -> str:
    """The demo district's district.toml, as shipped."""
    return importlib.resources.files(DEMO_PACKAGE).joinpath(DISTRICT_FILE).read_text("utf-8")


def build_demo(directory: Path, *, actor: str | None, quiet: bool = False) -> District:
    """Create the district in ``directory`` and import the demo ledgers into it.

    Returns the open District. On any failure, whatever was created is removed again.
    """
    from community365.cli.init import create_district
    from community365.district import District
    from community365.imports import import_file

    toml_text = demo_toml()
    section = tomllib.loads(toml_text)["district"]
    with _removed_on_failure(directory):
        create_district(
            directory,
            name=section["name"],
            code=section["code"],
            database=section["database"],
            actor=actor,
            toml_text=toml_text,
        )
        district = District.open(directory.resolve(), actor=actor)
        try:
            package = importlib.resources.files(DEMO_PACKAGE)
            for entity, filename in DEMO_FILES:
                with importlib.resources.as_file(package.joinpath(filename)) as path:
                    summary = import_file(district, entity, path)
                if not quiet:
                    click.echo(f"imported {filename}: {summary.added} {entity}")
        except BaseException:
            district.engine.dispose()
            raise
    return district


@contextlib.contextmanager
def _removed_on_failure(directory: Path) -> Iterator[None]:
    """Remove what the block added to ``directory`` (and the directory, if it made it)."""
    created = not directory.exists()
    before = set(directory.iterdir()) if not created else set()
    try:
        yield
    except BaseException:
        if directory.exists():
            for leftover in set(directory.iterdir()) - before:
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
            if created:
                directory.rmdir()
        raise


def demo_overview(district: District) -> dict[str, Any]:
    """The area tree (to the small grids, with household counts), the enabled plugins in
    call order, and how many records of each kind the district holds."""
    from sqlalchemy import func, select

    from community365.db import schema
    from community365.registry import areas

    names = {level.key: level.name for level in district.config.areas.levels}
    with district.engine.connect() as conn:
        nodes = areas.tree(conn, depth=TREE_DEPTH)
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (
                schema.areas,
                schema.households,
                schema.persons,
                schema.handlers,
                schema.duties,
            )
        }
    return {
        "tree": [{**attrs.asdict(n), "level_name": names.get(n.level, n.level)} for n in nodes],
        "plugins": [
            {"name": name, "summary": _first_line(district.host.plugin(name).__doc__)}
            for name in district.host.enabled
        ],
        "counts": counts,
    }


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def show(directory: Path, overview: dict[str, Any]) -> None:
    """Print the overview and what to try next."""
    counts = overview["counts"]
    click.echo(f"\ncreated the demo district in {directory}")
    click.echo("\narea tree (区域), households (户) in each area; `c365 area tree` adds buildings:")
    for node in overview["tree"]:
        click.echo(
            f"{'  ' * node['depth']}{node['code']}  {node['name']}  [{node['level_name']}]"
            f"  {node['households']} 户"
        )
    click.echo(
        f"\n{counts['areas']} areas (区域), {counts['households']} households (住户), "
        f"{counts['persons']} residents (居民), {counts['handlers']} handlers (处置人), "
        f"{counts['duties']} duties (责任)"
    )
    click.echo("\nplugins enabled, in call order (插件):")
    for i, plugin in enumerate(overview["plugins"], start=1):
        click.echo(f"  {i}. {plugin['name']}  {plugin['summary']}".rstrip())


def _next_steps(directory: Path) -> None:
    click.echo("\nnext steps:")
    for step in (
        f"cd {directory}",
        "c365 area tree",
        "c365 person list --tag 独居",
        "c365 case list --open",
        "c365 case stats",
        "c365 plugins list",
    ):
        click.echo(f"  {step}")
