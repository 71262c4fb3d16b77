"""The rules that keep hours honest around the ledger: who may move whose hours, hours
of a case reworked or withdrawn, the daily cap on the day actually signed, overlapping
sign-ins, the overdraft, the storage cap on every credit, accounts that cannot close
while hours wait, and two writers opening one bank. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from community365.cli import cli
from community365.district import District
from community365.errors import UsageError
from community365_timebank import accounts, earning, family, giving, ledger
from community365_timebank.tables import accounts as account_rows
from community365_timebank.tables import banks

from . import tb_world
from .tb_world import CAI, COMMUNITY, SHI_ID, WANG_ID, YU, account, balance, desk, fund, join
from .test_earning import audits, records, served, verify

POOL = f"pool:{COMMUNITY}"
HOUR = dt.timedelta(hours=1)
UTC = dt.UTC


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = tb_world.world(make_district, pool_pays_from_age=65)
    yield district
    district.engine.dispose()


def as_(district: District, actor: str, call: Callable[..., object]) -> object:
    with district.begin() as ctx:
        ctx.actor = actor
        return call(ctx)


# -- a case reworked or withdrawn -------------------------------------------------------------


def test_hours_of_a_case_withdrawn_after_a_rework_are_set_aside(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    ref = served(office, SHI_ID, "VA", 60, close=False)
    office("reopen", ref, "没有修好")
    with pytest.raises(UsageError, match="is accepted: its hours wait until it is resolved"):
        verify(tb, ref)
    office("withdraw", ref, "居民不需要了")
    (row,) = records(tb)
    assert (row["status"], row["decided_by"], row["note"]) == (
        "rejected",
        "c365",
        "the case was withdrawn",
    )
    with pytest.raises(UsageError, match="already rejected by c365"):
        verify(tb, ref)
    assert audits(tb, "timebank.set_aside") == [(ref, "the case was withdrawn")]


def test_hours_of_a_case_rejected_after_a_rework_are_set_aside(tb: District) -> None:
    (joined,) = join(tb, "VA")
    office = desk(tb)
    ref = served(office, SHI_ID, "VA", 60, close=False)
    office("reopen", ref, "没有修好")
    office("transfer", ref, "改派", to="A1")
    office("reject", ref, "不属于社区服务范围")
    assert [(r["status"], r["note"]) for r in records(tb)] == [
        ("rejected", "the case was rejected")
    ]
    as_(tb, "tester", lambda ctx: accounts.leave(ctx, f"#{joined.id}"))  # nothing waits


def test_a_rework_finished_by_staff_sets_the_volunteers_hours_aside(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    ref = served(office, SHI_ID, "VA", 60, close=False)
    office("reopen", ref, "没有修好")
    office("transfer", ref, "改派工作人员", to="A1")
    office.as_("A1")("accept", ref)
    office.as_("A1")("resolve", ref, "工作人员处理完毕", 30)
    (row,) = records(tb)
    assert row["status"] == "rejected"
    assert row["note"] == "resolved again: A1 has no time-bank account"
    with pytest.raises(UsageError, match="already rejected"):
        verify(tb, ref)


def test_a_frozen_volunteers_service_waits_for_the_account(tb: District) -> None:
    join(tb, "VA")
    as_(tb, "协调员", lambda ctx: accounts.set_frozen(ctx, "VA", True))
    ref = served(desk(tb), SHI_ID, "VA", 60)
    assert [r["status"] for r in records(tb)] == ["pending"]
    with pytest.raises(UsageError, match="is frozen"):
        verify(tb, ref)
    as_(tb, "协调员", lambda ctx: accounts.set_frozen(ctx, "VA", False))
    assert verify(tb, ref).earned.minutes == 60


def test_a_service_without_time_is_not_recorded_and_says_why(tb: District) -> None:
    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", None)
    assert records(tb) == []
    assert audits(tb, "timebank.not_recorded") == [
        (ref, "0 minutes of service recorded, 15-minute steps")
    ]


# -- the day signed, and overlapping sign-ins ---------------------------------------------------


def _served_between(
    district: District,
    received: dt.datetime,
    resolved: dt.datetime,
    minutes: int,
    reporter: str = SHI_ID,
) -> str:
    office = desk(district)
    office.clock.now = received
    ref = tb_world.help_request(office, reporter, skill="理发")
    if office.case(ref).handler_code != "VA":
        office("transfer", ref, "志愿者认领", to="VA")
    office.as_("VA")("accept", ref)
    office.clock.now = resolved
    office.as_("VA")("resolve", ref, "已完成", minutes)
    return ref


def test_the_daily_cap_counts_the_day_signed_and_one_hour_is_paid_once(tb: District) -> None:
    join(tb, "VA")
    local = dt.timezone(dt.timedelta(hours=8))
    day = dt.datetime(2026, 11, 20, tzinfo=local)
    at = {h: day + dt.timedelta(hours=h) for h in (8, 9, 17, 17.5, 24.5)}
    first = _served_between(tb, at[8], at[17], 480)
    second = _served_between(tb, at[8] + dt.timedelta(minutes=5), at[24.5], 480)
    assert [r["served_on"] for r in records(tb)] == [dt.date(2026, 11, 20), dt.date(2026, 11, 21)]
    assert verify(tb, first, signed_in=at[9], signed_out=at[17]).earned.minutes == 480
    with pytest.raises(UsageError, match=f"overlaps the signed time of case {first}"):
        verify(tb, second, signed_in=at[9], signed_out=at[17])
    with pytest.raises(UsageError, match="daily cap of 8:00 is reached on 2026-11-20"):
        verify(tb, second, signed_in=at[17.5], signed_out=at[24.5])
    assert balance(tb, "VA") == 480  # refusals wrote nothing
    done = verify(tb, second)  # no times: the day resolved, with its own cap
    assert (done.earned.minutes, done.pending.served_on) == (480, dt.date(2026, 11, 21))


def test_the_payer_is_chosen_for_the_hours_left_under_the_cap(
    make_district: Callable[..., District],
) -> None:
    district = tb_world.world(make_district, pool_pays_from_age=70, daily_cap_hours="3")
    join(district, "VA", CAI)
    fund(district, CAI, 30)  # 蔡梅 (68: not a priority elder) holds 0:30
    local = dt.timezone(dt.timedelta(hours=8))
    day = dt.datetime(2026, 11, 20, 8, tzinfo=local)
    first = _served_between(district, day, day + dt.timedelta(hours=3), 150)
    verify(district, first)  # 2:30 of the 3:00 of 20 Nov, paid by the pool for 史永康 (70)
    second = _served_between(
        district, day + dt.timedelta(hours=4), day + dt.timedelta(days=1), 60, reporter=CAI
    )
    signed_in = day + dt.timedelta(hours=5)
    done = verify(district, second, signed_in=signed_in, signed_out=signed_in + HOUR)
    assert (done.earned.minutes, done.earned.from_account) == (30, account(district, CAI).id)
    assert balance(district, CAI) == 0
    district.engine.dispose()


def test_the_cap_left_on_a_day_limits_a_late_verification(
    make_district: Callable[..., District],
) -> None:
    district = tb_world.world(make_district, pool_pays_from_age=65, daily_cap_hours="2")
    join(district, "VA")
    office = desk(district)
    first = served(office, SHI_ID, "VA", 90)
    second = served(office, WANG_ID, "VA", 60)
    assert [r["minutes"] for r in records(district)] == [90, 30]  # 2:00 between them
    as_(district, "协调员", lambda ctx: earning.reject(ctx, first, "签到不符"))
    assert verify(district, second).earned.minutes == 30  # recorded as 0:30, never more
    district.engine.dispose()


# -- who may move whose hours -------------------------------------------------------------------


@pytest.fixture
def guarded(make_district: Callable[..., District]) -> Iterator[District]:
    district = tb_world.world(make_district, pool_pays_from_age=65, coordinators=["王主任"])
    join(district, "VA", SHI_ID)
    fund(district, SHI_ID, 120)
    fund(district, "VA", 60)
    yield district
    district.engine.dispose()


def test_only_the_holder_or_a_coordinator_moves_hours(guarded: District) -> None:
    settings = guarded.settings["timebank"]
    spend = lambda ctx: giving.spend(ctx, settings, SHI_ID, "VA", 30)  # noqa: E731
    with pytest.raises(UsageError, match=r"VA may not spend from account #\d+: only its holder"):
        as_(guarded, "VA", spend)  # a volunteer cannot pay themselves from an elder's hours
    as_(guarded, SHI_ID, spend)  # the elder, by ID number
    as_(guarded, "王主任", spend)  # a coordinator
    with pytest.raises(UsageError, match="may not donate from"):
        as_(guarded, "VB", lambda ctx: giving.donate(ctx, "VA", 15))
    as_(guarded, "VA", lambda ctx: giving.donate(ctx, "VA", 15))  # the volunteer's own code
    with pytest.raises(UsageError, match="may not donate from"):
        as_(guarded, "俞青", lambda ctx: giving.donate(ctx, "VA", 15))  # a name: names repeat
    as_(guarded, "王主任", lambda ctx: giving.donate(ctx, "VA", 15))
    with pytest.raises(UsageError, match="may not close"):
        as_(guarded, "VB", lambda ctx: accounts.leave(ctx, "VA", donate_rest=True))
    assert (balance(guarded, SHI_ID), balance(guarded, "VA")) == (60, 90)


@pytest.mark.parametrize(
    "step",
    [
        lambda ctx: accounts.set_frozen(ctx, "VA", True),
        lambda ctx: earning.reverse_transfer(ctx, 1, "录入错误"),
    ],
)
def test_freezing_and_reversing_take_a_coordinator(
    guarded: District, step: Callable[..., object]
) -> None:
    with pytest.raises(UsageError, match=r"VA may not .*plugins\.timebank\.coordinators: 王主任"):
        as_(guarded, "VA", step)
    as_(guarded, "王主任", step)


def test_rejecting_hours_takes_a_coordinator(guarded: District) -> None:
    ref = served(desk(guarded), WANG_ID, "VA", 30)
    with pytest.raises(UsageError, match="may not reject hours"):
        as_(guarded, SHI_ID, lambda ctx: earning.reject(ctx, ref, "不认可"))
    as_(guarded, "王主任", lambda ctx: earning.reject(ctx, ref, "不认可"))


def test_the_cli_refuses_an_outsider_in_one_line(guarded: District) -> None:
    result = CliRunner().invoke(
        cli,
        ["--district", str(guarded.root), "--as", "VA", "timebank", "transfer", SHI_ID, "VA", "3"],
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: VA may not spend from account #")
    assert result.output.count("\n") == 1
    assert balance(guarded, SHI_ID) == 120


# -- the overdraft, the storage cap -------------------------------------------------------------


def test_an_overdraft_is_for_ones_own_help_and_closes_as_one_earns(
    make_district: Callable[..., District],
) -> None:
    district = tb_world.world(make_district, pool_pays_from_age=65, new_member_overdraft_hours="1")
    join(district, "VA", "VB")  # 俞青 (36) and 蔡梅 (68)
    settings = district.settings["timebank"]
    with pytest.raises(ledger.LedgerError, match="would take it below 0:00"):
        as_(district, "tester", lambda ctx: giving.donate(ctx, "VA", 15))
    as_(district, "tester", lambda ctx: giving.spend(ctx, settings, "VB", "pool", 30))
    assert (balance(district, "VB"), account(district, "VB").floor) == (-30, -60)
    verify(district, served(desk(district), SHI_ID, "VB", 60))
    assert (balance(district, "VB"), account(district, "VB").floor) == (30, -30)
    as_(district, "tester", lambda ctx: giving.spend(ctx, settings, "VB", "pool", 60))
    with pytest.raises(ledger.LedgerError, match="below -0:30"):
        as_(district, "tester", lambda ctx: giving.spend(ctx, settings, "VB", "pool", 15))
    verify(district, served(desk(district), WANG_ID, "VB", 45))
    assert (balance(district, "VB"), account(district, "VB").floor) == (15, -30)
    verify(district, served(desk(district), WANG_ID, "VB", 15))
    assert (balance(district, "VB"), account(district, "VB").floor) == (30, 0)
    district.engine.dispose()


def test_the_storage_cap_holds_for_payments_and_gifts_too(
    make_district: Callable[..., District],
) -> None:
    district = tb_world.world(make_district, pool_pays_from_age=65, storage_cap_hours="2")
    join(district, "VA", "VB", SHI_ID)
    fund(district, SHI_ID, 120)
    fund(district, "VA", 100)
    fund(district, "VB", 90)
    settings = district.settings["timebank"]
    made = as_(district, "tester", lambda ctx: giving.spend(ctx, settings, SHI_ID, "VA", 60))
    assert [(t.kind, t.minutes) for t in made] == [("spend", 60), ("surplus", 40)]
    with district.begin() as ctx:
        family.add_tie(ctx, YU, CAI, "parent")  # 俞青's mother 蔡梅 (68)
    made = as_(district, "tester", lambda ctx: giving.gift(ctx, settings, "VA", "VB", 60))
    assert [(t.kind, t.minutes) for t in made] == [("gift", 60), ("surplus", 30)]
    assert (balance(district, "VA"), balance(district, "VB")) == (60, 120)
    assert balance(district, POOL) == -(120 + 100 + 90) + 40 + 30
    tb_world.ledger_holds(district)
    district.engine.dispose()


# -- accounts that cannot close yet, ids out of range -------------------------------------------


def test_a_move_keeps_an_overdraft_closed_by_earning_closed(
    make_district: Callable[..., District],
) -> None:
    district = tb_world.world(
        make_district, pool_pays_from_age=65, new_member_overdraft_hours="0.5"
    )
    join(district, "VB")  # 蔡梅, floor -0:30
    verify(district, served(desk(district), SHI_ID, "VB", 30))
    assert account(district, "VB").floor == 0
    _move_home(district, CAI, "330212001002")
    with district.begin() as ctx:
        moved = accounts.join_ref(ctx, ctx.settings["timebank"], CAI, move=True)
    assert (moved.bank_code, moved.balance, moved.floor) == ("330212001002", 30, 0)
    district.engine.dispose()


def _move_home(district: District, id_number: str, community: str) -> None:
    from community365.db.schema import areas, households, persons

    with district.begin() as ctx:
        conn = ctx.connection
        home = (
            conn.execute(
                select(households.c.id)
                .join(areas, areas.c.id == households.c.area_id)
                .where(areas.c.code.startswith(community))
            )
            .scalars()
            .first()
        )
        conn.execute(
            persons.update().where(persons.c.id_number == id_number).values(household_id=home)
        )


def test_no_leaving_or_moving_while_hours_wait(tb: District) -> None:
    (joined,) = join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 60)
    with pytest.raises(UsageError, match=f"waiting for verification \\(cases {ref}\\)"):
        as_(tb, "tester", lambda ctx: accounts.leave(ctx, "VA"))
    verify(tb, ref)
    as_(tb, "tester", lambda ctx: accounts.leave(ctx, "VA", donate_rest=True))
    assert account(tb, f"#{joined.id}").status == "closed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reverse", "99999999999999999999", "--reason", "x"), "Invalid value for 'TRANSFER'"),
        (("balance", "#99999999999999999999"), "no time bank account #99999999999999999999"),
        (("balance", "#3000000000"), "no time bank account #3000000000"),
    ],
)
def test_ids_out_of_range_name_nothing(tb: District, args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, ["--district", str(tb.root), "timebank", *args])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") <= 4 and message in result.output, result.output


# -- two writers opening one bank ---------------------------------------------------------------


def test_two_first_members_at_once_share_one_new_bank(tb: District, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite writers queue for the write lock")
    with tb.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(banks)).scalar_one() == 0
    opened: list[int] = []
    first_in = threading.Event()

    def first() -> None:
        with tb.begin() as ctx:
            opened.append(ledger.open_bank(ctx, _area_id(tb)))
            first_in.set()
            time.sleep(0.5)  # the second writer meets the uncommitted bank meanwhile

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with tb.begin() as ctx:
        opened.append(ledger.open_bank(ctx, _area_id(tb)))
    thread.join()
    assert opened[0] == opened[1]
    with tb.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(banks)).scalar_one() == 1
        pools = select(func.count()).where(account_rows.c.kind == "pool")
        assert conn.execute(pools.select_from(account_rows)).scalar_one() == 1


def _area_id(district: District) -> int:
    from community365.db.schema import areas

    with district.engine.connect() as conn:
        return conn.execute(select(areas.c.id).where(areas.c.code == COMMUNITY)).scalar_one()
