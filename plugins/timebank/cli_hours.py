"""``c365 timebank pending|verify|reject``: hours served, waiting for a sign-off."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from community365.cli.periods import parse_moment
from community365.cli.state import CliState, emit, emit_json, emit_table, json_option, pass_state
from community365_timebank import PLUGIN_NAME, accounts, earning, ledger
from community365_timebank.cli_shared import (
    district_of,
    reason_option,
    show_transfers,
    transfer_json,
)

# -- earning ------------------------------------------------------------------------------------


def pending_json(record: earning.Pending, tz: dt.tzinfo) -> dict[str, Any]:
    def local(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(tz).isoformat(timespec="minutes")

    return {
        "case_ref": record.case_ref,
        "volunteer_account": record.volunteer_account,
        "payer_account": record.payer_account,
        "minutes": record.minutes,
        "hours": ledger.hours(record.minutes),
        "claimed_minutes": record.claimed_minutes,
        "served_on": record.served_on.isoformat() if record.served_on else None,
        "status": record.status,
        "verified_as": record.verified_as,
        "signed_in": local(record.signed_in),
        "signed_out": local(record.signed_out),
        "decided_by": record.decided_by,
        "decided_at": local(record.decided_at),
        "transfer_id": record.transfer_id,
        "note": record.note,
    }


@click.command("pending")
@click.option("--bank", metavar="AREA", help="Only the bank of this community code.")
@click.option(
    "--status",
    type=click.Choice(["pending", "verified", "rejected", "reversed", "all"]),
    default="pending",
    show_default=True,
)
@json_option
@pass_state
def pending_cmd(state: CliState, bank: str | None, status: str, as_json: bool) -> None:
    """Hours served and recorded on resolution, waiting for verification."""
    district = district_of(state)
    with district.begin() as ctx:
        conn = ctx.connection
        bank_id = accounts.get_bank(conn, bank).id if bank else None
        found = earning.list_pending(
            conn, status=None if status == "all" else status, bank_id=bank_id
        )
        names = {
            a: accounts.get(conn, a).holder()
            for r in found
            for a in (r.volunteer_account, r.payer_account)
            if a is not None
        }
    rows = [pending_json(r, district.tz) for r in found]

    def payer(r: earning.Pending) -> str:
        return "nobody yet" if r.payer_account is None else names[r.payer_account]

    def table() -> None:
        emit_table(
            ["case", "served", "volunteer", "hours", "paid by", "status"],
            [
                (
                    r.case_ref,
                    r.served_on,
                    names[r.volunteer_account],
                    ledger.hours(r.minutes),
                    payer(r),
                    r.status,
                )
                for r in found
            ],
        )

    emit(as_json, rows, table)


@click.command("verify")
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--by",
    "as_",
    type=click.Choice(["coordinator", "recipient"]),
    default="coordinator",
    show_default=True,
    help="A coordinator's sign-off, or the recipient's confirmation (taken by the actor).",
)
@click.option("--signed-in", metavar="TIME", help="Sign-in time, YYYY-MM-DD HH:MM (local).")
@click.option("--signed-out", metavar="TIME", help="Sign-out time, YYYY-MM-DD HH:MM (local).")
@click.option("--note", default="", help="Kept with the record.")
@json_option
@pass_state
def verify_cmd(
    state: CliState,
    case_ref: str,
    as_: str,
    signed_in: str | None,
    signed_out: str | None,
    note: str,
    as_json: bool,
) -> None:
    """Verify the hours of CASE: they become a transfer to the volunteer.

    \b
    --by recipient: the acting user (--as) must be the recipient, by ID number or
    HOUSEHOLD/NAME. --by coordinator: an actor in plugins.timebank.coordinators (any
    actor when it is empty). The volunteer never verifies their own hours."""
    district = district_of(state)
    settings = district.settings[PLUGIN_NAME]
    tz = district.tz
    moments = [
        parse_moment(text, tz, option) if text else None
        for text, option in ((signed_in, "--signed-in"), (signed_out, "--signed-out"))
    ]
    with district.begin() as ctx:
        done = earning.verify(
            ctx,
            settings,
            case_ref,
            as_=as_,  # type: ignore[arg-type]
            signed_in=moments[0],
            signed_out=moments[1],
            note=note,
        )
        detail = f"{ledger.hours(done.earned.minutes)} by {as_}, transfer {done.earned.id}"
        if done.surplus is not None:
            detail += f", surplus {ledger.hours(done.surplus.minutes)} to the pool"
        district.audit(ctx, "timebank.verify", case_ref, detail)
        volunteer = accounts.get(ctx.connection, done.earned.to_account)
    transfers = [done.earned] + ([done.surplus] if done.surplus else [])
    if as_json:
        emit_json(
            {
                "pending": pending_json(done.pending, tz),
                "transfers": [transfer_json(t, tz) for t in transfers],
            }
        )
        return
    click.echo(
        f"{case_ref}: {ledger.hours(done.earned.minutes)} verified for {volunteer.holder()}, "
        f"balance {ledger.hours(volunteer.balance)}"
    )
    show_transfers(transfers, False, tz)


@click.command("reject")
@click.argument("case_ref", metavar="CASE")
@reason_option
@pass_state
def reject_cmd(state: CliState, case_ref: str, reason: str) -> None:
    """Reject the pending hours of CASE: no transfer is made."""
    district = district_of(state)
    with district.begin() as ctx:
        record = earning.reject(ctx, case_ref, reason)
        district.audit(ctx, "timebank.reject", case_ref, reason)
    click.echo(f"{case_ref}: {ledger.hours(record.minutes)} rejected ({reason})")
