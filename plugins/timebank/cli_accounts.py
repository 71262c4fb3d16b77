"""``c365 timebank join|leave|freeze|unfreeze|accounts|balance|statement``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from community365.cli.periods import DAY, check_day
from community365.cli.personal import audit_reveal
from community365.cli.state import CliState, emit, emit_table, json_option, pass_state
from community365.cli.state import reveal_option as _reveal_option
from community365_timebank import PLUGIN_NAME, accounts, ledger
from community365_timebank.cli_shared import (
    account_json,
    account_line,
    district_of,
)
from community365_timebank.tables import ACCOUNT_KINDS, ACCOUNT_STATUSES

# -- accounts -----------------------------------------------------------------------------------


@click.command("join")
@click.argument("who")
@click.option("--move", is_flag=True, help="A member of another bank moves here with the hours.")
@click.option("--bank", "bank", metavar="AREA", help="For a team: the bank's community code.")
@json_option
@pass_state
def join_cmd(state: CliState, who: str, move: bool, bank: str | None, as_json: bool) -> None:
    """WHO joins the bank of their community: a resident's ID number, a volunteer's code
    (the resident they are), or a team's code (a team account)."""
    district = district_of(state)
    settings = district.settings[PLUGIN_NAME]
    with district.begin() as ctx:
        account = accounts.join_ref(ctx, settings, who, move=move, bank_code=bank)
        district.audit(ctx, "timebank.join", f"#{account.id}", account_line(account))
    emit(
        as_json,
        account_json(account, district.tz),
        lambda: click.echo("joined: " + account_line(account)),
    )


@click.command("leave")
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--donate-rest", is_flag=True, help="Donate the balance to the pool first.")
@pass_state
def leave_cmd(state: CliState, account_ref: str, donate_rest: bool) -> None:
    """Close ACCOUNT; its balance must be zero, or donated with --donate-rest."""
    district = district_of(state)
    with district.begin() as ctx:
        account, donated = accounts.leave(ctx, account_ref, donate_rest=donate_rest)
        detail = f"donated {ledger.hours(donated)}" if donated else ""
        district.audit(ctx, "timebank.leave", f"#{account.id}", detail)
    rest = f", {ledger.hours(donated)} donated to the pool" if donated else ""
    click.echo(f"account #{account.id} ({account.holder()}) closed{rest}")


@click.command("freeze")
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@pass_state
def freeze_cmd(state: CliState, account_ref: str, reason: str) -> None:
    """Freeze ACCOUNT: no transfer in or out (reversals excepted) until unfrozen."""
    district = district_of(state)
    with district.begin() as ctx:
        account = accounts.set_frozen(ctx, account_ref, True)
        district.audit(ctx, "timebank.freeze", f"#{account.id}", reason)
    click.echo(f"account #{account.id} ({account.holder()}) frozen")


@click.command("unfreeze")
@click.argument("account_ref", metavar="ACCOUNT")
@pass_state
def unfreeze_cmd(state: CliState, account_ref: str) -> None:
    """Make a frozen ACCOUNT active again."""
    district = district_of(state)
    with district.begin() as ctx:
        account = accounts.set_frozen(ctx, account_ref, False)
        district.audit(ctx, "timebank.unfreeze", f"#{account.id}")
    click.echo(f"account #{account.id} ({account.holder()}) active")


@click.command("accounts")
@click.option("--bank", metavar="AREA", help="Only the bank of this community code.")
@click.option("--kind", type=click.Choice(list(ACCOUNT_KINDS)))
@click.option("--status", type=click.Choice(list(ACCOUNT_STATUSES)))
@_reveal_option
@json_option
@pass_state
def accounts_cmd(
    state: CliState,
    bank: str | None,
    kind: str | None,
    status: str | None,
    reveal: bool,
    as_json: bool,
) -> None:
    """The accounts, by bank: holder, kind, status, balance and floor."""
    district = district_of(state)
    with district.begin() as ctx:
        if reveal:  # the audit entry is written after reading: see the ledger's docstring
            ledger.write_lock(ctx.connection)
        found = accounts.list_accounts(ctx.connection, bank_code=bank, kind=kind, status=status)
        audit_reveal(district, ctx, reveal, "timebank accounts", f"{len(found)} account(s)")
    rows = [account_json(a, district.tz, reveal) for a in found]

    def table() -> None:
        emit_table(
            ["#", "bank", "kind", "holder", "status", "balance", "floor"],
            [
                (
                    a.id,
                    a.bank_code,
                    a.kind,
                    a.holder(reveal),
                    a.status,
                    ledger.hours(a.balance),
                    "-" if a.floor is None else ledger.hours(a.floor),
                )
                for a in found
            ],
        )

    emit(as_json, rows, table)


