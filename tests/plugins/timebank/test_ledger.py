"""The time bank's ledger (community365_timebank.ledger), on SQLite and on PostgreSQL.

Banks and their pools; transfers of integer minutes that write exactly two entries with
the balance after each; floors (no overdraft, or a small one for new members); frozen and
closed accounts; cross-bank transfers through clearing accounts; reversals; reconcile;
and the plugin's tables metadata against its migrations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from community365.config import set_enabled
from community365.db import schema
from community365.district import District
from community365.errors import NotFound
from community365_timebank import ledger, tables
from community365_timebank.ledger import Difference, LedgerError
from community365_timebank.tables import accounts, entries, transfers

from .tb_world import add_communities, ledger_unguarded

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # the district fixture's clock


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    """A district with the time bank enabled and migrated."""
    district = make_district(enabled=("timebank",))
    yield district
    district.engine.dispose()


@pytest.fixture
def banks(tb: District) -> tuple[int, int]:
    """Two community banks of the district, each with its pool."""
    with tb.begin() as ctx:
        first, second = (ledger.open_bank(ctx, area) for area in add_communities(tb))
    return first, second


def member(district: District, bank: int, n: int, floor: int = 0) -> int:
    with district.begin() as ctx:
        return ledger.open_account(ctx, bank, "member", f"member:{n}", floor=floor)


def pool(district: District, bank: int) -> int:
    with district.engine.connect() as conn:
        return ledger.pool_of(conn, bank)


def move(district: District, kind: str, a: int, b: int, minutes: int, **kw: Any) -> ledger.Transfer:
    with district.begin() as ctx:
        return ledger.transfer(ctx, kind, a, b, minutes, **kw)


def balances(district: District) -> dict[int, int]:
    with district.engine.connect() as conn:
        return dict(conn.execute(select(accounts.c.id, accounts.c.balance)).all())


def counts(district: District) -> tuple[int, int]:
    with district.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(transfers)).scalar_one(),
            conn.execute(select(func.count()).select_from(entries)).scalar_one(),
        )


def entries_of(district: District, transfer_id: int) -> list[tuple[int, int, int]]:
    with district.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(entries.c.account_id, entries.c.minutes, entries.c.balance_after)
                .where(entries.c.transfer_id == transfer_id)
                .order_by(entries.c.id)
            )
        ]


def refused(district: District, call: Callable[[Any], object], *words: str) -> str:
    """``call(ctx)`` raises a one-line LedgerError containing ``words``; nothing changed."""
    before = balances(district), counts(district)
    with pytest.raises(LedgerError) as caught, district.begin() as ctx:
        call(ctx)
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word in message, message
    assert (balances(district), counts(district)) == before
    return message


def test_open_bank_makes_a_pool(tb: District) -> None:
    first, second = add_communities(tb)
    with tb.begin() as ctx:
        bank = ledger.open_bank(ctx, first)
        assert ledger.open_bank(ctx, first) == bank  # the same bank, no second pool
        other = ledger.open_bank(ctx, second)
    assert other != bank
    with tb.engine.connect() as conn:
        rows = conn.execute(select(accounts).order_by(accounts.c.id)).mappings().all()
        assert [(r["bank_id"], r["kind"], r["owner"]) for r in rows] == [
            (bank, "pool", "pool"),
            (other, "pool", "pool"),
        ]
        assert all(r["floor"] is None and r["balance"] == 0 for r in rows)
        assert all(r["status"] == "active" for r in rows)
        assert ledger.pool_of(conn, bank) == rows[0]["id"]
        assert ledger.find_account(conn, bank, "member:1") is None
        with pytest.raises(NotFound, match="no pool account"):
            ledger.pool_of(conn, 999)
    with tb.begin() as ctx, pytest.raises(ValueError, match="floor"):
        ledger.open_account(ctx, bank, "member", "member:1", floor=60)


def test_a_transfer_writes_two_entries_with_the_balance_after(
    tb: District, banks: tuple[int, int]
) -> None:
    bank = banks[0]
    the_pool, wang, li = pool(tb, bank), member(tb, bank, 1), member(tb, bank, 2)

    earned = move(tb, "earn", the_pool, wang, 90, memo="陪老人就医", case_ref="C-1")
    assert earned == ledger.Transfer(
        earned.id, "earn", the_pool, wang, 90, NOW, "tester", "陪老人就医", "C-1", None
    )
    assert entries_of(tb, earned.id) == [(the_pool, -90, -90), (wang, 90, 90)]

    gift = move(tb, "gift", wang, li, 35)
    assert entries_of(tb, gift.id) == [(wang, -35, 55), (li, 35, 35)]
    again = move(tb, "earn", the_pool, wang, 15)
    assert entries_of(tb, again.id) == [(the_pool, -15, -105), (wang, 15, 70)]

    assert balances(tb) == {the_pool: -105, wang: 70, li: 35, pool(tb, banks[1]): 0}
    assert counts(tb) == (3, 6)
    with tb.engine.connect() as conn:
        assert ledger.get_transfer(conn, gift.id) == gift
        assert ledger.bank_totals(conn) == {bank: 0}
        with pytest.raises(NotFound):
            ledger.get_transfer(conn, 999)
    assert ledger.hours(70) == "1:10" and ledger.hours(-105) == "-1:45"


@pytest.mark.parametrize("minutes", [0, -30, 1.5, "60"])
def test_a_transfer_moves_a_positive_whole_number_of_minutes(
    tb: District, banks: tuple[int, int], minutes: Any
) -> None:
    the_pool, wang = pool(tb, banks[0]), member(tb, banks[0], 1)
    refused(tb, lambda ctx: ledger.transfer(ctx, "earn", the_pool, wang, minutes), "positive")
    refused(tb, lambda ctx: ledger.transfer(ctx, "gift", wang, wang, 10), "two different")
    with tb.begin() as ctx, pytest.raises(NotFound, match="no time bank account 999"):
        ledger.transfer(ctx, "gift", wang, 999, 10)


def test_no_overdraft_below_the_floor(tb: District, banks: tuple[int, int]) -> None:
    bank = banks[0]
    the_pool, wang, li = pool(tb, bank), member(tb, bank, 1), member(tb, bank, 2)
    move(tb, "earn", the_pool, wang, 30)

    message = refused(
        tb, lambda ctx: ledger.transfer(ctx, "spend", wang, li, 31), f"account {wang}", "0:30"
    )
    assert message == f"account {wang} holds 0:30 hours; 0:31 would take it below 0:00"
    move(tb, "spend", wang, li, 30)  # down to the floor exactly
    refused(tb, lambda ctx: ledger.transfer(ctx, "donate", wang, the_pool, 1), f"account {wang}")

    # A new member may run a small overdraft, down to the floor and no further.
    new = member(tb, bank, 3, floor=-120)
    spent = move(tb, "spend", new, the_pool, 120)
    assert entries_of(tb, spent.id) == [(new, -120, -120), (the_pool, 120, 90)]
    refused(
        tb,
        lambda ctx: ledger.transfer(ctx, "spend", new, the_pool, 1),
        f"account {new}",
        "-2:00",
    )
    # The pool has no floor.
    move(tb, "earn", the_pool, li, 600)
    assert balances(tb)[the_pool] == -510

    # The check constraint stands behind the code.
    with pytest.raises(IntegrityError), tb.begin() as ctx:
        ctx.connection.execute(
            text("UPDATE tb_accounts SET balance = -1 WHERE id = :id"), {"id": wang}
        )


def test_frozen_and_closed_accounts_refuse(tb: District, banks: tuple[int, int]) -> None:
    bank = banks[0]
    the_pool, wang, li = pool(tb, bank), member(tb, bank, 1), member(tb, bank, 2)
    move(tb, "earn", the_pool, wang, 60)
    with tb.begin() as ctx:
        ledger.set_status(ctx, wang, "frozen")
    refused(tb, lambda ctx: ledger.transfer(ctx, "gift", wang, li, 10), f"account {wang} is frozen")
    refused(tb, lambda ctx: ledger.transfer(ctx, "earn", the_pool, wang, 10), "frozen")
    with tb.begin() as ctx:
        ledger.set_status(ctx, wang, "active")
    move(tb, "gift", wang, li, 10)

    # Closing needs a zero balance, and a closed account stays closed.
    refused(tb, lambda ctx: ledger.set_status(ctx, wang, "closed"), f"account {wang}", "0:50")
    move(tb, "donate", wang, the_pool, 50)
    with tb.begin() as ctx:
        ledger.set_status(ctx, wang, "closed")
    refused(tb, lambda ctx: ledger.transfer(ctx, "earn", the_pool, wang, 10), "is closed")
    refused(tb, lambda ctx: ledger.transfer(ctx, "gift", li, wang, 10), "is closed")
    refused(tb, lambda ctx: ledger.set_status(ctx, wang, "active"), "is closed")
    with tb.engine.connect() as conn:
        status = conn.execute(select(accounts.c.status).where(accounts.c.id == wang)).scalar()
    assert status == "closed"


def test_a_plain_transfer_stays_in_one_bank(tb: District, banks: tuple[int, int]) -> None:
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 60)
    refused(
        tb,
        lambda ctx: ledger.transfer(ctx, "gift", wang, zhao, 10),
        f"accounts {wang} and {zhao} are in different banks",
    )
    refused(tb, lambda ctx: ledger.transfer(ctx, "earn", pool(tb, second), wang, 10), "banks")


def test_transfer_across_banks_keeps_each_bank_at_zero(
    tb: District, banks: tuple[int, int]
) -> None:
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 120)

    with tb.begin() as ctx:
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 45, memo="通存通兑")
    with tb.engine.connect() as conn:
        owes = ledger.find_account(conn, first, f"clearing:{second}")
        owed = ledger.find_account(conn, second, f"clearing:{first}")
        assert ledger.bank_totals(conn) == {first: 0, second: 0}
        kinds = conn.execute(
            select(accounts.c.kind, accounts.c.peer_bank_id, accounts.c.floor).where(
                accounts.c.id.in_([owes, owed])
            )
        ).all()
    assert sorted(kinds) == [("clearing", first, None), ("clearing", second, None)]
    assert (out_leg.kind, out_leg.from_account, out_leg.to_account) == ("clear", wang, owes)
    assert (in_leg.kind, in_leg.from_account, in_leg.to_account) == ("clear", owed, zhao)
    assert out_leg.memo == in_leg.memo == "通存通兑"
    assert entries_of(tb, out_leg.id) == [(wang, -45, 75), (owes, 45, 45)]
    assert entries_of(tb, in_leg.id) == [(owed, -45, -45), (zhao, 45, 45)]

    # Back again, through the same two clearing accounts.
    with tb.begin() as ctx:
        ledger.transfer_across(ctx, zhao, wang, 15)
    now = balances(tb)
    assert (now[wang], now[zhao], now[owes], now[owed]) == (90, 30, 30, -30)
    with tb.engine.connect() as conn:
        assert ledger.bank_totals(conn) == {first: 0, second: 0}
        assert (
            conn.execute(
                select(func.count()).select_from(accounts).where(accounts.c.kind == "clearing")
            ).scalar_one()
            == 2
        )

    refused(tb, lambda ctx: ledger.transfer_across(ctx, zhao, wang, 31), f"account {zhao}")
    li = member(tb, first, 2)
    refused(tb, lambda ctx: ledger.transfer_across(ctx, wang, li, 10), "same bank")


def test_a_refused_cross_bank_transfer_writes_no_leg(tb: District, banks: tuple[int, int]) -> None:
    """Even when the caller catches the error and commits its transaction, a cross-bank
    transfer refused for its second leg (the payee is frozen) left no first leg behind."""
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 120)
    with tb.begin() as ctx:
        ledger.transfer_across(ctx, wang, zhao, 10)
        ledger.set_status(ctx, zhao, "frozen")
    before = balances(tb), counts(tb)
    with tb.begin() as ctx, pytest.raises(LedgerError, match=f"account {zhao} is frozen"):
        ledger.transfer_across(ctx, wang, zhao, 30)
        # the caller goes on and commits
    assert (balances(tb), counts(tb)) == before
    with tb.engine.connect() as conn:
        assert ledger.bank_totals(conn) == {first: 0, second: 0}


def test_reverse_restores_both_balances_once(tb: District, banks: tuple[int, int]) -> None:
    bank = banks[0]
    the_pool, wang, li = pool(tb, bank), member(tb, bank, 1), member(tb, bank, 2)
    earned = move(tb, "earn", the_pool, wang, 90, case_ref="C-7")
    before = balances(tb)
    gift = move(tb, "gift", wang, li, 30)

    refused(tb, lambda ctx: ledger.reverse(ctx, gift.id, "  "), "needs a reason")
    with tb.begin() as ctx:
        undone = ledger.reverse(ctx, gift.id, " 录入错误 ")
    assert balances(tb) == before
    assert (undone.kind, undone.from_account, undone.to_account, undone.minutes) == (
        "reverse",
        li,
        wang,
        30,
    )
    assert (undone.reverses, undone.memo, undone.case_ref) == (gift.id, "录入错误", None)
    assert entries_of(tb, undone.id) == [(li, -30, 0), (wang, 30, 90)]

    refused(
        tb, lambda ctx: ledger.reverse(ctx, gift.id, "again"), f"already reversed by {undone.id}"
    )
    refused(tb, lambda ctx: ledger.reverse(ctx, undone.id, "undo the undo"), "itself a reversal")
    with tb.begin() as ctx, pytest.raises(NotFound):
        ledger.reverse(ctx, 999, "none")

    # Minutes already spent cannot be taken back: the floor holds for a reversal too.
    move(tb, "spend", wang, the_pool, 60)
    refused(tb, lambda ctx: ledger.reverse(ctx, earned.id, "重复记录"), f"account {wang}")

    # A reversal is a correction and goes through a frozen account...
    top_up = move(tb, "earn", the_pool, li, 20, case_ref="C-8")
    with tb.begin() as ctx:
        ledger.set_status(ctx, li, "frozen")
        fixed = ledger.reverse(ctx, top_up.id, "重复记录")
    assert fixed.case_ref == "C-8" and balances(tb)[li] == 0
    # ...but never into a closed one, which must stay at zero.
    with tb.begin() as ctx:
        ledger.set_status(ctx, li, "closed")
    donated = move(tb, "donate", wang, the_pool, 30)
    with tb.begin() as ctx:
        ledger.set_status(ctx, wang, "closed")
    refused(tb, lambda ctx: ledger.reverse(ctx, donated.id, "捐错了"), f"account {wang} is closed")


def test_reconcile_finds_a_tampered_balance(tb: District, banks: tuple[int, int]) -> None:
    first, second = banks
    the_pool, wang, li = pool(tb, first), member(tb, first, 1), member(tb, first, 2)
    zhao = member(tb, second, 1, floor=-60)
    move(tb, "earn", the_pool, wang, 240)
    gift = move(tb, "gift", wang, li, 60)
    move(tb, "donate", li, the_pool, 15)
    with tb.begin() as ctx:
        ledger.transfer_across(ctx, wang, zhao, 30)
        ledger.transfer_across(ctx, zhao, li, 75)
        ledger.reverse(ctx, gift.id, "送错人了")
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []
        assert ledger.bank_totals(conn) == {first: 0, second: 0}
    now = balances(tb)
    assert (now[wang], now[li], now[zhao], now[the_pool]) == (210, 60, -45, -225)

    with tb.begin() as ctx:
        ctx.connection.execute(
            text("UPDATE tb_accounts SET balance = balance + 5 WHERE id = :id"), {"id": wang}
        )
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == [Difference(wang, 215, 210)]
        assert ledger.bank_totals(conn) == {first: 0, second: 0}  # entries are untouched
    # An account without any entry is compared with zero.
    fresh = member(tb, second, 2)
    with tb.begin() as ctx:
        ctx.connection.execute(
            text("UPDATE tb_accounts SET balance = 7 WHERE id = :id"), {"id": fresh}
        )
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == [Difference(wang, 215, 210), Difference(fresh, 7, 0)]


def test_cross_bank_legs_keep_their_kind_and_name_each_other(
    tb: District, banks: tuple[int, int]
) -> None:
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 120)
    with tb.begin() as ctx:
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 45, kind="spend", memo="理发")
    assert (out_leg.kind, in_leg.kind) == ("spend", "spend")
    assert (out_leg.pair, in_leg.pair) == (in_leg.id, out_leg.id)
    with tb.engine.connect() as conn:
        assert ledger.get_transfer(conn, out_leg.id) == out_leg
        assert ledger.get_transfer(conn, in_leg.id) == in_leg
        assert ledger.reconcile(conn) == []
    # A plain transfer has no pair.
    assert move(tb, "gift", wang, member(tb, first, 2), 15).pair is None


def clearing_pair(district: District, first: int, second: int) -> tuple[int, int]:
    with district.engine.connect() as conn:
        owes = ledger.find_account(conn, first, f"clearing:{second}")
        owed = ledger.find_account(conn, second, f"clearing:{first}")
    assert owes is not None and owed is not None
    return owes, owed


def test_reversing_either_leg_of_a_cross_bank_transfer_reverses_both(
    tb: District, banks: tuple[int, int]
) -> None:
    """One leg alone reversed would give the payer back what the payee keeps: hours out
    of nothing, with each bank still at zero."""
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 120)
    before = balances(tb)
    with tb.begin() as ctx:
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 45)
    owes, owed = clearing_pair(tb, first, second)
    with tb.begin() as ctx:
        undone = ledger.reverse(ctx, in_leg.id, "转错了")
    assert isinstance(undone, tuple)
    undo_out, undo_in = undone
    assert (undo_out.reverses, undo_in.reverses) == (out_leg.id, in_leg.id)
    assert (undo_out.from_account, undo_out.to_account) == (owes, wang)
    assert (undo_in.from_account, undo_in.to_account) == (zhao, owed)
    assert (undo_out.pair, undo_in.pair) == (undo_in.id, undo_out.id)
    now = balances(tb)
    assert (now[wang], now[zhao], now[owes], now[owed]) == (120, 0, 0, 0)
    assert {a: b for a, b in now.items() if a not in (owes, owed)} == before
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []
    refused(tb, lambda ctx: ledger.reverse(ctx, out_leg.id, "again"), "already reversed")
    refused(tb, lambda ctx: ledger.reverse(ctx, undo_in.id, "again"), "itself a reversal")

    # The payee already spent the hours: neither leg is reversed, nothing is written.
    with tb.begin() as ctx:
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 30)
    move(tb, "spend", zhao, pool(tb, second), 20)
    refused(tb, lambda ctx: ledger.reverse(ctx, out_leg.id, "录入错误"), f"account {zhao}")
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []


def test_reconcile_finds_clearing_accounts_that_do_not_cancel(
    tb: District, banks: tuple[int, int]
) -> None:
    first, second = banks
    wang, zhao = member(tb, first, 1), member(tb, second, 1)
    move(tb, "earn", pool(tb, first), wang, 120)
    with tb.begin() as ctx:
        ledger.transfer_across(ctx, wang, zhao, 45)
    owes, owed = clearing_pair(tb, first, second)
    # What reversing one leg alone used to write: each bank still sums to zero.
    move(tb, "reverse", zhao, owed, 45)
    with tb.engine.connect() as conn:
        assert ledger.bank_totals(conn) == {first: 0, second: 0}
        found = ledger.reconcile(conn)
    assert [(d.kind, d.account_id, d.other_account_id) for d in found] == [("clearing", owes, owed)]
    assert found == [Difference(owes, 45, 0, "clearing", None, owed)]
    assert "must cancel" in found[0].describe()


def test_the_database_refuses_to_edit_or_delete_entries_and_transfers(
    tb: District, banks: tuple[int, int]
) -> None:
    """timebank_0003's triggers: raw SQL cannot UPDATE or DELETE an entry, DELETE a
    transfer or UPDATE any of its columns but ``pair`` (nor TRUNCATE on PostgreSQL), while
    the whole ledger (transfers, reversals, cross-bank pairs and their reversal) works."""
    first, second = banks
    the_pool, wang, li = pool(tb, first), member(tb, first, 1), member(tb, first, 2)
    zhao = member(tb, second, 1)
    move(tb, "earn", the_pool, wang, 240)
    gift = move(tb, "gift", wang, li, 60)
    with tb.begin() as ctx:
        ledger.reverse(ctx, gift.id, "录入错误")
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 30, kind="gift")
    with tb.begin() as ctx:
        back = ledger.reverse(ctx, in_leg.id, "重复记录")
    assert isinstance(back, tuple)
    with tb.engine.connect() as conn:
        assert ledger.get_transfer(conn, out_leg.id).pair == in_leg.id
        assert ledger.get_transfer(conn, back[0].id).pair == back[1].id
        assert ledger.reconcile(conn) == []
        where = entries.c.transfer_id == gift.id
        entry = conn.execute(select(entries.c.id).where(where)).scalars().first()
    before, stored = counts(tb), balances(tb)
    assert before == (7, 14)  # earn, gift, its reversal, two legs, their two reversals

    refused = [
        ("UPDATE tb_entries SET balance_after = balance_after + 1 WHERE id = :id", entry),
        ("UPDATE tb_entries SET minutes = minutes WHERE id = :id", entry),
        ("DELETE FROM tb_entries WHERE id = :id", entry),
        ("DELETE FROM tb_transfers WHERE id = :id", gift.id),
        *(
            (f"UPDATE tb_transfers SET {column.name} = {column.name} WHERE id = :id", gift.id)
            for column in transfers.c
            if column.name != "pair"
        ),
    ]
    if tb.engine.dialect.name == "postgresql":
        refused += [("TRUNCATE tb_entries", 0), ("TRUNCATE tb_transfers CASCADE", 0)]
    for sql, row in refused:
        with pytest.raises(IntegrityError, match="immutable"), tb.begin() as ctx:
            ctx.connection.execute(text(sql), {"id": row})
    # What the ledger itself updates stays updatable: a leg's pair, an account's balance.
    with tb.begin() as ctx:
        done = ctx.connection.execute(
            text("UPDATE tb_transfers SET pair = pair WHERE id = :id"), {"id": out_leg.id}
        )
        assert done.rowcount == 1
        ctx.connection.execute(text("UPDATE tb_accounts SET balance = balance"))
    assert (counts(tb), balances(tb)) == (before, stored)
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []
    # The ledger goes on after the refusals.
    move(tb, "spend", wang, the_pool, 15)
    with tb.begin() as ctx:
        ledger.transfer_across(ctx, wang, zhao, 15, kind="gift")
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []
    assert counts(tb) == (10, 20)


def test_reconcile_finds_broken_transfers_chains_and_pairs(
    tb: District, banks: tuple[int, int]
) -> None:
    first, second = banks
    the_pool, wang, li = pool(tb, first), member(tb, first, 1), member(tb, first, 2)
    zhao = member(tb, second, 1)
    move(tb, "earn", the_pool, wang, 240)
    gift = move(tb, "gift", wang, li, 60)
    move(tb, "donate", li, the_pool, 15)
    with tb.begin() as ctx:
        out_leg, in_leg = ledger.transfer_across(ctx, wang, zhao, 30, kind="gift")
    with tb.engine.connect() as conn:
        assert ledger.reconcile(conn) == []

    def tamper(sql: str, **params: int) -> list[Difference]:
        # The database refuses this (timebank_0003): its triggers are lifted for it.
        with tb.begin() as ctx, ledger_unguarded(ctx.connection):
            ctx.connection.execute(text(sql), params)
        with tb.engine.connect() as conn:
            return ledger.reconcile(conn)

    # A transfer whose minutes no longer match its entries.
    found = tamper("UPDATE tb_transfers SET minutes = 61 WHERE id = :id", id=gift.id)
    assert [(d.kind, d.transfer_id, d.stored, d.summed) for d in found] == [
        ("transfer", gift.id, 61, 60)
    ]
    assert found[0].describe().startswith(f"transfer {gift.id} moves 1:01 but its entries")
    tamper("UPDATE tb_transfers SET minutes = 60 WHERE id = :id", id=gift.id)
    # An entry's balance after that does not follow from the one before: that entry and
    # the next one of the account break the chain (the stored balance is unaffected).
    with tb.engine.connect() as conn:
        entry = conn.execute(
            select(entries.c.id).where(entries.c.transfer_id == gift.id, entries.c.account_id == li)
        ).scalar_one()
    found = tamper("UPDATE tb_entries SET balance_after = 65 WHERE id = :id", id=entry)
    assert [(d.kind, d.account_id, d.stored, d.summed) for d in found] == [
        ("chain", li, 65, 60),
        ("chain", li, 45, 50),
    ]
    tamper("UPDATE tb_entries SET balance_after = 60 WHERE id = :id", id=entry)
    # A leg whose other leg does not name it back.
    found = tamper("UPDATE tb_transfers SET pair = NULL WHERE id = :id", id=out_leg.id)
    assert [(d.kind, d.transfer_id) for d in found] == [("pair", in_leg.id)]
    assert f"its other leg {out_leg.id} names None" in found[0].describe()


def test_migrations(make_district: Callable[..., District]) -> None:
    """Enabling the plugin creates exactly the tables of community365_timebank.tables, and
    that metadata agrees with what the migrations built (alembic's compare_metadata, as
    tests/test_migrations.py does for the core)."""
    plain = make_district()
    root = plain.root
    before = set(inspect(plain.engine).get_table_names())
    plain.engine.dispose()
    set_enabled(root, ["timebank"])
    district = District.open(root, actor="tester")
    engine = district.engine
    try:
        district.upgrade()
        assert district.migration_branches()["timebank"].metadata is tables.metadata
        created = set(inspect(engine).get_table_names()) - before
        assert created == set(tables.metadata.tables)
        assert {"tb_banks", "tb_accounts", "tb_transfers", "tb_entries"} <= created
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    # As in tests/test_migrations.py: SQLite reflects server defaults as
                    # raw SQL text, so they are compared on PostgreSQL only.
                    "compare_server_default": conn.dialect.name == "postgresql",
                },
            )
            differences = compare_metadata(context, [schema.metadata, tables.metadata])
        assert differences == []
    finally:
        engine.dispose()
