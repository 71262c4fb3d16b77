"""Statements (对账单): an account's entries over a period, with opening and closing
balances, as a table, JSON or a CSV file.

The lines are the account's ledger entries, so the closing balance is the opening one
plus the lines, and equals the balance after the last line; nothing is recomputed.
Dates are local days of the district, both ends included.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import secrets
from pathlib import Path

import attrs
from sqlalchemy import and_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365.cases.stats import local_midnight
from community365.errors import UsageError
from community365_timebank import accounts, ledger
from community365_timebank.accounts import Account
from community365_timebank.tables import TRANSFER_KINDS, entries, transfers

#: What a transfer is from the side of an account where its kind's name would mislead:
#: a member paying for help received shows "earn" going out, a volunteer paid by a spend
#: shows "spend" coming in.
SIDE_NAMES = {
    ("earn", "out"): "支付服务 paid for help",
    ("spend", "in"): "服务所得 paid for help given",
    ("gift", "in"): "受赠 gift received",
    ("donate", "in"): "受捐 donation received",
    ("surplus", "in"): "超限转入 surplus received",
}


@attrs.frozen
class Line:
    entry_id: int
    transfer_id: int
    at: dt.datetime
    kind: str
    minutes: int  # signed: + in, - out
    balance_after: int
    counterparty: str
    memo: str
    case_ref: str | None
    reverses: int | None

    @property
    def label(self) -> str:
        """The kind as this account's holder reads it, in Chinese and English."""
        side = "in" if self.minutes > 0 else "out"
        return SIDE_NAMES.get((self.kind, side)) or f"{TRANSFER_KINDS[self.kind]} {self.kind}"


@attrs.frozen
class Statement:
    account: Account
    first: dt.date | None
    last: dt.date | None
    opening: int
    lines: list[Line]

    @property
    def closing(self) -> int:
        return self.lines[-1].balance_after if self.lines else self.opening

    @property
    def credits(self) -> int:
        return sum(line.minutes for line in self.lines if line.minutes > 0)

    @property
    def debits(self) -> int:
        return -sum(line.minutes for line in self.lines if line.minutes < 0)


def statement(
    conn: Connection,
    account: Account,
    tz: dt.tzinfo,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> Statement:
    """The account's entries from local day ``first`` to ``last`` (None: open-ended)."""
    if first and last and last < first:
        raise ledger.LedgerError(f"--to {last} is before --from {first}")
    other = aliased(entries, name="other")
    where = [entries.c.account_id == account.id]
    opening = 0
    if first is not None:
        start = local_midnight(first, tz)
        where.append(transfers.c.at >= start)
        before = conn.execute(
            select(entries.c.balance_after)
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.account_id == account.id, transfers.c.at < start)
            .order_by(entries.c.id.desc())
            .limit(1)
        ).scalar()
        opening = before or 0
    if last is not None:
        where.append(transfers.c.at < local_midnight(last + dt.timedelta(days=1), tz))
    rows = conn.execute(
        select(
            entries.c.id,
            entries.c.transfer_id,
            transfers.c.at,
            transfers.c.kind,
            entries.c.minutes,
            entries.c.balance_after,
            other.c.account_id.label("other_account"),
            transfers.c.memo,
            transfers.c.case_ref,
            transfers.c.reverses,
        )
        .join(transfers, transfers.c.id == entries.c.transfer_id)
        .join(
            other,
            and_(other.c.transfer_id == entries.c.transfer_id, other.c.account_id != account.id),
        )
        .where(*where)
        .order_by(entries.c.id)
    ).all()
    names = {a: accounts.get(conn, a).holder() for a in {r.other_account for r in rows}}
    lines = [
        Line(
            r.id,
            r.transfer_id,
            r.at,
            r.kind,
            r.minutes,
            r.balance_after,
            names[r.other_account],
            r.memo,
            r.case_ref,
            r.reverses,
        )
        for r in rows
    ]
    return Statement(account, first, last, opening, lines)


CSV_HEADER = (
    "时间 time",
    "转账 transfer",
    "类型 kind",
    "对方 counterparty",
    "分钟 minutes",
    "时数 hours",
    "余额 balance",
    "诉求 case",
    "摘要 memo",
)


def write_csv(found: Statement, path: Path, tz: dt.tzinfo) -> int:
    """Write the statement's lines to ``path`` (UTF-8 with a BOM, which Excel reads as
    UTF-8); returns the number of lines written. The file is written next to ``path``
    under a temporary name and renamed when complete, so ``path`` is never left half
    written; a file that cannot be written is a one-line UsageError."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(CSV_HEADER)
            for line in found.lines:
                writer.writerow(
                    (
                        line.at.astimezone(tz).isoformat(timespec="minutes"),
                        line.transfer_id,
                        line.label,
                        line.counterparty,
                        line.minutes,
                        ledger.hours(line.minutes),
                        ledger.hours(line.balance_after),
                        line.case_ref or "",
                        line.memo,
                    )
                )
        os.replace(temporary, path)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return len(found.lines)
