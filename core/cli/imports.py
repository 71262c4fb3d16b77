"""``c365 import``: bring a district's existing ledgers (台账) in from CSV files.

One subcommand per entity (``c365 import persons 居民台账.csv``) and ``c365 import template
ENTITY`` for the header line an office can start a spreadsheet from.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from community365.cli.state import CliState, emit, emit_json, json_option, pass_state
from community365.imports.columns import describe
from community365.imports.entities import ENTITIES, Entity


@click.group("import")
def import_cli() -> None:
    """Import CSV ledgers (导入台账), UTF-8 or GBK: every row is checked first, and either
    all rows are written or none.

    Import in this order: areas, households, persons, handlers, duties. Importing a file
    again updates the rows it names (by code or ID number) instead of adding them twice.
    """


def _import_command(spec: Entity) -> click.Command:
    @click.command(
        spec.name,
        help=(
            f"Import {spec.name} ({spec.zh}) from the CSV file FILE.\n\n"
            f"Columns (* required): {describe(spec.columns)}."
        ),
        short_help=f"Import {spec.name} ({spec.zh}) from a CSV file.",
    )
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option(
        "--encoding",
        metavar="ENC",
        help="The file's encoding (utf-8, gbk ...). Default: detected, UTF-8 or GBK.",
    )
    @json_option
    @pass_state
    def command(state: CliState, file: Path, encoding: str | None, as_json: bool) -> None:
        from community365.imports import import_file

        summary = import_file(state.district(), spec.name, file, encoding=encoding, progress=True)
        data = {
            "entity": summary.entity,
            "file": str(summary.path),
            "encoding": summary.encoding,
            "rows": summary.rows,
            "written": summary.written,
            "added": summary.added,
            "updated": summary.written - summary.added,
        }

        def text() -> None:
            click.echo(
                f"{file.name}: {summary.rows} rows imported ({summary.encoding}): "
                f"{summary.added} added, {summary.written - summary.added} updated"
            )

        emit(as_json, data, text)

    return command


for _spec in ENTITIES.values():
    import_cli.add_command(_import_command(_spec))


@import_cli.command("template")
@click.argument("entity_name", metavar="ENTITY", type=click.Choice(list(ENTITIES)))
@json_option
def template_cmd(entity_name: str, as_json: bool) -> None:
    """Print the CSV header line of ENTITY, in Chinese (English names on stderr).

    ``c365 import template persons > 居民台账.csv`` starts a ledger an office can fill in.
    English column names are accepted too, and so are common variants (身份证号码, 手机号 ...).
    """
    spec = ENTITIES[entity_name]
    if as_json:
        emit_json(
            [
                {"field": c.field, "zh": c.zh, "required": c.required, "aliases": c.aliases}
                for c in spec.columns
            ]
        )
        return
    click.echo(",".join(c.zh for c in spec.columns))
    legend = ", ".join(
        f"{c.zh}={c.field}{' (required)' if c.required else ''}" for c in spec.columns
    )
    click.echo(f"# {spec.name} ({spec.zh}): {legend}", file=sys.stderr)