@click.command("balance")
@click.argument("account_ref", metavar="ACCOUNT")
@_reveal_option
@json_option
@pass_state
def balance_cmd(state: CliState, account_ref: str, reveal: bool, as_json: bool) -> None:
    """The balance of ACCOUNT, and how much may still leave it."""
    district = district_of(state)
    with district.begin() as ctx:
        if reveal:  # the audit entry is written after reading: see the ledger's docstring
            ledger.write_lock(ctx.connection)
        account = accounts.find(ctx.connection, account_ref)
        audit_reveal(district, ctx, reveal, f"#{account.id}", "timebank balance")
    emit(
        as_json,
        account_json(account, district.tz, reveal),
        lambda: click.echo(account_line(account, reveal)),
    )


@click.command("statement")
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--from", "first", type=DAY, help="First day (default: the first entry).")
@click.option("--to", "last", type=DAY, help="Last day, included (default: today).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_state
def statement_cmd(
    state: CliState,
    account_ref: str,
    first: dt.datetime | None,
    last: dt.datetime | None,
    csv_path: Path | None,
    as_json: bool,
) -> None:
    """The entries of ACCOUNT over a period (对账单), with opening and closing balances;
    --csv FILE writes them as CSV (UTF-8 with BOM, for Excel), whole or not at all."""
    from community365_timebank.statements import statement, write_csv

    district = district_of(state)
    tz = district.tz
    with district.begin() as ctx:
        account = accounts.find(ctx.connection, account_ref)
        found = statement(
            ctx.connection,
            account,
            tz,
            check_day(first.date(), "--from") if first else None,
            check_day(last.date(), "--to") if last else None,
        )
    if csv_path is not None:
        written = write_csv(found, csv_path, tz)
        if not as_json:
            click.echo(f"{csv_path}: {written} line(s)")
            return
    data = {
        "account": account_json(account, district.tz),
        "from": found.first.isoformat() if found.first else None,
        "to": found.last.isoformat() if found.last else None,
        "opening": ledger.hours(found.opening),
        "credits": ledger.hours(found.credits),
        "debits": ledger.hours(found.debits),
        "closing": ledger.hours(found.closing),
        "lines": [
            {
                "at": line.at.astimezone(tz).isoformat(timespec="minutes"),
                "transfer": line.transfer_id,
                "kind": line.kind,
                "label": line.label,
                "counterparty": line.counterparty,
                "minutes": line.minutes,
                "hours": ledger.hours(line.minutes),
                "balance": ledger.hours(line.balance_after),
                "case_ref": line.case_ref,
                "memo": line.memo,
            }
            for line in found.lines
        ],
    }

    def table() -> None:
        period = f"{data['from'] or 'start'} – {data['to'] or 'today'}"
        click.echo(f"statement of {account_line(account)}")
        click.echo(f"{period}: opening {data['opening']}")
        emit_table(
            ["time", "transfer", "kind", "counterparty", "hours", "balance", "case", "memo"],
            [
                (
                    line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    line.transfer_id,
                    line.label,
                    line.counterparty,
                    ledger.hours(line.minutes),
                    ledger.hours(line.balance_after),
                    line.case_ref or "",
                    line.memo,
                )
                for line in found.lines
            ],
        )
        click.echo(f"in {data['credits']}, out {data['debits']}, closing {data['closing']}")

    emit(as_json, data, table)
