"""The ledger under concurrent writers: threads, each with its own connection and
transaction (``district.begin()``), spending from the same few accounts at once.

PostgreSQL is the real test (8 threads; rows locked ``FOR UPDATE`` in id order). Its
tests take the ``make_district`` fixture and skip its SQLite half; where PostgreSQL cannot
be reached they are skipped, except under CI (``CI=true``), where the fixture fails, as
for every storage test (tests/conftest.py). SQLite, which serialises writers through its
database lock and the engine's busy timeout, runs the same checks with fewer threads.

Afterwards: no balance below its floor, reconcile() == [], each bank's entries sum to
zero, the transfers in the database are exactly the calls that succeeded (none lost, none
doubled, two entries each), every balance is its starting one plus the successful calls,
and each account's entries chain (balance_after = the previous one + minutes), which a
lost update would break.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from community365.district import District
from community365_timebank import ledger
from community365_timebank.ledger import LedgerError, Transfer
from community365_timebank.tables import accounts, entries, transfers

from .tb_world import add_communities

THREADS = {"postgresql": 8, "sqlite": 4}
CALLS = {"postgresql": 50, "sqlite": 30}


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = make_district(enabled=("timebank",))
    yield district
    district.engine.dispose()


def postgresql_only(district: District) -> None:
    if district.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (row locks); SQLite has its own variant")


def open_banks(district: District, count: int) -> list[int]:
    communities = add_communities(district, count)
    with district.begin() as ctx:
        return [ledger.open_bank(ctx, area) for area in communities]


def members(district: District, bank: int, floors: list[int], start: int) -> list[int]:
    """Members of the bank with these floors, each given ``start`` minutes by the pool."""
    with district.begin() as ctx:
        pool = ledger.pool_of(ctx.connection, bank)
        found = []
        for floor in floors:
            account = ledger.open_account(
                ctx, bank, "member", f"member:{bank}:{len(found)}", floor=floor
            )
            ledger.transfer(ctx, "earn", pool, account, start)
            found.append(account)
        return found


class Outcome:
    """What the threads did: the transfers that succeeded, refusals, anything else."""

    def __init__(self) -> None:
        self.done: list[Transfer] = []
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.mutex = threading.Lock()

    def record(self, call: Callable[[], Any]) -> None:
        try:
            result = call()
        except LedgerError as exc:
            with self.mutex:
                self.refused.append(str(exc))
        except Exception as exc:  # a deadlock, "database is locked": a failure
            with self.mutex:
                self.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        else:
            moved = result if isinstance(result, tuple) else (result,)
            with self.mutex:
                self.done.extend(moved)


def run_threads(count: int, work: Callable[[int], None]) -> float:
    """Run ``work(n)`` in ``count`` threads released together; the wall time."""
    barrier = threading.Barrier(count)

    def start(n: int) -> None:
        barrier.wait()
        work(n)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(count)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def start_state(district: District) -> tuple[dict[int, int], int]:
    """The balances now, and the last transfer id: later ones are the threads' own."""
    with district.engine.connect() as conn:
        balances = dict(conn.execute(select(accounts.c.id, accounts.c.balance)).all())
        last = conn.execute(select(func.coalesce(func.max(transfers.c.id), 0))).scalar_one()
    return balances, last


def check_books(district: District, start: tuple[dict[int, int], int], outcome: Outcome) -> None:
    """The checks of the module docstring, from the :func:`start_state` of the threads."""
    before, last = start
    with district.engine.connect() as conn:
        rows = conn.execute(select(accounts.c.id, accounts.c.balance, accounts.c.floor)).all()
        assert [r for r in rows if r.floor is not None and r.balance < r.floor] == []
        assert ledger.reconcile(conn) == []
        totals = ledger.bank_totals(conn)
        assert set(totals.values()) == {0}, totals
        stored = dict(
            conn.execute(
                select(transfers.c.id, transfers.c.minutes).where(transfers.c.id > last)
            ).all()
        )
        entry_count = conn.execute(select(func.count()).select_from(entries)).scalar_one()
        transfer_count = conn.execute(select(func.count()).select_from(transfers)).scalar_one()
        chain = conn.execute(
            select(entries.c.account_id, entries.c.minutes, entries.c.balance_after).order_by(
                entries.c.account_id, entries.c.id
            )
        ).all()
    assert stored == {t.id: t.minutes for t in outcome.done}  # none lost, none doubled
    assert entry_count == 2 * transfer_count
    expected = dict(before)
    for move in outcome.done:
        expected[move.from_account] = expected.get(move.from_account, 0) - move.minutes
        expected[move.to_account] = expected.get(move.to_account, 0) + move.minutes
    assert {r.id: r.balance for r in rows} == {a: expected.get(a, 0) for a in {r.id for r in rows}}
    running: dict[int, int] = {}
    for account, minutes, after in chain:
        running[account] = running.get(account, 0) + minutes
        assert after == running[account], f"account {account}: entries do not chain"


