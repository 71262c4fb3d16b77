"""The ledger: accounts, and transfers that can neither drift nor overdraw.

Every transfer moves a positive number of minutes from one account to another of the
same bank and writes two entries, in the caller's transaction: minus on the one, plus on
the other, each with the balance after it. The stored balance therefore always equals the
sum of the account's entries, and each bank's entries sum to zero. Nothing is ever
edited or deleted: a mistake is undone by :func:`reverse`, a transfer the other way.

Limits are checked with both accounts locked, so that concurrent writers cannot both
spend the same minutes: on PostgreSQL the two rows are locked ``FOR UPDATE`` in id order
(no deadlock between two transfers over the same pair); on SQLite the first write of the
transaction takes the database's write lock, so transfers are serialised. The
``balance >= floor`` check constraint stands behind the code.

On SQLite (WAL) a transaction that has read cannot wait for the write lock: when another
writer holds it, its first write fails at once with "database is locked", whatever the
busy timeout. Every function here that reads before it writes therefore takes the write
lock first, and a caller that wants to run many transactions at once must not read in a
transaction before its first ledger call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from community365 import Context
from community365.db.engine import claim_writer
from community365.errors import NotFound, UsageError
from community365_timebank.tables import accounts, banks, entries, transfers


class LedgerError(UsageError):
    """A transfer the rules do not allow: overdraft, a frozen account, another bank."""


@attrs.frozen
class Transfer:
    id: int
    kind: str
    from_account: int
    to_account: int
    minutes: int
    at: dt.datetime
    actor: str
    memo: str = ""
    case_ref: str | None = None
    reverses: int | None = None


@attrs.frozen
class Difference:
    """An account whose stored balance is not the sum of its entries (never expected)."""

    account_id: int
    stored: int
    summed: int


def hours(minutes: int) -> str:
    """``100`` → ``"1:40"``: minutes shown exactly, as hours and minutes."""
    sign = "-" if minutes < 0 else ""
    whole, rest = divmod(abs(minutes), 60)
    return f"{sign}{whole}:{rest:02d}"


# -- accounts -----------------------------------------------------------------------------------


def open_bank(ctx: Context, area_id: int) -> int:
    """The bank of the area, opened (with its pool account) if it has none yet."""
    conn = ctx.connection
    write_lock(conn)
    found = conn.execute(select(banks.c.id).where(banks.c.area_id == area_id)).scalar()
    if found is not None:
        return found
    bank = conn.execute(
        insert(banks).values(area_id=area_id, opened_at=ctx.now).returning(banks.c.id)
    ).scalar_one()
    open_account(ctx, bank, "pool", "pool", floor=None)
    return bank


def open_account(
    ctx: Context,
    bank_id: int,
    kind: str,
    owner: str,
    *,
    floor: int | None = 0,
    person_id: int | None = None,
    handler_id: int | None = None,
    peer_bank_id: int | None = None,
) -> int:
    """A new account of ``kind`` for ``owner`` in the bank; returns its id.

    ``floor`` is the lowest balance allowed in minutes (0: no overdraft; negative: a
    small overdraft; None: no limit, for the pool and clearing accounts).
    """
    if floor is not None and floor > 0:
        raise ValueError("an account's floor is 0 or below")
    return ctx.connection.execute(
        insert(accounts)
        .values(
            bank_id=bank_id,
            kind=kind,
            owner=owner,
            person_id=person_id,
            handler_id=handler_id,
            peer_bank_id=peer_bank_id,
            floor=floor,
            opened_at=ctx.now,
        )
        .returning(accounts.c.id)
    ).scalar_one()


def find_account(conn: Connection, bank_id: int, owner: str) -> int | None:
    return conn.execute(
        select(accounts.c.id).where(accounts.c.bank_id == bank_id, accounts.c.owner == owner)
    ).scalar()


def pool_of(conn: Connection, bank_id: int) -> int:
    found = find_account(conn, bank_id, "pool")
    if found is None:
        raise NotFound(f"bank {bank_id} has no pool account")
    return found


def clearing_account(ctx: Context, bank_id: int, peer_bank_id: int) -> int:
    """The bank's clearing account with ``peer_bank_id`` (opened when first needed)."""
    owner = f"clearing:{peer_bank_id}"
    found = find_account(ctx.connection, bank_id, owner)
    if found is not None:
        return found
    return open_account(ctx, bank_id, "clearing", owner, floor=None, peer_bank_id=peer_bank_id)


