"""``c365 hello``: post an offer of help, and read the board."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from c365_hello import PLUGIN_NAME, offers
from community365.cli.state import CliState, emit, emit_table, json_option, pass_state


@click.group("hello")
def hello_cli() -> None:
    """邻里互助 Neighbour help: offers of help between neighbours."""


@hello_cli.command("offer")
@click.argument("area")
@click.argument("neighbour")
@click.argument("what")
@pass_state
def offer_cmd(state: CliState, area: str, neighbour: str, what: str) -> None:
    """NEIGHBOUR of AREA offers WHAT, e.g. ``c365 hello offer 330212001001 张阿姨 借梯子``."""
    district = state.district()
    settings = district.settings[PLUGIN_NAME]
    with district.begin() as ctx:  # one transaction: the offer and its audit entry, or neither
        number = offers.post_offer(ctx, settings, area, neighbour, what)
        district.audit(ctx, "hello.offer", area, f"#{number} {neighbour}: {what}")
    click.echo(f"offer #{number} posted on {settings.board_name}: {neighbour} — {what}")


@hello_cli.command("list")
@click.argument("area", required=False)
@json_option
@pass_state
def list_cmd(state: CliState, area: str | None, as_json: bool) -> None:
    """The offers in AREA and below (default: the whole district)."""
    district = state.district()
    with district.engine.connect() as conn:
        found = offers.board(conn, area or district.config.district.code)
    title = district.settings[PLUGIN_NAME].board_name
    tz = ZoneInfo(district.config.district.timezone)  # stored in UTC, shown in district time
    rows = [
        {
            "id": o.id,
            "area_code": o.area_code,
            "neighbour": o.neighbour,
            "what": o.what,
            "offered_at": o.offered_at.astimezone(tz).isoformat(timespec="minutes"),
            "offered_by": o.offered_by,
        }
        for o in found
    ]

    def table() -> None:
        click.echo(f"{title}: {len(rows)} offer(s)")
        emit_table(
            ["#", "area", "neighbour", "what", "posted", "by"],
            [list(r.values()) for r in rows],
        )

    emit(as_json, rows, table)
