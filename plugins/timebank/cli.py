"""``c365 timebank``: accounts, verification, spending and giving, statements, checks.

Thin commands over the plugin's modules: each write runs in one ``district.begin()``
block with its audit entry (``timebank.*``), so it happens whole or not at all; a rule
that forbids it is a one-line ``error: ...`` with exit code 2. Hours are shown exactly
as hours and minutes (``1:30``); they are typed as ``1.5`` or ``1:30``. Accounts are
named by a resident's ID number, a handler's code (a team, or a volunteer's own
account), ``pool:AREA`` or ``#ID``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from community365.cli.periods import DAY, check_day, period_options, resolve_period
from community365.cli.personal import audit_reveal
from community365.cli.state import CliState, emit, emit_json, emit_table, json_option, pass_state
from community365.cli.state import reveal_option as _reveal_option
from community365_timebank import PLUGIN_NAME, accounts, earning, family, giving, ledger
from community365_timebank.accounts import KIND_NAMES, STATUS_NAMES, Account
from community365_timebank.amounts import parse_hours

_hours_arg = click.argument("hours", metavar="HOURS")
_memo = click.option("--memo", default="", help="A note kept with the transfer.")
_reason = click.option("--reason", required=True, help="Why (kept in the record).")
_moment = click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])


@click.group("timebank")
def timebank_cli() -> None:
    """时间银行 Time bank: members' hours, verified service, gifts and the pool."""


# -- shared pieces ------------------------------------------------------------------------------


def _district(state: CliState) -> Any:
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
    }


def _account_line(account: Account, reveal: bool = False) -> str:
    floor = "no floor" if account.floor is None else f"floor {ledger.hours(account.floor)}"
    return (
        f"#{account.id} {account.holder(reveal)} — {account.bank_name} ({account.bank_code}), "
        f"{KIND_NAMES[account.kind]} {account.kind}, {STATUS_NAMES[account.status]} "
        f"{account.status}, balance {ledger.hours(account.balance)}, {floor}"
    )


def _transfers_out(transfers: list[ledger.Transfer], as_json: bool, tz: dt.tzinfo) -> None:
    if as_json:
        emit_json([transfer_json(t, tz) for t in transfers])
        return
    for t in transfers:
        click.echo(
            f"transfer {t.id}: {t.kind} {ledger.hours(t.minutes)} "
            f"#{t.from_account} → #{t.to_account}" + (f" ({t.memo})" if t.memo else "")
        )


# -- accounts -----------------------------------------------------------------------------------


@timebank_cli.command("join")
@click.argument("who")
@click.option("--move", is_flag=True, help="A member of another bank moves here with the hours.")
@click.option("--bank", "bank", metavar="AREA", help="For a team: the bank's community code.")
@json_option
@pass_state
def join_cmd(state: CliState, who: str, move: bool, bank: str | None, as_json: bool) -> None:
    """WHO joins the bank of their community: a resident's ID number, a volunteer's code
    (the resident they are), or a team's code (a team account)."""
    district = _district(state)
    settings = district.settings[PLUGIN_NAME]
    with district.begin() as ctx:
        account = accounts.join_ref(ctx, settings, who, move=move, bank_code=bank)
        district.audit(ctx, "timebank.join", f"#{account.id}", _account_line(account))
    emit(
        as_json,
        account_json(account, district.tz),
        lambda: click.echo("joined: " + _account_line(account)),
    )


@timebank_cli.command("leave")
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--donate-rest", is_flag=True, help="Donate the balance to the pool first.")
@pass_state
def leave_cmd(state: CliState, account_ref: str, donate_rest: bool) -> None:
    """Close ACCOUNT; its balance must be zero, or donated with --donate-rest."""
    district = _district(state)
    with district.begin() as ctx:
        account, donated = accounts.leave(ctx, account_ref, donate_rest=donate_rest)
        detail = f"donated {ledger.hours(donated)}" if donated else ""
        district.audit(ctx, "timebank.leave", f"#{account.id}", detail)
    rest = f", {ledger.hours(donated)} donated to the pool" if donated else ""
    click.echo(f"account #{account.id} ({account.holder()}) closed{rest}")


@timebank_cli.command("freeze")
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@pass_state
def freeze_cmd(state: CliState, account_ref: str, reason: str) -> None:
    """Freeze ACCOUNT: no transfer in or out (reversals excepted) until unfrozen."""
    district = _district(state)
    with district.begin() as ctx:
        account = accounts.set_frozen(ctx, account_ref, True)
        district.audit(ctx, "timebank.freeze", f"#{account.id}", reason)
    click.echo(f"account #{account.id} ({account.holder()}) frozen")


@timebank_cli.command("unfreeze")
@click.argument("account_ref", metavar="ACCOUNT")
@pass_state
def unfreeze_cmd(state: CliState, account_ref: str) -> None:
    """Make a frozen ACCOUNT active again."""
    district = _district(state)
    with district.begin() as ctx:
        account = accounts.set_frozen(ctx, account_ref, False)
        district.audit(ctx, "timebank.unfreeze", f"#{account.id}")
    click.echo(f"account #{account.id} ({account.holder()}) active")


