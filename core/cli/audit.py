"""``c365 audit``: who did what, and who saw whose personal data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from community365.cli.state import CliState, emit, emit_table, json_option, pass_state


@click.group("audit")
def audit_cli() -> None:
    """The audit log: every write and every reveal of personal data, with who did it."""


@audit_cli.command("list")
@click.option("--actor", help="Only this acting user.")
@click.option("--action", help="Only this action, or a prefix of it ending in '.', e.g. 'area.'.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this date (district time).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@pass_state
def list_cmd(
    state: CliState,
    actor: str | None,
    action: str | None,
    since: dt.datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest entries first."""
    from sqlalchemy import select

    from community365.db.schema import audit_log

    district = state.district()
    tz = ZoneInfo(district.config.district.timezone)
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        column = audit_log.c.action
        query = query.where(
            column.startswith(action, autoescape=True) if action.endswith(".") else column == action
        )
    if since:
        query = query.where(audit_log.c.at >= since.replace(tzinfo=tz))
    with district.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["at"] = row["at"].astimezone(tz).isoformat(timespec="seconds")
    emit(
        as_json,
        rows,
        lambda: emit_table(
            ["at", "actor", "action", "subject", "detail"],
            [(r["at"], r["actor"], r["action"], r["subject"], r["detail"]) for r in rows],
        ),
    )
