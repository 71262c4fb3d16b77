"""A district with the time bank enabled, for the accounts, earning, matching and CLI
tests: the pipeline tests' small district (cases_fixtures) plus volunteers who are
residents, an elder couple, a young member, a team, and a second community.

    330212001001 划船社区 (bank 1)
    ├── 第一网格 / 第一微网格 / 1号楼   HH1: 史永康 (1956, 70) and 王翠娥 (1956, 70)
    │                                HH2: 张大爷 (no ID); 俞青 (1990) = volunteer VA
    ├── 第一网格 / 第二微网格 / 3号楼   HH4: 蔡梅 (1958, 68) = volunteer VB
    └── 第二网格 / 第三微网格 / 2号楼   HH3: 史波 (1985, 41); 孙杰 (1992) = volunteer VC
    330212001002 七塔社区 (bank 2)
    └── 第四网格 / 4号楼                HH5: 林芳 (1950, 76)

Skills: VA 理发, 维修; VB 理发, 陪护; VC 维修; V1 (not a resident) 理发.
Team T1 has a help duty (B) on 划船社区. The clock stands at FIXED_NOW (10:00 local).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cases_fixtures import (
    COMMUNITY,
    HH2,
    HH3,
    SHI,
    SHI_BO,
    STREET,
    WANG,
    Clock,
    Desk,
    build,
)
from conftest import FIXED_NOW
from sqlalchemy import Connection, func, insert, select, text

from community365 import PersonRef
from community365.config import edit
from community365.db.schema import areas
from community365.district import District
from community365.registry.areas import add_area
from community365.registry.handlers import (
    DutyRecord,
    HandlerRecord,
    add_duty,
    add_handler,
    change_skills,
)
from community365.registry.households import HouseholdRecord, add_household
from community365.registry.idcard import make_id_number
from community365.registry.people import add_person, parse_person
from community365_timebank import accounts, ledger
from community365_timebank.migrations.versions import timebank_0003_immutable as immutable
from community365_timebank.tables import entries

SMALL_B = "3302120010010102"
BUILDING3 = f"{SMALL_B}003"
HH4 = f"{BUILDING3}-0101"
COMMUNITY2 = "330212001002"
GRID4 = "33021200100201"
BUILDING4 = f"{GRID4}004"
HH5 = f"{BUILDING4}-0101"

YU = make_id_number("330212", dt.date(1990, 3, 1), 11)  # VA, 36
CAI = make_id_number("330212", dt.date(1958, 5, 6), 22)  # VB, 68
SUN = make_id_number("330212", dt.date(1992, 7, 8), 33)  # VC, 34
LIN = make_id_number("330212", dt.date(1950, 1, 2), 44)  # 76, in the second community
SHI_ID, WANG_ID, SHI_BO_ID = SHI[0], WANG[0], SHI_BO[0]

PERSONS = (
    (YU, "俞青", HH2),
    (CAI, "蔡梅", HH4),
    (SUN, "孙杰", HH3),
    (LIN, "林芳", HH5),
)
VOLUNTEERS = (
    ("VA", "俞青", YU, ("理发", "维修")),
    ("VB", "蔡梅", CAI, ("理发", "陪护")),
    ("VC", "孙杰", SUN, ("维修",)),
)


def populate(district: District) -> None:
    """Add the time-bank people above to the cases_fixtures district."""
    build(district)
    with district.begin() as ctx:
        conn = ctx.connection
        levels = district.config.areas.levels
        add_area(ctx, levels, code=BUILDING3, name="3号楼", parent=SMALL_B)
        add_area(ctx, levels, code=COMMUNITY2, name="七塔社区", parent=STREET)
        add_area(ctx, levels, code=GRID4, name="第四网格", parent=COMMUNITY2)
        add_area(ctx, levels, code=BUILDING4, name="4号楼", parent=GRID4, level="building")
        for household in (HH4, HH5):
            add_household(conn, HouseholdRecord(household, household.split("-")[0]))
        for id_number, name, household in PERSONS:
            add_person(
                conn, parse_person({"name": name, "household": household, "id_number": id_number})
            )
        for code, name, id_number, skills in VOLUNTEERS:
            add_handler(
                conn, HandlerRecord(code, name, "volunteer", id_number=id_number, skills=skills)
            )
        add_handler(conn, HandlerRecord("T1", "划船志愿服务队", "team", skills=("陪护",)))
        add_duty(conn, DutyRecord("T1", COMMUNITY, "B", "help"))
        change_skills(conn, "V1", ["理发"], [])


def world(make_district: Callable[..., District], **settings: Any) -> District:
    """The district above, with ``[plugins.timebank]`` set to ``settings``."""
    district = make_district(enabled=("timebank",))
    if settings:
        with edit(district.root) as doc:
            doc["plugins"]["timebank"] = settings  # type: ignore[index]
        again = District.open(district.root, actor="tester", clock=lambda: FIXED_NOW)
        again.__dict__["engine"] = district.engine
        district = again
    populate(district)
    return district


def desk(district: District, actor: str = "office") -> Desk:
    return Desk(district, Clock(FIXED_NOW), actor)


def join(district: District, *refs: str) -> list[accounts.Account]:
    with district.begin() as ctx:
        settings = ctx.settings["timebank"]
        return [accounts.join_ref(ctx, settings, ref) for ref in refs]


def account(district: District, ref: str) -> accounts.Account:
    with district.engine.connect() as conn:
        return accounts.find(conn, ref)


def balance(district: District, ref: str) -> int:
    return account(district, ref).balance


def fund(district: District, ref: str, minutes: int) -> None:
    """Give an account ``minutes`` from its bank's pool (a test's shortcut: an earning)."""
    target = account(district, ref)
    with district.begin() as ctx:
        pool = ledger.pool_of(ctx.connection, target.bank_id)
        ledger.transfer(ctx, "earn", pool, target.id, minutes, memo="test funds")


def ledger_holds(district: District) -> None:
    """The invariants: every balance is the sum of its entries; every bank sums to zero."""
    with district.engine.connect() as conn:
        assert ledger.reconcile(conn) == []
        assert all(total == 0 for total in ledger.bank_totals(conn).values())
        assert conn.execute(select(func.count()).select_from(entries)).scalar_one() % 2 == 0


def help_request(
    desk_: Desk,
    reporter: str,
    *,
    skill: str | None = None,
    service: str = "timebank.help",
    **kw: Any,
) -> str:
    """Submit a time-bank request from the resident with ID number ``reporter``."""
    fields = {"skill": skill} if skill else {}
    submitted = desk_.submit(
        "想请志愿者帮忙",
        service=service,
        reporter=PersonRef(id_number=reporter),
        fields=fields,
        **kw,
    )
    return submitted.case.ref


@contextmanager
def ledger_unguarded(conn: Connection) -> Iterator[None]:
    """Inside, the triggers that keep entries and transfers immutable (timebank_0003) are
    dropped, for tests that clear the tables or tamper with the ledger on purpose; they are
    put back on leaving, in the same transaction."""
    dialect = conn.dialect.name
    for statement in immutable.downgrade_sql(dialect):
        conn.execute(text(statement))
    yield
    for statement in immutable.upgrade_sql(dialect):
        conn.execute(text(statement))


def add_communities(district: District, count: int = 2) -> list[int]:
    """A street under the district's root area and ``count`` communities in it; their ids."""
    with district.begin() as ctx:
        conn = ctx.connection
        root = conn.execute(select(areas.c.id).where(areas.c.code == "330212")).scalar_one()
        street = conn.execute(
            insert(areas)
            .values(code="330212001", name="百丈街道", level="street", parent_id=root)
            .returning(areas.c.id)
        ).scalar_one()
        return [
            conn.execute(
                insert(areas)
                .values(
                    code=f"330212001{n:03d}", name=f"社区{n}", level="community", parent_id=street
                )
                .returning(areas.c.id)
            ).scalar_one()
            for n in range(1, count + 1)
        ]
