"""``c365 db``: migrate the database and say where each branch stands."""

from __future__ import annotations

import attrs
import click

from community365.cli.state import CliState, emit, emit_table, json_option, pass_state


@click.group("db")
def db_cli() -> None:
    """Database schema: one Alembic branch for the core and one per plugin."""


@db_cli.command("upgrade")
@json_option
@pass_state
def upgrade_cmd(state: CliState, as_json: bool) -> None:
    """Migrate the core and every enabled plugin to their latest revision."""
    district = state.district(current=False)
    before = district.upgrade()
    rows = [
        {"label": b.label, "from": b.current, "to": b.head, "applied": list(b.pending)}
        for b in before
    ]

    def text() -> None:
        for row in rows:
            if row["applied"]:
                click.echo(f"{row['label']}: {row['from'] or 'empty'} -> {row['to']}")
            else:
                click.echo(f"{row['label']}: up to date at {row['to']}")

    emit(as_json, rows, text)


@db_cli.command("status")
@json_option
@pass_state
def status_cmd(state: CliState, as_json: bool) -> None:
    """Each branch: its current revision, its head, and what is pending."""
    from community365.db import migrate

    district = state.district(current=False)
    statuses = migrate.status(district.engine, district.migration_branches())
    enabled = {"community365", *district.host.migration_branches()}
    rows = [
        {**attrs.asdict(s), "enabled": s.label in enabled, "up_to_date": s.up_to_date}
        for s in statuses
    ]

    def table() -> None:
        emit_table(
            ["branch", "enabled", "current", "head", "pending"],
            [
                (
                    r["label"],
                    "yes" if r["enabled"] else "no",
                    r["current"] or "-",
                    r["head"],
                    len(r["pending"]),
                )
                for r in rows
            ],
        )

    emit(as_json, rows, table)
