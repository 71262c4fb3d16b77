"""The ledger's own check (对账), for ``c365 timebank reconcile`` and the daily heartbeat.

Every stored balance is recomputed from its entries, every account's entries are
chained, every transfer's two entries checked, every cross-bank pair and every two
banks' clearing accounts matched, and every bank's entries summed (see
:func:`ledger.reconcile`); all must hold always (the ledger writes them together), so any
difference is a fault to report loudly, never something to repair by editing.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from community365 import Context
from community365_timebank import ledger
from community365_timebank.tables import accounts, banks


@attrs.frozen
class Reconciliation:
    accounts: int
    banks: int
    differences: list[ledger.Difference]
    unbalanced: dict[int, int]  # bank id → the non-zero sum of its entries

    @property
    def ok(self) -> bool:
        return not self.differences and not self.unbalanced

    def summary(self) -> str:
        if self.ok:
            return (
                f"{self.accounts} account(s) in {self.banks} bank(s): every balance equals "
                "the sum of its entries and every bank sums to zero"
            )
        return "ledger differs: " + "; ".join(self.problems())

    def problems(self) -> list[str]:
        """Each problem in one line (none when :attr:`ok`)."""
        found = [d.describe() for d in self.differences]
        found += [f"bank {b} sums to {ledger.hours(t)}" for b, t in self.unbalanced.items()]
        return found


def reconcile(conn: Connection) -> Reconciliation:
    count = conn.execute(select(func.count()).select_from(accounts)).scalar_one()
    bank_count = conn.execute(select(func.count()).select_from(banks)).scalar_one()
    unbalanced = {b: t for b, t in ledger.bank_totals(conn).items() if t != 0}
    return Reconciliation(count, bank_count, ledger.reconcile(conn), unbalanced)


def daily_reconcile(ctx: Context, day: dt.date) -> str:
    """The daily task: a line when the ledger holds, a failure (reported by ``c365
    daily``, which then exits 1) when it does not."""
    found = reconcile(ctx.connection)
    if not found.ok:
        raise ledger.LedgerError(found.summary())
    return "ledger reconciled: " + found.summary()
