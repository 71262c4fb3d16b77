"""Accounts: joining the community's bank, leaving, freezing, teams, finding an account,
and the settings in minutes. On SQLite and PostgreSQL (``make_district``)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cases_fixtures import COMMUNITY, HH1
from sqlalchemy import func, select

from community365.district import District
from community365.errors import ConfigError, FieldError, NotFound, UsageError
from community365.settings import structure
from community365_timebank import accounts, giving, ledger
from community365_timebank.amounts import parse_hours
from community365_timebank.settings import TimebankSettings, hours_to_minutes
from community365_timebank.tables import banks, metadata

from .tb_world import (
    CAI,
    COMMUNITY2,
    LIN,
    SHI_BO_ID,
    SHI_ID,
    WANG_ID,
    YU,
    account,
    balance,
    fund,
    join,
    ledger_holds,
    world,
)


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = world(make_district)
    yield district
    district.engine.dispose()


def bank_count(district: District) -> int:
    with district.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(banks)).scalar_one()


# -- joining -------------------------------------------------------------------------------------


def test_first_member_opens_the_community_bank_with_its_pool(tb: District) -> None:
    assert bank_count(tb) == 0
    (member,) = join(tb, SHI_ID)
    assert (member.kind, member.status, member.balance, member.floor) == ("member", "active", 0, 0)
    assert (member.bank_code, member.bank_name) == (COMMUNITY, "划船社区")
    assert member.person_name == "史永康" and member.home_code is not None
    pool = account(tb, f"pool:{COMMUNITY}")
    assert (pool.kind, pool.floor, pool.bank_id) == ("pool", None, member.bank_id)
    join(tb, WANG_ID, SHI_BO_ID)  # the same bank for the whole community, both grids
    assert bank_count(tb) == 1
    (other,) = join(tb, LIN)  # another community, another bank
    assert other.bank_code == COMMUNITY2 and bank_count(tb) == 2


def test_new_member_overdraft_is_the_floor(make_district: Callable[..., District]) -> None:
    district = world(make_district, new_member_overdraft_hours="1.5")
    (member,) = join(district, SHI_ID)
    assert member.floor == -90 and member.available == 90
    with district.begin() as ctx:
        settings = ctx.settings["timebank"]
        giving.spend(ctx, settings, SHI_ID, "pool", 90)  # down to the floor
    assert balance(district, SHI_ID) == -90
    with district.begin() as ctx, pytest.raises(ledger.LedgerError, match="below -1:30"):
        giving.spend(ctx, ctx.settings["timebank"], SHI_ID, "pool", 1)
    district.engine.dispose()


def test_join_refusals_change_nothing(tb: District) -> None:
    join(tb, SHI_ID)
    with tb.begin() as ctx, pytest.raises(UsageError, match="already a member"):
        accounts.join_ref(ctx, ctx.settings["timebank"], SHI_ID)
    with tb.begin() as ctx, pytest.raises(NotFound, match="no person"):
        accounts.join_ref(ctx, ctx.settings["timebank"], "330212199001010018")
    with tb.begin() as ctx, pytest.raises(UsageError, match="--bank is for teams"):
        accounts.join_ref(ctx, ctx.settings["timebank"], WANG_ID, bank_code=COMMUNITY)
    with tb.begin() as ctx, pytest.raises(UsageError, match="not linked to a resident"):
        accounts.join_ref(ctx, ctx.settings["timebank"], "V1")
    with tb.begin() as ctx, pytest.raises(NotFound, match="no handler"):
        accounts.join_ref(ctx, ctx.settings["timebank"], "NOBODY")
    with tb.engine.connect() as conn:
        assert len(accounts.list_accounts(conn)) == 2  # the member and the pool


def test_a_volunteer_joins_by_handler_code_and_a_person_by_household_and_name(
    tb: District,
) -> None:
    (volunteer, elder) = join(tb, "VA", f"{HH1}/王翠娥")
    assert volunteer.person_name == "俞青" and volunteer.id_number == YU
    assert elder.id_number == WANG_ID
    assert account(tb, "VA").id == volunteer.id  # a volunteer's code finds their account


def test_a_bank_needs_a_community_above_the_household(
    make_district: Callable[..., District],
) -> None:
    district = world(make_district, bank_level="no_such_level")
    with district.begin() as ctx, pytest.raises(NotFound, match="no no_such_level at or above"):
        accounts.join_ref(ctx, ctx.settings["timebank"], SHI_ID)
    district.engine.dispose()


def test_moving_to_another_community_takes_the_hours_across(tb: District) -> None:
    (old,) = join(tb, LIN)
    fund(tb, LIN, 125)
    with tb.begin() as ctx, pytest.raises(UsageError, match="already a member"):
        accounts.join(ctx, ctx.settings["timebank"], LIN)
    # 林芳 moves into 划船社区: the register first, then the time bank
    from community365.db.schema import households, persons

    with tb.begin() as ctx:
        hh1 = ctx.connection.execute(select(households.c.id).where(households.c.code == HH1))
        ctx.connection.execute(
            persons.update().where(persons.c.id_number == LIN).values(household_id=hh1.scalar())
        )
    with tb.begin() as ctx, pytest.raises(UsageError, match="join with --move"):
        accounts.join(ctx, ctx.settings["timebank"], LIN)
    with tb.begin() as ctx:
        new = accounts.join(ctx, ctx.settings["timebank"], LIN, move=True)
    assert new.bank_code == COMMUNITY and new.balance == 125
    with tb.engine.connect() as conn:
        assert accounts.get(conn, old.id).status == "closed"
        assert accounts.get(conn, old.id).balance == 0
    assert account(tb, LIN).id == new.id
    ledger_holds(tb)


def test_a_closed_account_is_not_reopened(tb: District) -> None:
    join(tb, SHI_BO_ID)
    with tb.begin() as ctx:
        accounts.leave(ctx, SHI_BO_ID)
    with tb.begin() as ctx, pytest.raises(UsageError, match="not reopened"):
        accounts.join(ctx, ctx.settings["timebank"], SHI_BO_ID)
    assert account(tb, SHI_BO_ID).status == "closed"  # the ID number still finds it


# -- leaving and freezing ------------------------------------------------------------------------


def test_leave_needs_a_zero_balance_or_a_donation(tb: District) -> None:
    join(tb, SHI_ID)
    fund(tb, SHI_ID, 45)
    with tb.begin() as ctx, pytest.raises(ledger.LedgerError, match="give or donate"):
        accounts.leave(ctx, SHI_ID)
    assert account(tb, SHI_ID).status == "active"
    with tb.begin() as ctx:
        closed, donated = accounts.leave(ctx, SHI_ID, donate_rest=True)
    assert (closed.status, closed.balance, donated) == ("closed", 0, 45)
    assert balance(tb, f"pool:{COMMUNITY}") == 0  # -45 paid out, +45 donated back
    with tb.begin() as ctx, pytest.raises(UsageError, match="already closed"):
        accounts.leave(ctx, SHI_ID)
    with tb.begin() as ctx, pytest.raises(UsageError, match="bank's own pool"):
        accounts.leave(ctx, f"pool:{COMMUNITY}")
    ledger_holds(tb)


def test_an_overdrawn_member_cannot_leave(make_district: Callable[..., District]) -> None:
    district = world(make_district, new_member_overdraft_hours="1")
    join(district, SHI_ID)
    with district.begin() as ctx:
        giving.spend(ctx, ctx.settings["timebank"], SHI_ID, "pool", 30)
    with district.begin() as ctx, pytest.raises(ledger.LedgerError, match="-0:30 hours"):
        accounts.leave(ctx, SHI_ID, donate_rest=True)
    district.engine.dispose()


def test_a_frozen_account_neither_pays_nor_receives(tb: District) -> None:
    join(tb, SHI_ID)
    fund(tb, SHI_ID, 60)
    with tb.begin() as ctx:
        assert accounts.set_frozen(ctx, SHI_ID, True).status == "frozen"
    with tb.begin() as ctx, pytest.raises(ledger.LedgerError, match="is frozen"):
        giving.donate(ctx, SHI_ID, 15)
    with pytest.raises(ledger.LedgerError, match="is frozen"):
        fund(tb, SHI_ID, 15)
    with tb.begin() as ctx, pytest.raises(UsageError, match="is frozen, not active"):
        accounts.set_frozen(ctx, SHI_ID, True)
    with tb.begin() as ctx:
        assert accounts.set_frozen(ctx, SHI_ID, False).status == "active"
        giving.donate(ctx, SHI_ID, 15)
    assert balance(tb, SHI_ID) == 45
    with tb.begin() as ctx, pytest.raises(UsageError, match="is active, not frozen"):
        accounts.set_frozen(ctx, SHI_ID, False)


# -- teams ---------------------------------------------------------------------------------------


def test_a_team_joins_the_bank_of_its_duties_and_can_only_donate(tb: District) -> None:
    join(tb, WANG_ID)
    (team,) = join(tb, "T1")
    assert (team.kind, team.floor, team.bank_code) == ("team", 0, COMMUNITY)
    assert team.holder() == "划船志愿服务队 (T1)" and account(tb, "T1").id == team.id
    fund(tb, "T1", 120)
    with tb.begin() as ctx, pytest.raises(ledger.LedgerError, match="can only be donated"):
        giving.spend(ctx, ctx.settings["timebank"], "T1", "pool", 30)
    with tb.begin() as ctx, pytest.raises(ledger.LedgerError, match="can only be donated"):
        giving.gift(ctx, ctx.settings["timebank"], "T1", WANG_ID, 30)
    with tb.begin() as ctx:
        giving.donate(ctx, "T1", 120)
    assert balance(tb, "T1") == 0
    with tb.begin() as ctx, pytest.raises(UsageError, match="already has an account"):
        accounts.join_ref(ctx, ctx.settings["timebank"], "T1")
    ledger_holds(tb)


def test_a_team_without_duties_names_its_bank(tb: District) -> None:
    from community365.registry.handlers import HandlerRecord, add_handler

    with tb.begin() as ctx:
        add_handler(ctx.connection, HandlerRecord("T9", "七塔调解队", "team"))
    with tb.begin() as ctx, pytest.raises(UsageError, match="has no duty: give the bank"):
        accounts.join_ref(ctx, ctx.settings["timebank"], "T9")
    with tb.begin() as ctx:
        # any area at or below the community will do
        team = accounts.join_ref(ctx, ctx.settings["timebank"], "T9", bank_code=COMMUNITY2)
    assert team.bank_code == COMMUNITY2
    with tb.begin() as ctx, pytest.raises(UsageError, match="residents join by their ID"):
        accounts.join_team(ctx, ctx.settings["timebank"], "VA")


# -- finding -------------------------------------------------------------------------------------


def test_accounts_are_found_by_every_kind_of_reference(tb: District) -> None:
    member, volunteer = join(tb, SHI_ID, "VB")
    assert account(tb, SHI_ID).id == member.id
    assert account(tb, f"#{member.id}").id == member.id
    assert account(tb, "VB").id == volunteer.id == account(tb, CAI).id
    assert account(tb, f"pool:{COMMUNITY}").kind == "pool"
    for ref, message in (
        ("#999", "no time bank account #999"),
        (WANG_ID, "王翠娥 is not a member"),
        ("VC", "孙杰 (VC) is not a member"),
        ("T1", "team T1 has no time bank account"),
        ("V1", "not linked to a resident"),
        (f"pool:{COMMUNITY2}", "has no time bank yet"),
        ("pool:999", "no area"),
    ):
        with pytest.raises(NotFound, match=re.escape(message)):
            account(tb, ref)


def test_lists_and_masking(tb: District) -> None:
    join(tb, SHI_ID, LIN, "T1")
    with tb.engine.connect() as conn:
        every = accounts.list_accounts(conn)
        assert [a.kind for a in every] == ["pool", "member", "team", "pool", "member"]
        members = accounts.list_accounts(conn, bank_code=COMMUNITY, kind="member")
        assert [a.person_name for a in members] == ["史永康"]
        assert accounts.list_accounts(conn, status="closed") == []
    assert members[0].holder() == "史永康 330212********207X"
    assert members[0].holder(reveal=True) == f"史永康 {SHI_ID}"


# -- settings ------------------------------------------------------------------------------------


def test_hour_settings_are_whole_minutes() -> None:
    settings = TimebankSettings(daily_cap_hours=Decimal("7.25"), new_member_overdraft_hours=2)
    assert (settings.daily_cap_minutes, settings.overdraft_minutes) == (435, 120)
    assert settings.storage_cap_minutes == 90_000
    assert hours_to_minutes(Decimal("0.05"), "x") == 3
    for bad, message in (
        ({"daily_cap_hours": "0.01"}, "'daily_cap_hours': 0.01 hours is not a whole number"),
        ({"storage_cap_hours": "0"}, "'storage_cap_hours' must be more than 0"),
        ({"new_member_overdraft_hours": "-2"}, "must be 0 or more"),
        ({"payer": "neighbours"}, "plugins.timebank.payer"),
        ({"round_to_minutes": 0}, "'round_to_minutes' must be >= 1"),
        ({"coordinators": "王主任"}, "plugins.timebank.coordinators: expected a list"),
        ({"daily_cap_hours": "1e999999999"}, "'daily_cap_hours': 1E\\+999999999 hours is more"),
        ({"storage_cap_hours": "10000.25"}, "'storage_cap_hours': 10000.25 hours is more than"),
    ):
        with pytest.raises(ConfigError, match=message):
            structure(bad, TimebankSettings, "plugins.timebank")


def test_typed_hours_and_hour_settings_share_one_conversion() -> None:
    for text in ("1.25", "0:45", "10000", "007.5"):
        assert parse_hours(text) == hours_to_minutes(Decimal(text.replace(":", ".")), "x") or (
            text == "0:45" and parse_hours(text) == 45
        )
    assert parse_hours("10000:00") == 600_000
    for bad, message in (
        ("1e999999999", "expected hours such as 1.5 or 1:30"),
        ("1e3", "expected hours such as 1.5 or 1:30"),
        ("-1", "expected hours such as 1.5 or 1:30"),
        ("NaN", "expected hours such as 1.5 or 1:30"),
        ("1:60", "expected hours such as 1.5 or 1:30"),
        ("10000.25", "more than 10,000"),
        ("10000:15", "more than 10,000"),
        ("1.0000000000000000000000000000001", "not a whole number of minutes"),
    ):
        with pytest.raises(FieldError, match=message):
            parse_hours(bad)
    with pytest.raises(ValueError, match="not a whole number of minutes"):
        hours_to_minutes(Decimal("1e-999999999"), "x")


def test_threads_donating_at_once_on_sqlite_queue_for_the_write_lock(tb: District) -> None:
    """giving's functions take SQLite's write lock before their first read: a transaction
    that has read cannot wait for it, and would fail with "database is locked"."""
    if tb.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database lock")
    donors = (SHI_ID, SHI_BO_ID, YU, CAI)
    join(tb, *donors)
    for donor in donors:
        fund(tb, donor, 600)
    errors: list[str] = []
    barrier = threading.Barrier(len(donors))

    def work(donor: str) -> None:
        barrier.wait()
        for _ in range(15):
            try:
                with tb.begin() as ctx:
                    giving.donate(ctx, donor, 1, "一起捐")
            except Exception as exc:  # "database is locked" would land here
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=work, args=(donor,)) for donor in donors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [balance(tb, donor) for donor in donors] == [585] * len(donors)
    ledger_holds(tb)


def test_tables_and_migration_agree(tb: District) -> None:
    """The plugin's tables (with the columns and the family table added for earning and
    gifts) are what its migration creates."""
    with tb.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": conn.dialect.name == "postgresql",
                "include_name": lambda name, kind, _: kind != "table" or name.startswith("tb_"),
            },
        )
        assert compare_metadata(context, metadata) == []
