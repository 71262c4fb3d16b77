"""The ledger: accounts, and transfers that can neither drift nor overdraw.

Every transfer moves a positive number of minutes from one account to another of the
same bank and writes two entries, in the caller's transaction: minus on the one, plus on
the other, each with the balance after it. The stored balance therefore always equals the
sum of the account's entries, and each bank's entries sum to zero. Nothing is ever
edited or deleted: a mistake is undone by :func:`reverse`, a transfer the other way.

Between two banks (:func:`transfer_across`) the minutes go in two legs through the banks'
clearing accounts, one in each bank, written together and naming each other (``pair``,
set on the first leg when the second is written, in the same transaction): a cross-bank
transfer is recognised by that link, and keeps its real kind. Its legs are reversed
together, so that the two clearing accounts of any two banks always cancel.

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
from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

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
    pair: int | None = None  # the other leg of a cross-bank transfer


@attrs.frozen
class Difference:
    """Something the ledger never writes, found by :func:`reconcile`; by ``kind``:

    - ``balance``: account ``account_id`` stores ``stored`` but its entries sum to
      ``summed``;
    - ``chain``: the entry of ``transfer_id`` on ``account_id`` leaves ``stored`` where
      the balance before it plus its minutes is ``summed``;
    - ``transfer``: transfer ``transfer_id`` moves ``stored`` minutes but does not have
      exactly two entries, minus on its payer and plus on its payee, that cancel
      (``summed``: what its entries credit the payee; ``detail`` says what is wrong);
    - ``pair``: cross-bank leg ``transfer_id`` whose other leg does not name it back, or
      differs in minutes, kind or bank (``detail``);
    - ``clearing``: bank clearing account ``account_id`` holds ``stored`` and the other
      bank's clearing account with the first, ``other_account_id`` (None: not opened),
      holds ``summed``: they must cancel.
    """

    account_id: int | None
    stored: int
    summed: int
    kind: str = "balance"
    transfer_id: int | None = None
    other_account_id: int | None = None
    detail: str = ""

    def describe(self) -> str:
        """The problem in one line."""
        if self.kind == "balance":
            return (
                f"account #{self.account_id} stores {hours(self.stored)} but its entries "
                f"sum to {hours(self.summed)}"
            )
        if self.kind == "chain":
            return (
                f"account #{self.account_id}: the entry of transfer {self.transfer_id} leaves "
                f"{hours(self.stored)} but the balance before it plus its minutes is "
                f"{hours(self.summed)}"
            )
        if self.kind == "transfer":
            return (
                f"transfer {self.transfer_id} moves {hours(self.stored)} but its entries "
                f"do not: {self.detail}"
            )
        if self.kind == "pair":
            return f"cross-bank transfer {self.transfer_id}: {self.detail}"
        other = "none" if self.other_account_id is None else f"#{self.other_account_id}"
        return (
            f"clearing account #{self.account_id} holds {hours(self.stored)} but its "
            f"counterpart {other} holds {hours(self.summed)}: they must cancel"
        )


#: The largest id a row can have (a 32-bit INTEGER on PostgreSQL): larger ones name nothing.
MAX_ID = 2**31 - 1


def hours(minutes: int) -> str:
    """``100`` → ``"1:40"``: minutes shown exactly, as hours and minutes."""
    sign = "-" if minutes < 0 else ""
    whole, rest = divmod(abs(minutes), 60)
    return f"{sign}{whole}:{rest:02d}"


# -- accounts -----------------------------------------------------------------------------------


def open_bank(ctx: Context, area_id: int) -> int:
    """The bank of the area, opened (with its pool account) if it has none yet; two
    writers opening it at once get the same bank."""
    conn = ctx.connection
    write_lock(conn)
    found = conn.execute(select(banks.c.id).where(banks.c.area_id == area_id)).scalar()
    if found is not None:
        return found
    bank = _insert_new(conn, banks, [banks.c.area_id], area_id=area_id, opened_at=ctx.now)
    if bank is None:  # opened meanwhile by another writer (PostgreSQL waited for it)
        return conn.execute(select(banks.c.id).where(banks.c.area_id == area_id)).scalar_one()
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
    """A new account of ``kind`` for ``owner`` in the bank; returns its id. UsageError
    when another writer opened the same account meanwhile.

    ``floor`` is the lowest balance allowed in minutes (0: no overdraft; negative: a
    small overdraft; None: no limit, for the pool and clearing accounts).
    """
    if floor is not None and floor > 0:
        raise ValueError("an account's floor is 0 or below")
    new_id = _insert_new(
        ctx.connection,
        accounts,
        [accounts.c.bank_id, accounts.c.owner],
        bank_id=bank_id,
        kind=kind,
        owner=owner,
        person_id=person_id,
        handler_id=handler_id,
        peer_bank_id=peer_bank_id,
        floor=floor,
        opened_at=ctx.now,
    )
    if new_id is None:
        raise UsageError(f"the {kind} account {owner} of bank {bank_id} was opened meanwhile")
    return new_id


def _insert_new(conn: Connection, table: Any, unique: list[Any], **values: Any) -> int | None:
    """Insert a row unless one with the same ``unique`` columns exists (or is being
    inserted by another writer, which it waits for); its id, or None."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(table.c.id)
    )
    return conn.execute(statement).scalar()


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
    conn = ctx.connection
    found = find_account(conn, bank_id, owner)
    if found is None:
        _insert_new(
            conn,
            accounts,
            [accounts.c.bank_id, accounts.c.owner],
            bank_id=bank_id,
            kind="clearing",
            owner=owner,
            peer_bank_id=peer_bank_id,
            floor=None,
            opened_at=ctx.now,
        )  # None: opened meanwhile by another writer; either way it is there now
        found = find_account(conn, bank_id, owner)
    assert found is not None
    return found


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


