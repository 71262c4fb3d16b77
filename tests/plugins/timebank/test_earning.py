"""Earning through the case pipeline (pending on resolve, verification, rejection, caps),
and spending, gifts and donations. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from cases_fixtures import HH1, HH2, Desk
from sqlalchemy import func, select

from community365.db.schema import audit_log
from community365.district import District
from community365.errors import NotFound, UsageError
from community365_timebank import earning, family, giving, ledger
from community365_timebank.tables import pending, transfers

from . import tb_world
from .tb_world import (
    COMMUNITY,
    LIN,
    SHI_BO_ID,
    SHI_ID,
    WANG_ID,
    account,
    balance,
    desk,
    fund,
    help_request,
    join,
    ledger_holds,
)

POOL = f"pool:{COMMUNITY}"


def world(make_district: Callable[..., District], **settings: object) -> District:
    """tb_world's district where 史永康 and 王翠娥 (70) count as priority elders, so the
    pool pays for them (the default, 80, is tested on its own below)."""
    settings.setdefault("pool_pays_from_age", 65)
    return tb_world.world(make_district, **settings)


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = world(make_district)
    yield district
    district.engine.dispose()


def served(
    office: Desk,
    reporter: str,
    volunteer: str,
    minutes: int | None,
    *,
    skill: str | None = "理发",
    service: str = "timebank.help",
    close: bool = True,
) -> str:
    """A request from ``reporter`` served by ``volunteer`` for ``minutes``: the case is
    passed to them if routing chose someone else, accepted and resolved (then closed)."""
    ref = help_request(office, reporter, skill=skill, service=service)
    if office.case(ref).handler_code != volunteer:
        office("transfer", ref, "志愿者认领", to=volunteer)
    they = office.as_(volunteer)
    they("accept", ref)
    they("resolve", ref, "已完成", minutes)
    if close:
        office("close", ref)
    return ref


def records(district: District) -> list[dict]:
    with district.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(pending).order_by(pending.c.id)).mappings()]


def transfer_count(district: District) -> int:
    with district.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(transfers)).scalar_one()


def audits(district: District, action: str) -> list[tuple[str, str]]:
    with district.engine.connect() as conn:
        return [
            (r.subject, r.detail)
            for r in conn.execute(
                select(audit_log.c.subject, audit_log.c.detail)
                .where(audit_log.c.action == action)
                .order_by(audit_log.c.id)
            )
        ]


def verify(district: District, ref: str, actor: str = "协调员", **kw) -> earning.Verified:
    with district.begin() as ctx:
        ctx.actor = actor
        return earning.verify(ctx, ctx.settings["timebank"], ref, **kw)


# -- recording on resolve ------------------------------------------------------------------------


def test_resolution_records_rounded_minutes_as_pending(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    ref = served(office, SHI_ID, "VA", 50)
    (row,) = records(tb)
    assert (row["case_ref"], row["minutes"], row["claimed_minutes"], row["status"]) == (
        ref,
        45,
        50,
        "pending",
    )
    assert row["volunteer_account"] == account(tb, "VA").id
    assert row["payer_account"] == account(tb, POOL).id  # 史永康 is not a member
    assert row["served_on"] == dt.date(2026, 11, 25) and row["recipient_id"] is not None
    assert transfer_count(tb) == 0  # nothing moves before verification
    assert audits(tb, "timebank.pending") == [
        (ref, f"0:45 for #{row['volunteer_account']}, to be paid by #{row['payer_account']}")
    ]


@pytest.mark.parametrize(("spent", "recorded"), [(7, None), (8, 15), (22, 15), (23, 30)])
def test_rounding_to_the_nearest_quarter_hour(
    tb: District, spent: int, recorded: int | None
) -> None:
    join(tb, "VA")
    served(desk(tb), SHI_ID, "VA", spent)
    assert [r["minutes"] for r in records(tb)] == ([recorded] if recorded else [])


def test_nothing_is_recorded_for_non_members_staff_or_other_services(tb: District) -> None:
    office = desk(tb)
    join(tb, "VA")
    served(office, SHI_ID, "VB", 60)  # VB is a volunteer, but not a member
    served(office, WANG_ID, "A1", 60)  # staff
    served(office, SHI_BO_ID, "VA", None)  # no time given
    ref = office.submit("楼道路灯坏了", service="repair").case.ref  # not a time-bank service
    office("transfer", ref, "志愿者认领", to="VA")
    office.as_("VA")("accept", ref)
    office.as_("VA")("resolve", ref, "修好了", 60)
    assert records(tb) == []


def test_helping_oneself_earns_nothing(tb: District) -> None:
    from .tb_world import YU

    join(tb, "VA")
    served(desk(tb), YU, "VA", 60)  # 俞青 asks, and then serves herself
    assert records(tb) == []
    assert [d for _, d in audits(tb, "timebank.not_recorded")] == [
        "the volunteer helped themselves"
    ]


def test_daily_cap_per_member_and_local_day(make_district: Callable[..., District]) -> None:
    district = world(make_district, daily_cap_hours="2")
    join(district, "VA")
    office = desk(district)
    for reporter, minutes in ((SHI_ID, 60), (WANG_ID, 45), (SHI_BO_ID, 60), (LIN, 30)):
        served(office, reporter, "VA", minutes)
    assert [r["minutes"] for r in records(district)] == [60, 45, 15]
    assert (
        "daily cap of 2:00 reached on 2026-11-25" in audits(district, "timebank.not_recorded")[0][1]
    )
    # 15:00 UTC is 23:00 local, still the 25th; 16:00 UTC is the 26th
    office.clock.now = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    served(office, SHI_ID, "VA", 30)
    office.clock.now = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)
    served(office, WANG_ID, "VA", 150)
    assert [r["minutes"] for r in records(district)] == [60, 45, 15, 120]
    assert records(district)[-1]["served_on"] == dt.date(2026, 11, 26)
    district.engine.dispose()


def test_a_rework_updates_pending_hours_but_never_pays_twice(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    ref = served(office, SHI_ID, "VA", 30, close=False)
    office("reopen", ref, "没有剪完")
    with pytest.raises(UsageError, match="is accepted: its hours wait until it is resolved"):
        verify(tb, ref)
    office.as_("VA")("resolve", ref, "剪完了", 60)
    assert [r["minutes"] for r in records(tb)] == [60]
    verify(tb, ref)
    office("reopen", ref, "再修一下")
    office.as_("VA")("resolve", ref, "好了", 90)
    (row,) = records(tb)
    assert (row["minutes"], row["status"]) == (60, "verified")
    assert balance(tb, "VA") == 60


# -- who pays ------------------------------------------------------------------------------------


def test_an_elder_member_with_hours_pays_for_their_own_help(tb: District) -> None:
    join(tb, "VA", SHI_ID)
    fund(tb, SHI_ID, 120)
    ref = served(desk(tb), SHI_ID, "VA", 60)
    assert records(tb)[0]["payer_account"] == account(tb, SHI_ID).id
    done = verify(tb, ref, actor=SHI_ID, as_="recipient")
    assert (done.earned.kind, done.earned.from_account) == ("earn", account(tb, SHI_ID).id)
    assert (balance(tb, SHI_ID), balance(tb, "VA")) == (60, 60)
    assert done.pending.verified_as == "recipient" and done.pending.transfer_id == done.earned.id
    ledger_holds(tb)


@pytest.mark.parametrize(
    ("who", "funds", "settings"),
    [
        (SHI_BO_ID, 600, {"pool_pays_for_tags": ["重点服务对象"]}),  # 41, but tagged below
        (SHI_ID, 30, {}),  # old enough, but short of the hours
        (SHI_ID, 600, {"payer": "pool"}),  # the district's rule: the pool always pays
    ],
)
def test_otherwise_the_pool_pays(
    make_district: Callable[..., District], who: str, funds: int, settings: dict
) -> None:
    district = world(make_district, **settings)
    join(district, "VA", who)
    fund(district, who, funds)
    tag(district, SHI_BO_ID, "重点服务对象")
    served(desk(district), who, "VA", 60)
    assert records(district)[0]["payer_account"] == account(district, POOL).id
    district.engine.dispose()


def tag(district: District, who: str, name: str) -> None:
    from community365.registry.people import get_person
    from community365.registry.tags import tag_person

    with district.begin() as ctx:
        tag_person(ctx.connection, get_person(ctx.connection, who), [name])


def test_the_pool_pays_only_for_priority_elders(make_district: Callable[..., District]) -> None:
    district = tb_world.world(make_district)  # the defaults: 重点服务对象, 独居, 特困; aged 80+
    join(district, "VA", SHI_BO_ID)
    fund(district, SHI_BO_ID, 600)
    office = desk(district)
    ref = served(office, SHI_ID, "VA", 60)  # 史永康, 70, not a member, no tag
    (row,) = records(district)
    assert (row["status"], row["payer_account"]) == ("pending", None)  # nobody pays yet
    assert "史永康 is neither a member paying their own help (not a member)" in row["note"]
    with pytest.raises(UsageError, match=f"case {ref}: nobody pays these hours: 史永康 is"):
        verify(district, ref)
    assert records(district)[0]["status"] == "pending" and transfer_count(district) == 1  # fund
    young = served(office, SHI_BO_ID, "VA", 30)  # a member with hours, but 41
    with pytest.raises(UsageError, match=r"\(41, own use from 60\)"):
        verify(district, young)
    tag(district, SHI_ID, "独居")  # now a priority elder: the pool pays
    done = verify(district, ref)
    assert done.earned.from_account == account(district, POOL).id
    assert done.pending.payer_account == account(district, POOL).id
    district.engine.dispose()


def test_the_pool_pays_when_the_recipient_can_no_longer(tb: District) -> None:
    join(tb, "VA", SHI_ID)
    fund(tb, SHI_ID, 60)
    ref = served(desk(tb), SHI_ID, "VA", 60)
    with tb.begin() as ctx:
        giving.donate(ctx, SHI_ID, 30)  # spent meanwhile
    assert records(tb)[0]["payer_account"] == account(tb, SHI_ID).id
    done = verify(tb, ref)
    assert done.earned.from_account == account(tb, POOL).id
    assert balance(tb, SHI_ID) == 30
    # the stored payer follows the transfer: it is the pool now
    assert records(tb)[0]["payer_account"] == account(tb, POOL).id == done.pending.payer_account


# -- verification --------------------------------------------------------------------------------


def test_coordinator_sign_off_makes_the_transfer(tb: District) -> None:
    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 45)
    done = verify(tb, ref, note="电话回访确认")
    assert (done.earned.kind, done.earned.minutes, done.earned.case_ref) == ("earn", 45, ref)
    assert done.surplus is None
    row = records(tb)[0]
    assert (row["status"], row["decided_by"], row["verified_as"], row["note"]) == (
        "verified",
        "协调员",
        "coordinator",
        "电话回访确认",
    )
    assert (balance(tb, "VA"), balance(tb, POOL)) == (45, -45)
    with pytest.raises(UsageError, match="already verified by 协调员"):
        verify(tb, ref)
    with pytest.raises(NotFound, match="no time-bank hours recorded for case 2026-999999"):
        verify(tb, "2026-999999")
    ledger_holds(tb)


def test_the_volunteer_never_verifies_their_own_hours(tb: District) -> None:
    from .tb_world import YU

    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 45)
    for actor in ("VA", "俞青", YU, YU.lower(), f"{HH2}/俞青"):  # code, name, ID, household
        for as_ in ("coordinator", "recipient"):
            with pytest.raises(UsageError, match="does not verify their own hours"):
                verify(tb, ref, actor=actor, as_=as_)
    assert records(tb)[0]["status"] == "pending" and transfer_count(tb) == 0


def test_only_the_recipient_confirms(make_district: Callable[..., District]) -> None:
    district = world(make_district, coordinators=["王主任"])
    join(district, "VA")
    office = desk(district)
    ref = served(office, SHI_ID, "VA", 45)
    for actor in ("协调员", "王主任", "史永康", WANG_ID, "VB"):  # not him (a bare name neither)
        with pytest.raises(UsageError, match="only the recipient confirms their help"):
            verify(district, ref, actor=actor, as_="recipient")
    done = verify(district, ref, actor=f"{HH1}/史永康", as_="recipient")
    assert (done.pending.verified_as, done.pending.decided_by) == ("recipient", f"{HH1}/史永康")
    other = served(office, WANG_ID, "VA", 30)
    assert verify(district, other, actor=WANG_ID, as_="recipient").earned.minutes == 30
    district.engine.dispose()


def test_only_named_coordinators_sign_off(make_district: Callable[..., District]) -> None:
    district = world(make_district, coordinators=["王主任"])
    join(district, "VA")
    ref = served(desk(district), SHI_ID, "VA", 45)
    with pytest.raises(UsageError, match="协调员 may not sign off hours: a coordinator"):
        verify(district, ref)
    verify(district, ref, actor="王主任")
    district.engine.dispose()


def test_a_recipient_confirms_only_when_registered(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    ref = office.submit(
        "想请志愿者帮忙理发",
        service="timebank.help",
        contact="路人 13800000000",
        household_code=HH1,
    )
    ref = ref.case.ref
    assert office.case(ref).handler_code == "VA"  # matched: VA lives in the same building
    office.as_("VA")("accept", ref)
    office.as_("VA")("resolve", ref, "好了", 30)
    with pytest.raises(UsageError, match="no registered recipient: a coordinator"):
        verify(tb, ref, as_="recipient")
    with pytest.raises(UsageError, match="no registered recipient to pay or qualify"):
        verify(tb, ref)  # nobody is known to pay: it stays pending (or the pool always pays)


def test_sign_in_and_out_lie_within_the_case_and_cap_the_credit(tb: District) -> None:
    join(tb, "VA")
    office = desk(tb)
    start = dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)  # received at 08:00 local
    end = start + dt.timedelta(hours=2)  # resolved at 10:00 local
    office.clock.now = start
    ref = help_request(office, SHI_ID, skill="理发")
    if office.case(ref).handler_code != "VA":
        office("transfer", ref, "志愿者认领", to="VA")
    office.as_("VA")("accept", ref)
    office.clock.now = end
    office.as_("VA")("resolve", ref, "已完成", 90)
    minute = dt.timedelta(minutes=1)
    for signed_in, signed_out, message in (
        (start, None, "both the sign-in and the sign-out"),
        (start, start, "must be after the sign-in"),
        (start, start - 60 * minute, "must be after the sign-in"),
        (start - minute, start + 60 * minute, "before the request was received"),
        (start + 60 * minute, end + minute, "after the case was resolved"),
        (start, start + 5 * minute, "bracket no time once rounded"),
        (start.replace(year=1999), start, "sign-in: 1999-11-25 is outside 2000-2100"),
    ):
        with pytest.raises(UsageError, match=message):
            verify(tb, ref, signed_in=signed_in, signed_out=signed_out)
    signed_in, signed_out = start + 10 * minute, start + 72 * minute
    done = verify(tb, ref, signed_in=signed_in, signed_out=signed_out)
    assert done.earned.minutes == 60  # 62 minutes signed, rounded: less than the 90 claimed
    row = records(tb)[0]
    assert (row["minutes"], row["signed_in"], row["signed_out"]) == (60, signed_in, signed_out)


def test_above_the_storage_cap_the_surplus_goes_to_the_pool(
    make_district: Callable[..., District],
) -> None:
    district = world(make_district, storage_cap_hours="10")
    join(district, "VA")
    fund(district, "VA", 9 * 60 + 30)
    ref = served(desk(district), SHI_ID, "VA", 60)
    done = verify(district, ref)
    assert done.surplus is not None
    assert (done.surplus.kind, done.surplus.minutes, done.surplus.case_ref) == ("surplus", 30, ref)
    assert (done.surplus.from_account, done.surplus.to_account) == (
        account(district, "VA").id,
        account(district, POOL).id,
    )
    assert balance(district, "VA") == 600
    ledger_holds(district)
    district.engine.dispose()


def test_reversing_an_earning_undoes_its_surplus_and_frees_the_day(
    make_district: Callable[..., District],
) -> None:
    district = world(make_district, storage_cap_hours="10", daily_cap_hours="2")
    join(district, "VA")
    fund(district, "VA", 9 * 60 + 30)
    office = desk(district)
    ref = served(office, SHI_ID, "VA", 120)
    done = verify(district, ref)
    assert done.surplus is not None and done.surplus.minutes == 90
    assert (balance(district, "VA"), balance(district, POOL)) == (600, -600)
    with district.begin() as ctx:
        ctx.actor = "协调员"
        undone = earning.reverse_transfer(ctx, done.earned.id, "核实有误")  # as `reverse` will
    assert sorted(t.reverses for t in undone) == sorted([done.earned.id, done.surplus.id])
    assert all(t.kind == "reverse" for t in undone)
    # the volunteer holds what they held before, the pool too
    assert (balance(district, "VA"), balance(district, POOL)) == (570, -570)
    row = records(district)[0]
    assert (
        row["status"] == "reversed" and "冲正 reversed" in row["note"] and "核实有误" in row["note"]
    )
    with district.engine.connect() as conn:
        assert earning.get_pending(conn, ref).status == "reversed"
    with district.begin() as ctx, pytest.raises(UsageError, match="already reversed"):
        earning.reverse_earning(ctx, ref, "again")
    with district.begin() as ctx, pytest.raises(UsageError, match="already reversed"):
        earning.reverse_transfer(ctx, done.surplus.id, "again")
    # a reversed earning no longer fills the day: 2:00 more may be recorded
    served(office, WANG_ID, "VA", 120)
    assert records(district)[-1]["minutes"] == 120
    ledger_holds(district)
    district.engine.dispose()


def test_an_earning_already_spent_is_not_reversed(tb: District) -> None:
    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 60)
    verify(tb, ref)
    with tb.begin() as ctx:
        giving.donate(ctx, "VA", 30)
    with tb.begin() as ctx, pytest.raises(ledger.LedgerError, match="below 0:00"):
        earning.reverse_earning(ctx, ref, "核实有误")
    row = records(tb)[0]
    assert balance(tb, "VA") == 30 and "reversed" not in row["note"]
    assert row["status"] == "verified"
    with tb.begin() as ctx, pytest.raises(UsageError, match="only verified hours are reversed"):
        earning.reverse_earning(ctx, served(desk(tb), WANG_ID, "VA", 30), "x")


def test_concurrent_verifications_on_sqlite(make_district: Callable[..., District]) -> None:
    import threading

    district = world(make_district, payer="pool")
    if district.engine.dialect.name != "sqlite":
        district.engine.dispose()
        pytest.skip("SQLite: a deferred transaction that read cannot wait for the write lock")
    join(district, "VA", "VB", "VC")
    office = desk(district)
    refs = [
        served(office, reporter, volunteer, 30)
        for volunteer in ("VA", "VB", "VC")
        for reporter in (SHI_ID, WANG_ID, SHI_BO_ID)
    ]
    start = threading.Barrier(len(refs))
    errors: list[str] = []

    def work(ref: str) -> None:
        start.wait()
        try:
            verify(district, ref)
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r["status"] for r in records(district)] == ["verified"] * len(refs)
    assert balance(district, POOL) == -30 * len(refs)
    ledger_holds(district)
    district.engine.dispose()


def test_rejection_closes_the_record_without_a_transfer(tb: District) -> None:
    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 60)
    with tb.begin() as ctx, pytest.raises(UsageError, match="needs a reason"):
        earning.reject(ctx, ref, " ")
    with tb.begin() as ctx:
        ctx.actor = "协调员"
        record = earning.reject(ctx, ref, "签到记录不符")
    assert (record.status, record.note, record.transfer_id) == ("rejected", "签到记录不符", None)
    assert transfer_count(tb) == 0
    with pytest.raises(UsageError, match="already rejected"):
        verify(tb, ref)


def test_a_team_earns_and_donates(tb: District) -> None:
    join(tb, "T1")
    ref = served(desk(tb), SHI_ID, "T1", 120, skill="陪护", service="timebank.escort")
    verify(tb, ref)
    assert balance(tb, "T1") == 120
    with tb.begin() as ctx:
        giving.donate(ctx, "T1", 120, "全部捐给公共池")
    assert (balance(tb, "T1"), balance(tb, POOL)) == (0, 0)


def test_a_team_of_two_banks_earns_in_the_bank_of_the_work(tb: District) -> None:
    from community365_timebank import accounts

    (here,) = join(tb, "T1")
    with tb.begin() as ctx:
        there = accounts.join_ref(ctx, ctx.settings["timebank"], "T1", bank_code="330212001002")
    served(desk(tb), SHI_ID, "T1", 60, skill="陪护", service="timebank.escort")
    assert records(tb)[0]["volunteer_account"] == here.id != there.id
    with pytest.raises(UsageError, match="has accounts in several banks"):
        account(tb, "T1")


def test_a_frozen_volunteer_is_not_credited(tb: District) -> None:
    from community365_timebank import accounts

    join(tb, "VA")
    ref = served(desk(tb), SHI_ID, "VA", 60)
    with tb.begin() as ctx:
        accounts.set_frozen(ctx, "VA", True)
    with pytest.raises(ledger.LedgerError, match="is frozen"):
        verify(tb, ref)
    assert records(tb)[0]["status"] == "pending"  # the claim was rolled back with the rest


# -- spending, gifts, donations ------------------------------------------------------------------


def spend(district: District, payer: str, payee: str, minutes: int) -> list[ledger.Transfer]:
    with district.begin() as ctx:
        return giving.spend(ctx, ctx.settings["timebank"], payer, payee, minutes)


def gift(district: District, giver: str, relative: str, minutes: int) -> list[ledger.Transfer]:
    with district.begin() as ctx:
        return giving.gift(ctx, ctx.settings["timebank"], giver, relative, minutes)


def tie(district: District, person: str, relative: str, relation: str) -> None:
    with district.begin() as ctx:
        family.add_tie(ctx, person, relative, relation)


def test_own_use_from_the_age_in_settings(tb: District) -> None:
    join(tb, SHI_ID, SHI_BO_ID, "VA")
    fund(tb, SHI_ID, 60)
    fund(tb, SHI_BO_ID, 60)
    (made,) = spend(tb, SHI_ID, "VA", 45)
    assert (made.kind, balance(tb, SHI_ID), balance(tb, "VA")) == ("spend", 15, 45)
    with pytest.raises(
        ledger.LedgerError, match=r"史波 \(age 41\) may use their own hours from 60"
    ):
        spend(tb, SHI_BO_ID, "VA", 15)
    with pytest.raises(ledger.LedgerError, match="would take it below 0:00"):
        spend(tb, SHI_ID, "pool", 30)
    spend(tb, SHI_ID, "pool", 15)
    with pytest.raises(ledger.LedgerError, match="is a pool account"):
        spend(tb, SHI_ID, POOL, 1)
    ledger_holds(tb)


def test_gifts_go_to_recorded_relatives_aged_60_or_more(tb: District) -> None:
    from .tb_world import CAI

    join(tb, SHI_ID, WANG_ID, SHI_BO_ID, "VB")
    fund(tb, SHI_BO_ID, 180)
    with pytest.raises(ledger.LedgerError, match="is not recorded as 史波's spouse"):
        gift(tb, SHI_BO_ID, SHI_ID, 60)
    tie(tb, SHI_BO_ID, SHI_ID, "父亲")  # 史永康 is 史波's father
    (made,) = gift(tb, SHI_BO_ID, SHI_ID, 60)
    assert (made.kind, made.memo) == ("gift", "赠父母 gift to parent")
    with pytest.raises(ledger.LedgerError, match="not recorded"):
        gift(tb, SHI_ID, SHI_BO_ID, 30)  # a parent is not the child's parent
    tie(tb, SHI_ID, WANG_ID, "spouse")
    fund(tb, WANG_ID, 60)
    gift(tb, WANG_ID, SHI_ID, 30)  # a spouse recorded either way round counts both ways
    tie(tb, SHI_BO_ID, CAI, "grandparent")  # pretend: 蔡梅 is 68, a young grandmother
    gift(tb, SHI_BO_ID, "VB", 30)
    assert (balance(tb, SHI_ID), balance(tb, SHI_BO_ID), balance(tb, "VB")) == (90, 90, 30)
    ledger_holds(tb)


def test_gift_age_and_recorded_ties(make_district: Callable[..., District]) -> None:
    district = world(make_district, family_min_age=75)
    join(district, SHI_ID, SHI_BO_ID)
    tie(district, SHI_BO_ID, SHI_ID, "parent")
    fund(district, SHI_BO_ID, 60)
    with pytest.raises(ledger.LedgerError, match=r"史永康 \(age 70\) may receive gifts from 75"):
        gift(district, SHI_BO_ID, SHI_ID, 30)
    with district.begin() as ctx, pytest.raises(UsageError, match="already recorded"):
        family.add_tie(ctx, SHI_ID, SHI_BO_ID, "parent")
    with district.begin() as ctx, pytest.raises(UsageError, match="not their own relative"):
        family.add_tie(ctx, SHI_ID, SHI_ID, "spouse")
    from community365.errors import FieldError

    with district.begin() as ctx, pytest.raises(FieldError, match="relation: expected one of"):
        family.add_tie(ctx, SHI_ID, WANG_ID, "cousin")
    with district.engine.connect() as conn:
        (found,) = family.ties_of(conn, SHI_ID)
    assert (found.person_name, found.relation, found.relative_name) == ("史波", "parent", "史永康")
    district.engine.dispose()


def test_across_banks_through_the_clearing_accounts(tb: District) -> None:
    join(tb, SHI_ID, LIN)
    fund(tb, LIN, 120)
    legs = spend(tb, LIN, SHI_ID, 45)  # 林芳 of 七塔社区 pays 史永康 of 划船社区
    assert [t.kind for t in legs] == ["spend", "spend"]  # each leg keeps what the move is
    # ... through the two banks' clearing accounts, the legs naming each other
    assert (legs[0].from_account, legs[1].to_account) == (
        account(tb, LIN).id,
        account(tb, SHI_ID).id,
    )
    through = [account(tb, f"#{legs[0].to_account}"), account(tb, f"#{legs[1].from_account}")]
    assert [a.kind for a in through] == ["clearing", "clearing"]
    assert (legs[0].pair, legs[1].pair) == (legs[1].id, legs[0].id)
    assert (balance(tb, LIN), balance(tb, SHI_ID)) == (75, 45)
    assert legs[0].memo.startswith("spend")
    ledger_holds(tb)  # each bank still sums to zero


def test_donations_go_to_the_donors_bank(tb: District) -> None:
    join(tb, SHI_BO_ID, LIN)
    fund(tb, SHI_BO_ID, 60)
    fund(tb, LIN, 60)
    with tb.begin() as ctx:
        young = giving.donate(ctx, SHI_BO_ID, 60)  # no age rule for donations
        elder = giving.donate(ctx, LIN, 15)
    assert young.to_account == account(tb, POOL).id
    assert elder.to_account == account(tb, "pool:330212001002").id
    assert (balance(tb, POOL), balance(tb, "pool:330212001002")) == (0, -45)


# -- figures -------------------------------------------------------------------------------------


def test_figures_for_a_period_and_an_area(make_district: Callable[..., District]) -> None:
    from cases_fixtures import GRID2

    from community365 import Period
    from community365_timebank.metrics import timebank_stats, to_metrics

    district = world(make_district, new_member_overdraft_hours="1")
    join(district, "VA", "VB", SHI_ID, SHI_BO_ID, LIN)
    office = desk(district)
    fund(district, SHI_ID, 60)  # an earning from the pool: counts as earned, 史永康 gave 1:00
    tag(district, SHI_BO_ID, "特困")  # a priority recipient: the pool pays for him
    verify(district, served(office, SHI_BO_ID, "VA", 90))  # paid by the pool
    verify(district, served(office, SHI_ID, "VB", 45))  # paid by 史永康 himself
    with district.begin() as ctx:
        giving.donate(ctx, "VA", 30)
        undone = giving.donate(ctx, "VA", 15)
        ledger.reverse(ctx, undone.id, "误操作")
        giving.spend(ctx, ctx.settings["timebank"], SHI_ID, "pool", 15)
        # a new member's overdraft, for their own help: 林 goes below zero
        giving.spend(ctx, ctx.settings["timebank"], LIN, "pool", 30)
    with district.engine.connect() as conn:
        day = Period(dt.date(2026, 11, 25), dt.date(2026, 11, 26))
        whole = timebank_stats(conn, day, "330212", district.tz)
        grid2 = timebank_stats(conn, day, GRID2, district.tz)
        before = timebank_stats(
            conn, Period(dt.date(2026, 11, 1), dt.date(2026, 11, 25)), "330212", district.tz
        )
    assert (whole.earned, whole.spent, whole.donated) == (60 + 90 + 45, 45 + 15 + 30, 30)
    assert whole.active_volunteers == 3 and whole.members == 5
    assert [(g.name, g.minutes) for g in whole.givers] == [
        ("俞青", 90),
        ("史永康", 60),
        ("蔡梅", 45),
    ]
    assert [whole.buckets[k] for k in ("balance_negative", "balance_zero", "balance_upto_10h")] == [
        1,
        2,
        2,
    ]
    assert (grid2.members, grid2.earned, grid2.donated) == (1, 0, 0)  # 史波 lives in grid 2
    assert (before.earned, before.active_volunteers) == (0, 0)
    metrics = {m.key: m for m in to_metrics(whole)}
    assert str(metrics["earned_hours"].value) == "3.25" and metrics["star_1"].unit == "小时"
    assert metrics["star_1"].label_zh == "帮扶之星候选 1: 俞青"
    district.engine.dispose()
