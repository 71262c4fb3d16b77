"""Benchmark: time bank transfers per second through the ledger, against raw Core writes.

    /tmp/venv/bin/python benchmarks/timebank_transfers.py [--single 1000] [--batched 5000]
        [--members 20] [--pg postgresql+psycopg://postgres@127.0.0.1/c365_b --pg-wipe]
        [--threads 8] [--per-thread 250] [--rounds 2]

Builds a district with the time bank enabled (one community bank, ``--members`` members
who each start with 1,000 hours, so that no transfer is refused) and runs the same
pre-drawn transfers (random member → member, member → pool or pool → member, 15-90
minutes) two ways, each run interleaved with the other so that a busy machine slows both:

  ours  ``ledger.transfer(ctx, ...)``: both accounts locked (SQLite: the write lock;
        PostgreSQL: ``FOR UPDATE`` in id order), statuses, bank and floor checked, the
        transfer row, two balance updates and two entry rows;
  raw   SQLAlchemy Core writes of the same rows and nothing else: 1 transfer insert,
        2 account balance updates (``RETURNING`` the balance, for the entry) and
        2 entry inserts, the updates in id order.

SQLite (the default, a file in a temporary directory with the district's settings: WAL,
synchronous FULL): one durable transaction per transfer, then 1,000 transfers per
transaction. PostgreSQL (``--pg URL``, an empty database or ``--pg-wipe``): one
transaction per transfer with 1 writer, then with ``--threads`` writers at once (each
its own connection), then 1,000 per transaction with 1 writer. After every run the
books are checked: reconcile() finds nothing and the bank's entries sum to zero.

Prints transfers per second for each side and the ratio raw/ours. Measures; never fails
the build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from case_district import check_empty
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from community365.cli.init import create_district
from community365.config import set_enabled
from community365.db.schema import areas
from community365.district import District
from community365_timebank import ledger
from community365_timebank.tables import accounts, entries, transfers

START = 60_000  # minutes each member starts with: 1,000 hours, never overdrawn here
Move = tuple[int, int, int]  # payer, payee, minutes

# -- the district ------------------------------------------------------------------------------


def build(root: Path, database: str, members: int) -> tuple[District, int, list[int]]:
    """The district, its bank, and the accounts (the pool first)."""
    create_district(root, name="鄞州区", code="330212", database=database, actor="bench")
    set_enabled(root, ["timebank"])
    district = District.open(root, actor="bench")
    district.upgrade()
    with district.begin() as ctx:
        conn = ctx.connection
        parent = conn.execute(select(areas.c.id).where(areas.c.code == "330212")).scalar_one()
        for code, name, level in (
            ("330212001", "百丈街道", "street"),
            ("330212001001", "划船社区", "community"),
        ):
            parent = conn.execute(
                insert(areas)
                .values(code=code, name=name, level=level, parent_id=parent)
                .returning(areas.c.id)
            ).scalar_one()
        bank = ledger.open_bank(ctx, parent)
        pool = ledger.pool_of(conn, bank)
        people = []
        for n in range(members):
            account = ledger.open_account(ctx, bank, "member", f"member:{n}", floor=-120)
            ledger.transfer(ctx, "earn", pool, account, START)
            people.append(account)
    return district, bank, [pool, *people]


def draw(accounts_: Sequence[int], count: int, seed: int) -> list[Move]:
    pool, people = accounts_[0], list(accounts_[1:])
    rng = random.Random(seed)
    moves = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            payer, payee = pool, rng.choice(people)
        elif roll < 0.2:
            payer, payee = rng.choice(people), pool
        else:
            payer, payee = rng.sample(people, 2)
        moves.append((payer, payee, rng.randint(15, 90)))
    return moves


# -- the two sides ------------------------------------------------------------------------------

_RAW_TRANSFER = insert(transfers).returning(transfers.c.id)
_RAW_MOVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(balance=accounts.c.balance + bindparam("delta"))
    .returning(accounts.c.balance)
)
_RAW_ENTRY = insert(entries)


def raw_transfer(conn: Connection, bank: int, move: Move, at: dt.datetime) -> None:
    payer, payee, minutes = move
    transfer_id = conn.execute(
        _RAW_TRANSFER,
        {
            "bank_id": bank,
            "kind": "gift",
            "from_account": payer,
            "to_account": payee,
            "minutes": minutes,
            "at": at,
            "actor": "bench",
            "memo": "",
        },
    ).scalar_one()
    for account, delta in sorted(((payer, -minutes), (payee, minutes))):
        after = conn.execute(_RAW_MOVE, {"account": account, "delta": delta}).scalar_one()
        conn.execute(
            _RAW_ENTRY,
            {
                "transfer_id": transfer_id,
                "account_id": account,
                "minutes": delta,
                "balance_after": after,
            },
        )


Runner = Callable[[District, int, Sequence[Move], int], None]


def ours(district: District, bank: int, moves: Sequence[Move], batch: int) -> None:
    for start in range(0, len(moves), batch):
        with district.begin() as ctx:
            for payer, payee, minutes in moves[start : start + batch]:
                ledger.transfer(ctx, "gift", payer, payee, minutes)


def raw(district: District, bank: int, moves: Sequence[Move], batch: int) -> None:
    engine = district.engine
    for start in range(0, len(moves), batch):
        with engine.begin() as conn:
            at = dt.datetime.now(dt.UTC)
            for move in moves[start : start + batch]:
                raw_transfer(conn, bank, move, at)


def timed(
    runner: Runner, district: District, bank: int, moves: Sequence[Move], batch: int, threads: int
) -> float:
    """Transfers per second of ``runner`` over ``moves``, split among ``threads`` writers."""
    if threads == 1:
        began = time.perf_counter()
        runner(district, bank, moves, batch)
        return len(moves) / (time.perf_counter() - began)
    shares = [moves[n::threads] for n in range(threads)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def work(share: Sequence[Move]) -> None:
        barrier.wait()
        try:
            runner(district, bank, share, batch)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    return len(moves) / elapsed


def check_books(district: District, expected_transfers: int) -> None:
    with district.engine.connect() as conn:
        assert ledger.reconcile(conn) == [], "a balance differs from its entries"
        assert set(ledger.bank_totals(conn).values()) == {0}, "a bank does not sum to zero"
        count = conn.execute(select(func.count()).select_from(transfers)).scalar_one()
        assert count == expected_transfers, (count, expected_transfers)


# -- driver ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1_000, help="transfers, one per transaction")
    parser.add_argument("--batched", type=int, default=5_000, help="transfers, batched")
    parser.add_argument("--batch", type=int, default=1_000, help="transfers per batch")
    parser.add_argument("--members", type=int, default=20, help="member accounts in the bank")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL database (empty) instead of SQLite")
    parser.add_argument("--pg-wipe", action="store_true", help="drop --pg's public schema first")
    parser.add_argument("--threads", type=int, default=8, help="concurrent writers (PostgreSQL)")
    parser.add_argument(
        "--per-thread", type=int, default=250, help="transfers per concurrent writer"
    )
    parser.add_argument("--rounds", type=int, default=2, help="raw/ours alternations per mode")
    parser.add_argument("--seed", type=int, default=365)
    args = parser.parse_args()
    if args.pg:
        check_empty(args.pg, args.pg_wipe)
    work = Path(tempfile.mkdtemp(prefix="c365-timebank-"))
    try:
        database = args.pg or "sqlite:///district.db"
        district, bank, accounts_ = build(work / "district", database, args.members)
        backend = district.engine.dialect.name
        modes: list[tuple[str, int, int, int]] = [  # label, transfers, batch, writers
            ("1 writer, 1 transfer per transaction", args.single, 1, 1)
        ]
        if backend == "postgresql":
            modes.append(
                (
                    f"{args.threads} writers, 1 transfer per transaction",
                    args.threads * args.per_thread,
                    1,
                    args.threads,
                )
            )
        modes.append(
            (f"1 writer, {args.batch:,} transfers per transaction", args.batched, args.batch, 1)
        )
        print(
            f"time bank transfers on {backend}: 1 bank, {args.members} members + the pool, "
            f"{args.rounds} alternating rounds per mode (best of each side)"
        )
        print(f"{'mode':<44} {'ours/s':>9} {'raw/s':>9} {'raw/ours':>9}")
        done = args.members  # the members' starting earnings
        for n, (label, count, batch, writers) in enumerate(modes):
            moves = draw(accounts_, count, args.seed + n)
            best = {"ours": 0.0, "raw": 0.0}
            for _ in range(args.rounds):
                for name, runner in (("raw", raw), ("ours", ours)):
                    rate = timed(runner, district, bank, moves, batch, writers)
                    best[name] = max(best[name], rate)
                    done += count
                    check_books(district, done)
            print(
                f"{label:<44} {best['ours']:>9,.0f} {best['raw']:>9,.0f} "
                f"{best['raw'] / best['ours']:>8.2f}x"
            )
        district.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