def raise_floor(ctx: Context, account_id: int, floor: int) -> None:
    """Raise the account's floor to ``floor`` (<= 0) if it is lower: a new member's
    overdraft closes as they earn. Never lowers it."""
    if floor > 0:
        raise ValueError("an account's floor is 0 or below")
    ctx.connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.floor < floor)
        .values(floor=floor)
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


def _check(
    kind: str,
    payer: Mapping[str, Any],
    payee: Mapping[str, Any],
    minutes: int,
    no_overdraft: bool = False,
) -> None:
    """LedgerError when the rules forbid moving ``minutes`` from ``payer`` to ``payee``
    (locked rows): another bank, a frozen or closed account, the payer's floor (zero at
    the lowest with ``no_overdraft``)."""
    if payer["bank_id"] != payee["bank_id"]:
        raise LedgerError(
            f"accounts {payer['id']} and {payee['id']} are in different banks: "
            "use a cross-bank transfer (clearing accounts)"
        )
    for row in (payer, payee):
        if row["status"] == "closed" or (row["status"] != "active" and kind != "reverse"):
            raise LedgerError(f"account {row['id']} is {row['status']}")
    floor = payer["floor"]
    if no_overdraft and floor is not None:
        floor = max(floor, 0)
    if floor is not None and payer["balance"] - minutes < floor:
        raise LedgerError(
            f"account {payer['id']} holds {hours(payer['balance'])} hours; "
            f"{hours(minutes)} would take it below {hours(floor)}"
        )


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
    pair: int | None = None,
    no_overdraft: bool = False,
) -> Transfer:
    """Move ``minutes`` (> 0) between two active accounts of one bank; write the transfer
    and its two entries. Raises LedgerError when a rule forbids it; nothing is written.
    ``pair`` is for :func:`transfer_across` and :func:`reverse` only: the first leg of a
    cross-bank transfer, which this second leg names. ``no_overdraft``: the payer may not
    go below zero even where its floor allows (an overdraft is for one's own help)."""
    if not isinstance(minutes, int) or minutes <= 0:
        raise LedgerError(f"a transfer moves a positive whole number of minutes, not {minutes!r}")
    if from_account == to_account:
        raise LedgerError("a transfer needs two different accounts")
    conn = ctx.connection
    rows = lock(conn, (from_account, to_account))
    payer, payee = rows[from_account], rows[to_account]
    _check(kind, payer, payee, minutes, no_overdraft)
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
            "pair": pair,
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
        pair,
    )


def _link(ctx: Context, first: Transfer, second: Transfer) -> tuple[Transfer, Transfer]:
    """The first leg names the second (which already names the first)."""
    ctx.connection.execute(
        update(transfers).where(transfers.c.id == first.id).values(pair=second.id)
    )
    return attrs.evolve(first, pair=second.id), second