def set_status(ctx: Context, account_id: int, status: str) -> None:
    """Freeze, unfreeze or close an account; a closed account stays closed."""
    row = lock(ctx.connection, [account_id])[account_id]  # no transfer in while closing
    if row["status"] == "closed":
        raise LedgerError(f"account {account_id} is closed")
    if status == "closed" and row["balance"] != 0:
        raise LedgerError(
            f"account {account_id} holds {hours(row['balance'])} hours: "
            "give or donate them before closing it"
        )
    ctx.connection.execute(
        update(accounts).where(accounts.c.id == account_id).values(status=status)
    )


def _account(conn: Connection, account_id: int) -> Mapping[str, Any]:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
    if row is None:
        raise NotFound(f"no time bank account {account_id}")
    return row


# -- transfers ----------------------------------------------------------------------------------

_LOCK_PG = (
    select(accounts)
    .where(accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(accounts.c.id)
    .with_for_update()
)
_TOUCH_SQLITE = (
    update(accounts)
    .where(accounts.c.id.in_(bindparam("ids", expanding=True)))
    .values(balance=accounts.c.balance)
)
_READ = select(accounts).where(accounts.c.id.in_(bindparam("ids", expanding=True)))
_MOVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(balance=accounts.c.balance + bindparam("delta"))
    .returning(accounts.c.balance)
)
_INSERT_ENTRY = insert(entries)
_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)


def write_lock(conn: Connection) -> None:
    """SQLite: take the database's write lock now, before the transaction's first read;
    PostgreSQL: nothing, rows are locked (see :func:`community365.db.engine.claim_writer`)."""
    claim_writer(conn)


def lock(conn: Connection, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    """Lock the accounts (see the module docstring) and return their rows by id."""
    ids = sorted(set(ids))
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_LOCK_PG, {"ids": ids}).mappings().all()
    else:
        conn.execute(_TOUCH_SQLITE, {"ids": ids})  # takes SQLite's write lock first
        rows = conn.execute(_READ, {"ids": ids}).mappings().all()
    found = {row["id"]: row for row in rows}
    for account_id in ids:
        if account_id not in found:
            raise NotFound(f"no time bank account {account_id}")
    return found


def transfer(
    ctx: Context,
    kind: str,
    from_account: int,
    to_account: int,
    minutes: int,
    *,
    memo: str = "",
    case_ref: str | None = None,
    reverses: int | None = None,
) -> Transfer:
    """Move ``minutes`` (> 0) between two active accounts of one bank; write the transfer
    and its two entries. Raises LedgerError when a rule forbids it; nothing is written."""
    if not isinstance(minutes, int) or minutes <= 0:
        raise LedgerError(f"a transfer moves a positive whole number of minutes, not {minutes!r}")
    if from_account == to_account:
        raise LedgerError("a transfer needs two different accounts")
    conn = ctx.connection
    rows = lock(conn, (from_account, to_account))
    payer, payee = rows[from_account], rows[to_account]
    if payer["bank_id"] != payee["bank_id"]:
        raise LedgerError(
            f"accounts {from_account} and {to_account} are in different banks: "
            "use a cross-bank transfer (clearing accounts)"
        )
    for row in (payer, payee):
        if row["status"] == "closed" or (row["status"] != "active" and kind != "reverse"):
            raise LedgerError(f"account {row['id']} is {row['status']}")
    floor = payer["floor"]
    if floor is not None and payer["balance"] - minutes < floor:
        raise LedgerError(
            f"account {from_account} holds {hours(payer['balance'])} hours; "
            f"{hours(minutes)} would take it below {hours(floor)}"
        )
    transfer_id = conn.execute(
        _INSERT_TRANSFER,
        {
            "bank_id": payer["bank_id"],
            "kind": kind,
            "from_account": from_account,
            "to_account": to_account,
            "minutes": minutes,
            "at": ctx.now,
            "actor": ctx.actor,
            "memo": memo,
            "case_ref": case_ref,
            "reverses": reverses,
        },
    ).scalar_one()
    for account, delta in ((from_account, -minutes), (to_account, minutes)):
        after = conn.execute(_MOVE, {"account": account, "delta": delta}).scalar_one()
        conn.execute(
            _INSERT_ENTRY,
            {
                "transfer_id": transfer_id,
                "account_id": account,
                "minutes": delta,
                "balance_after": after,
            },
        )
    return Transfer(
        transfer_id,
        kind,
        from_account,
        to_account,
        minutes,
        ctx.now,
        ctx.actor,
        memo,
        case_ref,
        reverses,
    )


