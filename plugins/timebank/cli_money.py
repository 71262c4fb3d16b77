"""``c365 timebank transfer|gift|donate|reverse|reconcile|stats``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from community365.cli.periods import period_options, resolve_period
from community365.cli.state import CliState, emit, emit_table, json_option, pass_state
from community365_timebank import PLUGIN_NAME, earning, giving, ledger
from community365_timebank.amounts import parse_hours
from community365_timebank.cli_shared import (
    district_of,
    hours_arg,
    memo_option,
    reason_option,
    show_transfers,
)

# -- spending and giving ------------------------------------------------------------------------


def _flat(made: Any) -> list[ledger.Transfer]:
    """The transfers written: one, a pair (a cross-bank move), or a list of those."""
    if isinstance(made, ledger.Transfer):
        return [made]
    return [t for item in made for t in _flat(item)]


def _write(
    state: CliState, action: str, as_json: bool, run: Any, subject: str
) -> list[ledger.Transfer]:
    district = district_of(state)
    with district.begin() as ctx:
        ledger.write_lock(ctx.connection)  # before any read: see the ledger's docstring
        made = _flat(run(ctx, district.settings[PLUGIN_NAME]))
        detail = ", ".join(f"{t.id}: {t.kind} {ledger.hours(t.minutes)}" for t in made)
        district.audit(ctx, f"timebank.{action}", subject, detail)
    show_transfers(made, as_json, district.tz)
    return made


@click.command("transfer")
@click.argument("payer", metavar="FROM")
@click.argument("payee", metavar="TO")
@hours_arg
@memo_option
@json_option
@pass_state
def transfer_cmd(
    state: CliState, payer: str, payee: str, hours: str, memo: str, as_json: bool
) -> None:
    """FROM spends HOURS on help for themselves, paying TO (who gave it, or 'pool');
    across banks through the clearing accounts."""
    minutes = parse_hours(hours)
    _write(
        state,
        "spend",
        as_json,
        lambda ctx, s: giving.spend(ctx, s, payer, payee, minutes, memo),
        f"{payer} → {payee}",
    )


@click.command("gift")
@click.argument("giver", metavar="FROM")
@click.argument("relative", metavar="TO")
@hours_arg
@memo_option
@json_option
@pass_state
def gift_cmd(
    state: CliState, giver: str, relative: str, hours: str, memo: str, as_json: bool
) -> None:
    """FROM gives HOURS to TO: their recorded spouse, parent or grandparent, aged
    plugins.timebank.family_min_age (60 by default) or more."""
    minutes = parse_hours(hours)
    _write(
        state,
        "gift",
        as_json,
        lambda ctx, s: giving.gift(ctx, s, giver, relative, minutes, memo),
        f"{giver} → {relative}",
    )


@click.command("donate")
@click.argument("donor", metavar="FROM")
@hours_arg
@memo_option
@json_option
@pass_state
def donate_cmd(state: CliState, donor: str, hours: str, memo: str, as_json: bool) -> None:
    """FROM (a member or a team) gives HOURS to the pool of its bank."""
    minutes = parse_hours(hours)
    _write(state, "donate", as_json, lambda ctx, s: giving.donate(ctx, donor, minutes, memo), donor)


@click.command("reverse")
@click.argument("transfer_id", type=click.IntRange(1, ledger.MAX_ID), metavar="TRANSFER")
@reason_option
@json_option
@pass_state
def reverse_cmd(state: CliState, transfer_id: int, reason: str, as_json: bool) -> None:
    """Undo TRANSFER by the opposite one (冲正); nothing is edited or deleted. A leg of a
    cross-bank transfer is undone with its other leg; a verified earning (its earn or
    surplus transfer) with its storage-cap surplus, and the record is marked reversed."""
    _write(
        state,
        "reverse",
        as_json,
        lambda ctx, s: earning.reverse_transfer(ctx, transfer_id, reason),
        str(transfer_id),
    )


# -- checks and figures -------------------------------------------------------------------------


@click.command("reconcile")
@json_option
@pass_state
def reconcile_cmd(state: CliState, as_json: bool) -> None:
    """Recompute every balance from its entries, check every transfer's entries, every
    cross-bank pair and clearing account, and every bank's sum; one line per problem,
    exit 1 on any."""
    from community365_timebank.checks import reconcile

    district = district_of(state)
    with district.engine.connect() as conn:
        found = reconcile(conn)
    data = {
        "ok": found.ok,
        "accounts": found.accounts,
        "banks": found.banks,
        "differences": [
            {
                "problem": d.kind,
                "account": d.account_id,
                "transfer": d.transfer_id,
                "other_account": d.other_account_id,
                "stored": d.stored,
                "summed": d.summed,
                "detail": d.describe(),
            }
            for d in found.differences
        ],
        "unbalanced_banks": {str(b): t for b, t in found.unbalanced.items()},
    }
    lines = found.problems() or [found.summary()]
    emit(as_json, data, lambda: click.echo("\n".join(lines)))
    if not found.ok:
        raise click.exceptions.Exit(1)


@click.command("stats")
@period_options
@click.option("--area", help="Only the subtree of this area code (default: the whole district).")
@json_option
@pass_state
def stats_cmd(
    state: CliState,
    start: dt.datetime | None,
    end: dt.datetime | None,
    month: str | None,
    area: str | None,
    as_json: bool,
) -> None:
    """Hours earned, spent and donated in a period, active volunteers, the most generous
    (帮扶之星 candidates) and how balances are spread."""
    from community365.registry.areas import get_area
    from community365_timebank.metrics import BUCKETS, timebank_stats

    district = district_of(state)
    with district.begin() as ctx:
        today = ctx.today
        period = resolve_period(start, end, month, today)
        place = get_area(ctx.connection, area) if area else None
        code = place.code if place else district.config.district.code
        name = place.name if place else district.config.district.name
        found = timebank_stats(ctx.connection, period, code, district.tz)
    last_day = period.end - dt.timedelta(days=1)
    data = {
        "area": code,
        "area_name": name,
        "from": period.start.isoformat(),
        "to": last_day.isoformat(),
    }
    data |= found.to_json()

    def text() -> None:
        click.echo(f"时间银行 time bank, {name} ({code}), {period.start} – {last_day}")
        click.echo(
            f"earned {ledger.hours(found.earned)}, spent {ledger.hours(found.spent)}, "
            f"donated {ledger.hours(found.donated)}; "
            f"{found.active_volunteers} active volunteer(s), {found.members} member(s)"
        )
        if found.givers:
            click.echo("帮扶之星 candidates (most hours given):")
            emit_table(
                ["rank", "account", "holder", "hours"],
                [
                    (i, f"#{g.account_id}", g.name, ledger.hours(g.minutes))
                    for i, g in enumerate(found.givers, 1)
                ],
            )
        spread = ", ".join(f"{label} {found.buckets[key]}" for key, label, _ in BUCKETS)
        click.echo(f"balances: {spread}")

    emit(as_json, data, text)