def test_threads_spend_from_the_same_accounts(tb: District) -> None:
    """3 members with 10 hours each (one may overdraw an hour) and their pool; every thread
    makes random transfers of 15-90 minutes between them, mostly members paying."""
    backend = tb.engine.dialect.name
    (bank,) = open_banks(tb, 1)
    people = members(tb, bank, [0, 0, -60], start=600)
    with tb.engine.connect() as conn:
        pool = ledger.pool_of(conn, bank)
    before = start_state(tb)
    outcome = Outcome()

    def spend(payer: int, payee: int, minutes: int) -> Any:
        with tb.begin() as ctx:
            return ledger.transfer(ctx, "spend", payer, payee, minutes)

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(CALLS[backend]):
            if rng.random() < 0.1:
                payer, payee = pool, rng.choice(people)
            else:
                payer = rng.choice(people)
                payee = rng.choice([a for a in [*people, pool] if a != payer])
            minutes = rng.randint(15, 90)
            outcome.record(lambda a=payer, b=payee, m=minutes: spend(a, b, m))

    run_threads(THREADS[backend], work)
    assert outcome.errors == []
    assert len(outcome.done) + len(outcome.refused) == THREADS[backend] * CALLS[backend]
    assert outcome.done and outcome.refused  # the floors were reached under contention
    assert all("would take it below" in r for r in outcome.refused)
    check_books(tb, before, outcome)


def test_threads_cross_banks_both_ways_and_reverse(tb: District) -> None:
    """Cross-bank transfers in both directions, plain transfers and reversals of earlier
    transfers at once: four accounts locked per crossing, none deadlocks."""
    postgresql_only(tb)
    first, second = open_banks(tb, 2)
    east, west = members(tb, first, [0, 0], 900), members(tb, second, [0, 0], 900)
    with tb.begin() as ctx:  # the clearing accounts exist before the threads start
        ledger.transfer_across(ctx, east[0], west[0], 1)
        ledger.transfer_across(ctx, west[0], east[0], 1)
    before = start_state(tb)
    outcome = Outcome()

    def reverse(target: int) -> Any:
        with tb.begin() as ctx:
            return ledger.reverse(ctx, target, "录入错误")

    def across(payer: int, payee: int, minutes: int) -> Any:
        with tb.begin() as ctx:
            return ledger.transfer_across(ctx, payer, payee, minutes)

    def gift(payer: int, payee: int, minutes: int) -> Any:
        with tb.begin() as ctx:
            return ledger.transfer(ctx, "gift", payer, payee, minutes)

    def work(n: int) -> None:
        rng = random.Random(100 + n)
        for _ in range(30):
            roll, minutes = rng.random(), rng.randint(15, 90)
            if roll < 0.2 and outcome.done:
                target = rng.choice(outcome.done).id
                outcome.record(lambda target=target: reverse(target))
            elif roll < 0.7:
                payer = rng.choice(east + west)
                payee = rng.choice(west if payer in east else east)
                outcome.record(lambda a=payer, b=payee, m=minutes: across(a, b, m))
            else:
                payer, payee = rng.sample(rng.choice([east, west]), 2)
                outcome.record(lambda a=payer, b=payee, m=minutes: gift(a, b, m))

    run_threads(8, work)
    assert outcome.errors == []
    assert sum(1 for t in outcome.done if t.kind == "clear") > 0
    check_books(tb, before, outcome)


def test_one_transfer_reversed_by_many_threads_at_once(tb: District) -> None:
    """Exactly one reversal wins; the others are told it was reversed (a LedgerError)."""
    backend = tb.engine.dialect.name
    (bank,) = open_banks(tb, 1)
    wang, li = members(tb, bank, [0, 0], 600)
    with tb.begin() as ctx:
        gift = ledger.transfer(ctx, "gift", wang, li, 120)
    before = start_state(tb)
    outcome = Outcome()

    def work(n: int) -> None:
        def call() -> Any:
            with tb.begin() as ctx:
                return ledger.reverse(ctx, gift.id, f"重复记录 {n}")

        outcome.record(call)

    run_threads(THREADS[backend], work)
    assert outcome.errors == []
    assert len(outcome.done) == 1
    assert len(outcome.refused) == THREADS[backend] - 1
    assert all(f"already reversed by {outcome.done[0].id}" in r for r in outcome.refused)
    check_books(tb, before, outcome)


def waiting_on_a_lock(district: District) -> bool:
    with district.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_an_account_closes_only_at_zero_even_while_minutes_arrive(tb: District) -> None:
    """A close waits for a transfer into the account that is not yet committed, then sees
    its minutes and refuses: a closed account never holds minutes."""
    (bank,) = open_banks(tb, 1)
    with tb.begin() as ctx:
        wang = ledger.open_account(ctx, bank, "member", "member:1")
        pool = ledger.pool_of(ctx.connection, bank)
    outcome = Outcome()
    closer = threading.Thread(target=outcome.record, args=(lambda: close(tb, wang),))
    with tb.begin() as ctx:
        ledger.transfer(ctx, "earn", pool, wang, 60)
        closer.start()
        deadline = time.monotonic() + 5
        if tb.engine.dialect.name == "postgresql":
            while not waiting_on_a_lock(tb) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert waiting_on_a_lock(tb), "the close did not wait for the transfer's lock"
        else:
            time.sleep(0.5)  # the close waits in SQLite's busy handler (or comes after)
    closer.join()
    assert outcome.errors == []
    assert outcome.refused == [
        f"account {wang} holds 1:00 hours: give or donate them before closing it"
    ]
    with tb.engine.connect() as conn:
        status, balance = conn.execute(
            select(accounts.c.status, accounts.c.balance).where(accounts.c.id == wang)
        ).one()
    assert (status, balance) == ("active", 60)


def close(district: District, account: int) -> None:
    with district.begin() as ctx:
        ledger.set_status(ctx, account, "closed")