def transfer_across(
    ctx: Context, from_account: int, to_account: int, minutes: int, *, memo: str = ""
) -> tuple[Transfer, Transfer]:
    """通存通兑: move minutes to an account of another bank of the district through the
    two banks' clearing accounts, so that each bank's entries still sum to zero: the
    payer's bank owes (its clearing account for the other bank goes up), the payee's bank
    is owed (its clearing account for the first goes down)."""
    conn = ctx.connection
    write_lock(conn)
    from_bank, to_bank = (_account(conn, a)["bank_id"] for a in (from_account, to_account))
    if from_bank == to_bank:
        raise LedgerError("both accounts are in the same bank: use a plain transfer")
    owes = clearing_account(ctx, from_bank, to_bank)
    owed = clearing_account(ctx, to_bank, from_bank)
    # All four in one id order (two crossings the opposite way cannot deadlock), and the
    # second leg's accounts checked before the first leg is written: a refusal writes nothing.
    rows = lock(conn, (from_account, to_account, owes, owed))
    for account in (owed, to_account):
        if rows[account]["status"] != "active":
            raise LedgerError(f"account {account} is {rows[account]['status']}")
    out_leg = transfer(ctx, "clear", from_account, owes, minutes, memo=memo)
    in_leg = transfer(ctx, "clear", owed, to_account, minutes, memo=memo)
    return out_leg, in_leg


def get_transfer(conn: Connection, transfer_id: int) -> Transfer:
    row = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no time bank transfer {transfer_id}")
    return Transfer(**{k: row[k] for k in attrs.fields_dict(Transfer)})


def reverse(ctx: Context, transfer_id: int, reason: str) -> Transfer:
    """Undo a transfer by the opposite one (冲正), once; the reason is kept as its memo.

    A reversal is itself never reversed, and ignores frozen accounts (a correction must
    always be possible) but not the floor: minutes already spent cannot be taken back.
    """
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    write_lock(ctx.connection)
    original = get_transfer(ctx.connection, transfer_id)
    if original.kind == "reverse":
        raise LedgerError(f"transfer {transfer_id} is itself a reversal")
    lock(ctx.connection, (original.from_account, original.to_account))  # one reversal at a time
    done = ctx.connection.execute(
        select(transfers.c.id).where(transfers.c.reverses == transfer_id)
    ).scalar()
    if done is not None:
        raise LedgerError(f"transfer {transfer_id} was already reversed by {done}")
    return transfer(
        ctx,
        "reverse",
        original.to_account,
        original.from_account,
        original.minutes,
        memo=reason.strip(),
        case_ref=original.case_ref,
        reverses=transfer_id,
    )


# -- checks -------------------------------------------------------------------------------------


def reconcile(conn: Connection) -> list[Difference]:
    """Every account whose stored balance differs from the sum of its entries."""
    summed = (
        select(entries.c.account_id, func.sum(entries.c.minutes).label("summed"))
        .group_by(entries.c.account_id)
        .subquery()
    )
    rows = conn.execute(
        select(accounts.c.id, accounts.c.balance, func.coalesce(summed.c.summed, 0))
        .select_from(accounts.outerjoin(summed, summed.c.account_id == accounts.c.id))
        .where(accounts.c.balance != func.coalesce(summed.c.summed, 0))
        .order_by(accounts.c.id)
    ).all()
    return [Difference(account_id, stored, summed) for account_id, stored, summed in rows]


def bank_totals(conn: Connection) -> dict[int, int]:
    """The sum of every bank's entries: zero for each, always."""
    rows = conn.execute(
        select(accounts.c.bank_id, func.coalesce(func.sum(entries.c.minutes), 0))
        .select_from(entries.join(accounts, accounts.c.id == entries.c.account_id))
        .group_by(accounts.c.bank_id)
    ).all()
    return {bank: int(total) for bank, total in rows}
