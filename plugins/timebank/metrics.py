"""评议 figures of the time bank for a period and an area subtree.

An account belongs to the subtree when its member lives there, or, for a team's, a pool
and a clearing account, when its bank's community does. Over the period (local days,
half-open): hours earned by verified service, hours members spent on help for
themselves (paid for help, or to the pool), hours donated (donations and surplus over
the storage cap), the volunteers who earned any, and the most generous of them (帮扶之星
candidates: the most hours of service given). Now: the members and how their balances
are spread. Transfers that were reversed do not count; reversals themselves neither. A
cross-bank spend (two legs of kind ``spend``) counts once, on its first leg, the one a
member pays; its second leg is paid by a clearing account.

The ledger is exact in minutes; reports give hours as decimals to the hundredth.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365 import AreaView, Context, Metric, Period
from community365.cases.stats import period_bounds
from community365.db.schema import areas, households, persons
from community365_timebank import accounts as account_views
from community365_timebank.amounts import decimal_hours
from community365_timebank.tables import accounts, banks, transfers

TOP_GIVERS = 5
#: Balance buckets (帮扶余额分布): label and the upper bound in minutes (None: no bound),
#: each above the previous bound.
BUCKETS: tuple[tuple[str, str, int | None], ...] = (
    ("balance_negative", "透支 below zero", -1),
    ("balance_zero", "零 zero", 0),
    ("balance_upto_10h", "10小时以内 up to 10 h", 600),
    ("balance_10_50h", "10–50小时 10 to 50 h", 3000),
    ("balance_50_200h", "50–200小时 50 to 200 h", 12000),
    ("balance_over_200h", "200小时以上 over 200 h", None),
)


@attrs.frozen
class Giver:
    account_id: int
    name: str
    minutes: int


@attrs.frozen
class TimebankStats:
    """The figures, in minutes and counts."""

    earned: int
    spent: int
    donated: int
    active_volunteers: int
    members: int
    givers: list[Giver]
    buckets: dict[str, int]

    def to_json(self) -> dict[str, object]:
        data = attrs.asdict(self)
        for key in ("earned", "spent", "donated"):
            data[f"{key}_hours"] = str(decimal_hours(data[key]))
        return data


def _in_scope(area_code: str) -> tuple[object, object]:
    """The accounts of the subtree: (the FROM clause, the condition)."""
    bank_area = aliased(areas, name="bank_area")
    home = aliased(areas, name="home")
    source = (
        accounts.join(banks, banks.c.id == accounts.c.bank_id)
        .join(bank_area, bank_area.c.id == banks.c.area_id)
        .outerjoin(persons, persons.c.id == accounts.c.person_id)
        .outerjoin(households, households.c.id == persons.c.household_id)
        .outerjoin(home, home.c.id == households.c.area_id)
    )
    where = or_(
        and_(accounts.c.kind == "member", home.c.code.startswith(area_code, autoescape=True)),
        and_(accounts.c.kind != "member", bank_area.c.code.startswith(area_code, autoescape=True)),
    )
    return source, where


def _scoped_ids(area_code: str) -> object:
    source, where = _in_scope(area_code)
    return select(accounts.c.id).select_from(source).where(where)


def timebank_stats(
    conn: Connection, period: Period, area_code: str, tz: dt.tzinfo
) -> TimebankStats:
    start, end = period_bounds(period, tz)
    scoped = _scoped_ids(area_code)
    payer = aliased(accounts, name="payer")
    reversal = aliased(transfers, name="reversal")
    standing = and_(
        transfers.c.at >= start,
        transfers.c.at < end,
        transfers.c.kind != "reverse",
        ~exists().where(reversal.c.reverses == transfers.c.id),
    )

    def total(*condition: object) -> int:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(transfers.c.minutes), 0))
                .select_from(transfers.join(payer, payer.c.id == transfers.c.from_account))
                .where(standing, *condition)
            ).scalar_one()
        )

    earned_in = and_(transfers.c.kind == "earn", transfers.c.to_account.in_(scoped))
    earned = total(earned_in)
    spent = total(
        transfers.c.from_account.in_(scoped),
        payer.c.kind == "member",
        transfers.c.kind.in_(("earn", "spend")),
    )
    donated = total(
        transfers.c.from_account.in_(scoped), transfers.c.kind.in_(("donate", "surplus"))
    )
    by_giver = conn.execute(
        select(transfers.c.to_account, func.sum(transfers.c.minutes).label("minutes"))
        .where(standing, earned_in)
        .group_by(transfers.c.to_account)
        .order_by(func.sum(transfers.c.minutes).desc(), transfers.c.to_account)
    ).all()
    givers = [
        Giver(row.to_account, account_views.get(conn, row.to_account).name, int(row.minutes))
        for row in by_giver[:TOP_GIVERS]
    ]
    source, where = _in_scope(area_code)
    balances = (
        conn.execute(
            select(accounts.c.balance)
            .select_from(source)
            .where(where, accounts.c.kind == "member", accounts.c.status != "closed")
        )
        .scalars()
        .all()
    )
    return TimebankStats(
        earned=earned,
        spent=spent,
        donated=donated,
        active_volunteers=len(by_giver),
        members=len(balances),
        givers=givers,
        buckets=_buckets(balances),
    )


def _buckets(balances: list[int]) -> dict[str, int]:
    counts = {key: 0 for key, _, _ in BUCKETS}
    for balance in balances:
        for key, _, bound in BUCKETS:
            if bound is None or balance <= bound:
                counts[key] += 1
                break
    return counts


def to_metrics(stats: TimebankStats) -> list[Metric]:
    """The figures as the core's report shows them."""
    found = [
        Metric("earned_hours", "服务时数", "hours earned", decimal_hours(stats.earned), "小时"),
        Metric("spent_hours", "支取时数", "hours spent", decimal_hours(stats.spent), "小时"),
        Metric("donated_hours", "捐赠时数", "hours donated", decimal_hours(stats.donated), "小时"),
        Metric(
            "active_volunteers", "活跃志愿者", "active volunteers", stats.active_volunteers, "人"
        ),
        Metric("members", "时间银行成员", "members", stats.members, "人"),
    ]
    for rank, giver in enumerate(stats.givers, 1):
        found.append(
            Metric(
                f"star_{rank}",
                f"帮扶之星候选 {rank}: {giver.name}",
                f"most generous {rank}: {giver.name}",
                decimal_hours(giver.minutes),
                "小时",
            )
        )
    for key, label, _ in BUCKETS:
        zh, en = label.split(" ", 1)
        found.append(Metric(key, f"余额{zh}", f"balance {en}", stats.buckets[key], "人"))
    return found


def metrics(period: Period, area: AreaView, ctx: Context) -> list[Metric]:
    """The ``c365_metrics`` hook's work."""
    return to_metrics(timebank_stats(ctx.connection, period, area.code, ctx.tz))
