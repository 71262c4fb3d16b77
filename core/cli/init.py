"""``c365 init``: a new district directory with its district.toml and database."""

from __future__ import annotations

import re
from pathlib import Path

import click

from community365.cli.state import CliState, pass_state
from community365.config import DISTRICT_FILE, render_new
from community365.errors import UsageError


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help="District name, e.g. '鄞州区 Yinzhou District'.")
@click.option("--code", required=True, help="6-digit administrative code, e.g. 330212.")
@click.option(
    "--database",
    default="sqlite:///district.db",
    show_default=True,
    help="Database URL; a relative SQLite path is inside DIRECTORY.",
)
@pass_state
def init_cli(state: CliState, directory: Path, name: str, code: str, database: str) -> None:
    """Create DIRECTORY with a district.toml, migrate its database and add its root area."""
    create_district(directory, name=name, code=code, database=database, actor=state.actor)
    click.echo(f"created district {name} ({code}) in {directory}")


def create_district(
    directory: Path,
    *,
    name: str,
    code: str,
    database: str,
    actor: str | None,
    toml_text: str | None = None,
) -> None:
    """Write district.toml (or ``toml_text``), migrate, and add the root area.

    On any failure the directory is left as it was found: no half-made district.
    """
    from community365.district import District
    from community365.registry import areas

    if not re.fullmatch(r"\d{6}", code):
        raise UsageError(f"--code: expected a 6-digit administrative code, got {code!r}")
    path = directory / DISTRICT_FILE
    if path.exists():
        raise UsageError(f"{path}: a district already exists here")
    created_dir = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    before = set(directory.iterdir())
    try:
        path.write_text(toml_text or render_new(name, code, database), encoding="utf-8")
        district = District.open(directory.resolve(), actor=actor)
        district.upgrade()
        with district.begin() as ctx:
            areas.add_area(ctx, district.config.areas.levels, code=code, name=name, parent=None)
            district.audit(ctx, "district.init", code, name)
        district.engine.dispose()
    except BaseException:
        for leftover in set(directory.iterdir()) - before:
            leftover.unlink()
        if created_dir:
            directory.rmdir()
        raise