def transfer_across(
    ctx: Context,
    from_account: int,
    to_account: int,
    minutes: int,
    *,
    kind: str = "clear",
    memo: str = "",
    case_ref: str | None = None,
    lock_also: Sequence[int] = (),
    no_overdraft: bool = False,
) -> tuple[Transfer, Transfer]:
    """通存通兑: move minutes to an account of another bank of the district through the
    two banks' clearing accounts, so that each bank's entries still sum to zero: the
    payer's bank owes (its clearing account for the other bank goes up), the payee's bank
    is owed (its clearing account for the first goes down).

    Both legs are of ``kind`` (what the move is: a spend, a gift; ``clear`` for a member
    moving their own hours to their new bank) and name each other (``pair``).
    ``lock_also``: accounts the caller writes after this, locked with the four."""
    conn = ctx.connection
    write_lock(conn)
    from_bank, to_bank = (_account(conn, a)["bank_id"] for a in (from_account, to_account))
    if from_bank == to_bank:
        raise LedgerError("both accounts are in the same bank: use a plain transfer")
    owes = clearing_account(ctx, from_bank, to_bank)
    owed = clearing_account(ctx, to_bank, from_bank)
    # All four in one id order (two crossings the opposite way cannot deadlock), and the
    # second leg's accounts checked before the first leg is written: a refusal writes nothing.
    rows = lock(conn, (from_account, to_account, owes, owed, *lock_also))
    for account in (owed, to_account):
        if rows[account]["status"] != "active":
            raise LedgerError(f"account {account} is {rows[account]['status']}")
    out_leg = transfer(
        ctx,
        kind,
        from_account,
        owes,
        minutes,
        memo=memo,
        case_ref=case_ref,
        no_overdraft=no_overdraft,
    )
    in_leg = transfer(
        ctx, kind, owed, to_account, minutes, memo=memo, case_ref=case_ref, pair=out_leg.id
    )
    return _link(ctx, out_leg, in_leg)


def get_transfer(conn: Connection, transfer_id: int) -> Transfer:
    if not 0 < transfer_id <= MAX_ID:
        raise NotFound(f"no time bank transfer {transfer_id}")
    row = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no time bank transfer {transfer_id}")
    return Transfer(**{k: row[k] for k in attrs.fields_dict(Transfer)})


def reverse(ctx: Context, transfer_id: int, reason: str) -> Transfer | tuple[Transfer, Transfer]:
    """Undo a transfer by the opposite one (冲正), once; the reason is kept as its memo.

    A leg of a cross-bank transfer is reversed with its other leg, in this transaction:
    the two reversals (first leg's first) are returned, themselves a pair; a reversal of
    one leg alone would leave the two banks' clearing accounts apart.

    A reversal is itself never reversed, and ignores frozen accounts (a correction must
    always be possible) but not the floor: minutes already spent cannot be taken back.
    Every leg is checked before anything is written.
    """
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    conn = ctx.connection
    write_lock(conn)
    original = get_transfer(conn, transfer_id)
    if original.kind == "reverse":
        raise LedgerError(f"transfer {transfer_id} is itself a reversal")
    legs = [original]
    if original.pair is not None:
        legs = sorted([original, get_transfer(conn, original.pair)], key=lambda t: t.id)
    # One reversal at a time: every account of every leg locked in one id order.
    rows = lock(conn, [a for leg in legs for a in (leg.from_account, leg.to_account)])
    for leg in legs:
        done = conn.execute(select(transfers.c.id).where(transfers.c.reverses == leg.id)).scalar()
        if done is not None:
            raise LedgerError(f"transfer {leg.id} was already reversed by {done}")
    for leg in legs:  # the legs touch four different accounts: each check stands
        _check("reverse", rows[leg.to_account], rows[leg.from_account], leg.minutes)
    made: list[Transfer] = []
    for leg in legs:
        made.append(
            transfer(
                ctx,
                "reverse",
                leg.to_account,
                leg.from_account,
                leg.minutes,
                memo=reason.strip(),
                case_ref=leg.case_ref,
                reverses=leg.id,
                pair=made[0].id if made else None,
            )
        )
    if len(made) == 1:
        return made[0]
    return _link(ctx, made[0], made[1])


# -- checks -------------------------------------------------------------------------------------


def reconcile(conn: Connection) -> list[Difference]:
    """Everything the ledger never writes (see :class:`Difference`), in this order: stored
    balances that are not the sum of their entries; entries whose balance after is not
    the one before plus their minutes; transfers without exactly two entries that cancel
    and equal their minutes; cross-bank legs whose pair does not hold; and pairs of banks
    whose clearing accounts with each other do not cancel."""
    return [
        *_balances(conn),
        *_chains(conn),
        *_transfers(conn),
        *_pairs(conn),
        *_clearing(conn),
    ]


def _balances(conn: Connection) -> list[Difference]:
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


def _chains(conn: Connection) -> list[Difference]:
    before = func.coalesce(
        func.lag(entries.c.balance_after).over(
            partition_by=entries.c.account_id, order_by=entries.c.id
        ),
        0,
    )
    chained = select(
        entries.c.id,
        entries.c.account_id,
        entries.c.transfer_id,
        entries.c.balance_after,
        (before + entries.c.minutes).label("expected"),
    ).subquery()
    rows = conn.execute(
        select(
            chained.c.account_id, chained.c.transfer_id, chained.c.balance_after, chained.c.expected
        )
        .where(chained.c.balance_after != chained.c.expected)
        .order_by(chained.c.account_id, chained.c.id)
    ).all()
    return [
        Difference(account, after, int(expected), "chain", transfer_id)
        for account, transfer_id, after, expected in rows
    ]


