"""What the ``c365 timebank`` commands share: the district, JSON shapes, options."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from community365.cli.state import CliState, emit_json
from community365_timebank import ledger
from community365_timebank.accounts import Account
from community365_timebank.tables import ACCOUNT_KINDS, ACCOUNT_STATUSES

hours_arg = click.argument("hours", metavar="HOURS")
memo_option = click.option("--memo", default="", help="A note kept with the transfer.")
reason_option = click.option("--reason", required=True, help="Why (kept in the record).")
MOMENT = click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])


# -- shared pieces ------------------------------------------------------------------------------


def district_of(state: CliState) -> Any:
    return state.district()


def account_json(account: Account, tz: dt.tzinfo, reveal: bool = False) -> dict[str, Any]:
    return {
        "id": account.id,
        "bank": account.bank_code,
        "bank_name": account.bank_name,
        "kind": account.kind,
        "holder": account.holder(reveal),
        "status": account.status,
        "balance_minutes": account.balance,
        "balance": ledger.hours(account.balance),
        "floor": None if account.floor is None else ledger.hours(account.floor),
        "available": None if account.available is None else ledger.hours(account.available),
        "opened_at": account.opened_at.astimezone(tz).isoformat(timespec="minutes"),
    }


def transfer_json(t: ledger.Transfer, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "from_account": t.from_account,
        "to_account": t.to_account,
        "minutes": t.minutes,
        "hours": ledger.hours(t.minutes),
        "at": t.at.astimezone(tz).isoformat(timespec="minutes"),
        "actor": t.actor,
        "memo": t.memo,
        "case_ref": t.case_ref,
        "reverses": t.reverses,
        "pair": t.pair,
    }


def account_line(account: Account, reveal: bool = False) -> str:
    floor = "no floor" if account.floor is None else f"floor {ledger.hours(account.floor)}"
    return (
        f"#{account.id} {account.holder(reveal)} — {account.bank_name} ({account.bank_code}), "
        f"{ACCOUNT_KINDS[account.kind]} {account.kind}, {ACCOUNT_STATUSES[account.status]} "
        f"{account.status}, balance {ledger.hours(account.balance)}, {floor}"
    )


def show_transfers(transfers: list[ledger.Transfer], as_json: bool, tz: dt.tzinfo) -> None:
    if as_json:
        emit_json([transfer_json(t, tz) for t in transfers])
        return
    for t in transfers:
        click.echo(
            f"transfer {t.id}: {t.kind} {ledger.hours(t.minutes)} "
            f"#{t.from_account} → #{t.to_account}" + (f" ({t.memo})" if t.memo else "")
        )