@timebank_cli.command("accounts")
@click.option("--bank", metavar="AREA", help="Only the bank of this community code.")
@click.option("--kind", type=click.Choice(list(KIND_NAMES)))
@click.option("--status", type=click.Choice(list(STATUS_NAMES)))
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
    district = _district(state)
    with district.begin() as ctx:
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


@timebank_cli.command("balance")
@click.argument("account_ref", metavar="ACCOUNT")
@_reveal_option
@json_option
@pass_state
def balance_cmd(state: CliState, account_ref: str, reveal: bool, as_json: bool) -> None:
    """The balance of ACCOUNT, and how much may still leave it."""
    district = _district(state)
    with district.begin() as ctx:
        account = accounts.find(ctx.connection, account_ref)
        audit_reveal(district, ctx, reveal, f"#{account.id}", "timebank balance")
    emit(
        as_json,
        account_json(account, district.tz, reveal),
        lambda: click.echo(_account_line(account, reveal)),
    )


@timebank_cli.command("statement")
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
    --csv FILE writes them as CSV (UTF-8 with BOM, for Excel)."""
    from community365_timebank.statements import KIND_NAMES as KINDS
    from community365_timebank.statements import statement, write_csv

    district = _district(state)
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
        click.echo(f"statement of {_account_line(account)}")
        click.echo(f"{period}: opening {data['opening']}")
        emit_table(
            ["time", "transfer", "kind", "counterparty", "hours", "balance", "case", "memo"],
            [
                (
                    line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    line.transfer_id,
                    f"{KINDS[line.kind]} {line.kind}",
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


@timebank_cli.command("pending")
@click.option("--bank", metavar="AREA", help="Only the bank of this community code.")
@click.option(
    "--status",
    type=click.Choice(["pending", "verified", "rejected", "all"]),
    default="pending",
    show_default=True,
)
@json_option
@pass_state
def pending_cmd(state: CliState, bank: str | None, status: str, as_json: bool) -> None:
    """Hours served and recorded on resolution, waiting for verification."""
    district = _district(state)
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
        }
    rows = [pending_json(r, district.tz) for r in found]

    def table() -> None:
        emit_table(
            ["case", "served", "volunteer", "hours", "paid by", "status"],
            [
                (
                    r.case_ref,
                    r.served_on,
                    names[r.volunteer_account],
                    ledger.hours(r.minutes),
                    names[r.payer_account],
                    r.status,
                )
                for r in found
            ],
        )

    emit(as_json, rows, table)


@timebank_cli.command("verify")
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--by",
    "as_",
    type=click.Choice(["coordinator", "recipient"]),
    default="coordinator",
    show_default=True,
    help="A coordinator's sign-off, or the recipient's confirmation (taken by the actor).",
)
@click.option("--signed-in", type=_moment, help="Sign-in time, YYYY-MM-DD HH:MM (local).")
@click.option("--signed-out", type=_moment, help="Sign-out time, YYYY-MM-DD HH:MM (local).")
@click.option("--note", default="", help="Kept with the record.")
@json_option
@pass_state
def verify_cmd(
    state: CliState,
    case_ref: str,
    as_: str,
    signed_in: dt.datetime | None,
    signed_out: dt.datetime | None,
    note: str,
    as_json: bool,
) -> None:
    """Verify the hours of CASE: they become a transfer to the volunteer."""
    district = _district(state)
    settings = district.settings[PLUGIN_NAME]
    tz = district.tz
    with district.begin() as ctx:
        done = earning.verify(
            ctx,
            settings,
            case_ref,
            as_=as_,  # type: ignore[arg-type]
            signed_in=signed_in.replace(tzinfo=tz) if signed_in else None,
            signed_out=signed_out.replace(tzinfo=tz) if signed_out else None,
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
    _transfers_out(transfers, False, tz)


@timebank_cli.command("reject")
@click.argument("case_ref", metavar="CASE")
@_reason
@pass_state
def reject_cmd(state: CliState, case_ref: str, reason: str) -> None:
    """Reject the pending hours of CASE: no transfer is made."""
    district = _district(state)
    with district.begin() as ctx:
        record = earning.reject(ctx, case_ref, reason)
        district.audit(ctx, "timebank.reject", case_ref, reason)
    click.echo(f"{case_ref}: {ledger.hours(record.minutes)} rejected ({reason})")


# -- spending and giving ------------------------------------------------------------------------


def _write(
    state: CliState, action: str, as_json: bool, run: Any, subject: str
) -> list[ledger.Transfer]:
    district = _district(state)
    with district.begin() as ctx:
        made = run(ctx, district.settings[PLUGIN_NAME])
        made = made if isinstance(made, list) else [made]
        detail = ", ".join(f"{t.id}: {t.kind} {ledger.hours(t.minutes)}" for t in made)
        district.audit(ctx, f"timebank.{action}", subject, detail)
    _transfers_out(made, as_json, district.tz)
    return made


@timebank_cli.command("transfer")
@click.argument("payer", metavar="FROM")
@click.argument("payee", metavar="TO")
@_hours_arg
@_memo
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


@timebank_cli.command("gift")
@click.argument("giver", metavar="FROM")
@click.argument("relative", metavar="TO")
@_hours_arg
@_memo
@json_option
@pass_state
def gift_cmd(
    state: CliState, giver: str, relative: str, hours: str, memo: str, as_json: bool
) -> None:
    """FROM gives HOURS to TO: their spouse, parent or grandparent, aged 60 or more."""
    minutes = parse_hours(hours)
    _write(
        state,
        "gift",
        as_json,
        lambda ctx, s: giving.gift(ctx, s, giver, relative, minutes, memo),
        f"{giver} → {relative}",
    )


@timebank_cli.command("donate")
@click.argument("donor", metavar="FROM")
@_hours_arg
@_memo
@json_option
@pass_state
def donate_cmd(state: CliState, donor: str, hours: str, memo: str, as_json: bool) -> None:
    """FROM (a member or a team) gives HOURS to the pool of its bank."""
    minutes = parse_hours(hours)
    _write(state, "donate", as_json, lambda ctx, s: giving.donate(ctx, donor, minutes, memo), donor)


@timebank_cli.command("reverse")
@click.argument("transfer_id", type=int, metavar="TRANSFER")
@_reason
@json_option
@pass_state
def reverse_cmd(state: CliState, transfer_id: int, reason: str, as_json: bool) -> None:
    """Undo TRANSFER by the opposite one (冲正); nothing is edited or deleted."""
    _write(
        state,
        "reverse",
        as_json,
        lambda ctx, s: ledger.reverse(ctx, transfer_id, reason),
        str(transfer_id),
    )


# -- checks and figures -------------------------------------------------------------------------


@timebank_cli.command("reconcile")
@json_option
@pass_state
def reconcile_cmd(state: CliState, as_json: bool) -> None:
    """Recompute every balance from its entries and every bank's sum; exit 1 on any
    difference."""
    from community365_timebank.checks import reconcile

    district = _district(state)
    with district.engine.connect() as conn:
        found = reconcile(conn)
    data = {
        "ok": found.ok,
        "accounts": found.accounts,
        "banks": found.banks,
        "differences": [
            {"account": d.account_id, "stored": d.stored, "summed": d.summed}
            for d in found.differences
        ],
        "unbalanced_banks": {str(b): t for b, t in found.unbalanced.items()},
    }
    emit(as_json, data, lambda: click.echo(found.summary()))
    if not found.ok:
        raise click.exceptions.Exit(1)


@timebank_cli.command("stats")
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

    district = _district(state)
    with district.begin() as ctx:
        today = ctx.now.astimezone(district.tz).date()
        period = resolve_period(start, end, month, today)
        code = get_area(ctx.connection, area).code if area else district.config.district.code
        found = timebank_stats(ctx.connection, period, code, district.tz)
    last_day = period.end - dt.timedelta(days=1)
    data = {"area": code, "from": period.start.isoformat(), "to": last_day.isoformat()}
    data |= found.to_json()

    def text() -> None:
        click.echo(f"time bank {code}, {period.start} – {last_day}")
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


# -- family ---------------------------------------------------------------------------------------


@timebank_cli.group("family")
def family_cli() -> None:
    """Family ties that allow gifts of hours (spouse, parent, grandparent)."""


@family_cli.command("add")
@click.argument("person")
@click.argument("relative")
@click.option("--relation", required=True, help="spouse 配偶 | parent 父母 | grandparent 祖父母.")
@pass_state
def family_add_cmd(state: CliState, person: str, relative: str, relation: str) -> None:
    """Record that RELATIVE is PERSON's spouse, parent or grandparent (ID numbers)."""
    district = _district(state)
    with district.begin() as ctx:
        tie = family.add_tie(ctx, person, relative, relation)
        district.audit(
            ctx, "timebank.family", f"{tie.person_name} → {tie.relative_name}", tie.relation
        )
    click.echo(
        f"{tie.relative_name} recorded as {tie.person_name}'s "
        f"{tie.relation} ({family.RELATION_NAMES[tie.relation]})"
    )


@family_cli.command("list")
@click.argument("person")
@json_option
@pass_state
def family_list_cmd(state: CliState, person: str, as_json: bool) -> None:
    """PERSON's recorded ties, either way round."""
    from community365.registry.contact import mask_id_number

    district = _district(state)
    with district.engine.connect() as conn:
        ties = family.ties_of(conn, person)
    rows = [
        {
            "person": t.person_name,
            "person_id_number": mask_id_number(t.person_id_number),
            "relation": t.relation,
            "relative": t.relative_name,
            "relative_id_number": mask_id_number(t.relative_id_number),
        }
        for t in ties
    ]

    def table() -> None:
        emit_table(
            ["person", "relation", "relative"],
            [
                (
                    f"{r['person']} {r['person_id_number']}",
                    f"{r['relation']} {family.RELATION_NAMES[r['relation']]}",
                    f"{r['relative']} {r['relative_id_number']}",
                )
                for r in rows
            ],
        )

    emit(as_json, rows, table)