def _transfers(conn: Connection) -> list[Difference]:
    def on(column: Any) -> Any:
        return func.sum(case((entries.c.account_id == column, entries.c.minutes), else_=0))

    legs = (
        select(
            entries.c.transfer_id,
            func.count().label("count"),
            func.sum(entries.c.minutes).label("total"),
            on(transfers.c.to_account).label("into"),
            on(transfers.c.from_account).label("out_of"),
        )
        .join(transfers, transfers.c.id == entries.c.transfer_id)
        .group_by(entries.c.transfer_id)
        .subquery()
    )
    count = func.coalesce(legs.c.count, 0)
    total, into, out_of = (func.coalesce(c, 0) for c in (legs.c.total, legs.c.into, legs.c.out_of))
    rows = conn.execute(
        select(transfers.c.id, transfers.c.minutes, count, total, into, out_of)
        .select_from(transfers.outerjoin(legs, legs.c.transfer_id == transfers.c.id))
        .where(
            or_(
                count != 2,
                total != 0,
                into != transfers.c.minutes,
                out_of != -transfers.c.minutes,
            )
        )
        .order_by(transfers.c.id)
    ).all()
    return [
        Difference(
            None,
            minutes,
            int(credited),
            "transfer",
            transfer_id,
            detail=(
                f"{n} entries summing to {hours(int(summed))}, {hours(int(credited))} in, "
                f"{hours(-int(debited))} out"
            ),
        )
        for transfer_id, minutes, n, summed, credited, debited in rows
    ]


def _pairs(conn: Connection) -> list[Difference]:
    other = aliased(transfers, name="other")
    rows = conn.execute(
        select(
            transfers.c.id,
            transfers.c.pair,
            transfers.c.minutes,
            transfers.c.kind,
            transfers.c.bank_id,
            other.c.id.label("other_id"),
            other.c.pair.label("other_pair"),
            other.c.minutes.label("other_minutes"),
            other.c.kind.label("other_kind"),
            other.c.bank_id.label("other_bank"),
        )
        .select_from(transfers.outerjoin(other, other.c.id == transfers.c.pair))
        .where(
            transfers.c.pair.is_not(None),
            or_(
                other.c.id.is_(None),
                other.c.pair.is_(None),
                other.c.pair != transfers.c.id,
                other.c.minutes != transfers.c.minutes,
                other.c.kind != transfers.c.kind,
                other.c.bank_id == transfers.c.bank_id,
            ),
        )
        .order_by(transfers.c.id)
    ).all()
    found = []
    for r in rows:
        if r.other_id is None:
            why = f"its other leg {r.pair} does not exist"
        elif r.other_pair != r.id:
            why = f"its other leg {r.pair} names {r.other_pair} as its own"
        elif r.other_bank == r.bank_id:
            why = f"its other leg {r.pair} is in the same bank"
        else:
            why = (
                f"{r.kind} {hours(r.minutes)}, but its other leg {r.pair} is "
                f"{r.other_kind} {hours(r.other_minutes)}"
            )
        found.append(Difference(None, r.minutes, r.other_minutes or 0, "pair", r.id, detail=why))
    return found


def _clearing(conn: Connection) -> list[Difference]:
    summed = (
        select(entries.c.account_id, func.sum(entries.c.minutes).label("summed"))
        .group_by(entries.c.account_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            accounts.c.id,
            accounts.c.bank_id,
            accounts.c.peer_bank_id,
            func.coalesce(summed.c.summed, 0),
        )
        .select_from(accounts.outerjoin(summed, summed.c.account_id == accounts.c.id))
        .where(accounts.c.kind == "clearing")
        .order_by(accounts.c.id)
    ).all()
    held = {(bank, peer): (account, int(total)) for account, bank, peer, total in rows}
    found = []
    for (bank, peer), (account, total) in held.items():
        other, other_total = held.get((peer, bank), (None, 0))
        if other is not None and other < account:
            continue  # reported once, from the lower account
        if total + other_total != 0:
            found.append(Difference(account, total, other_total, "clearing", None, other))
    return found


def bank_totals(conn: Connection) -> dict[int, int]:
    """The sum of every bank's entries: zero for each, always."""
    rows = conn.execute(
        select(accounts.c.bank_id, func.coalesce(func.sum(entries.c.minutes), 0))
        .select_from(entries.join(accounts, accounts.c.id == entries.c.account_id))
        .group_by(accounts.c.bank_id)
    ).all()
    return {bank: int(total) for bank, total in rows}
