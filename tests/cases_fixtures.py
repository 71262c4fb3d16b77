"""A small district for the case pipeline tests, built through the registry API.

    330212 鄞州区
    └── 330212001 百丈街道                      S1 (A)
        └── 330212001001 划船社区
            ├── 33021200100101 第一网格          L1 (leader)
            │   ├── 3302120010010101 第一微网格  A1 (A), B1 (B)
            │   │   └── 3302120010010101001 1号楼: households HH1 (史永康, 王翠娥), HH2 (张大爷)
            │   └── 3302120010010102 第二微网格  (no duty)
            └── 33021200100102 第二网格          L2 (leader)
                └── 3302120010010201 第三微网格  A2 (A)
                    └── 3302120010010201001 2号楼: household HH3 (史波)

V1 is a volunteer without any duty (plugins propose them). Tests that need other duties
build the district with ``duties=`` of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from community365 import CaseDraft, CaseView, PersonRef
from community365.cases import Submitted, store
from community365.db.schema import case_events, cases
from community365.district import District
from community365.errors import InvalidTransition
from community365.registry.areas import add_area
from community365.registry.handlers import DutyRecord, HandlerRecord, add_duty, add_handler
from community365.registry.households import HouseholdRecord, add_household
from community365.registry.people import add_person, parse_person

STREET = "330212001"
COMMUNITY = "330212001001"
GRID = "33021200100101"
SMALL = "3302120010010101"
SMALL_B = "3302120010010102"
BUILDING = "3302120010010101001"
GRID2 = "33021200100102"
SMALL2 = "3302120010010201"
BUILDING2 = "3302120010010201001"

HH1 = f"{BUILDING}-0101"
HH2 = f"{BUILDING}-0201"
HH3 = f"{BUILDING2}-0101"

# (ID number, name, household, phone)
SHI = ("33021219561022207X", "史永康", HH1, "13603990107")
WANG = ("330212195601083987", "王翠娥", HH1, "15017011261")
ZHANG = (None, "张大爷", HH2, "13700001111")
SHI_BO = ("330212198501218614", "史波", HH3, "18736606295")

AREAS = (
    (STREET, "百丈街道", "330212"),
    (COMMUNITY, "划船社区", STREET),
    (GRID, "第一网格", COMMUNITY),
    (SMALL, "第一微网格", GRID),
    (SMALL_B, "第二微网格", GRID),
    (BUILDING, "1号楼", SMALL),
    (GRID2, "第二网格", COMMUNITY),
    (SMALL2, "第三微网格", GRID2),
    (BUILDING2, "2号楼", SMALL2),
)
HANDLERS = (
    ("S1", "街道值班", "staff"),
    ("L1", "网格长甲", "staff"),
    ("L2", "网格长乙", "staff"),
    ("A1", "网格员甲", "staff"),
    ("B1", "网格员乙", "staff"),
    ("A2", "网格员丙", "staff"),
    ("V1", "志愿者丁", "volunteer"),
)
# (handler, area, role, service group)
STANDARD_DUTIES: tuple[tuple[str, str, str, str], ...] = (
    ("S1", STREET, "A", ""),
    ("L1", GRID, "leader", ""),
    ("L2", GRID2, "leader", ""),
    ("A1", SMALL, "A", ""),
    ("B1", SMALL, "B", ""),
    ("A2", SMALL2, "A", ""),
)


class Clock:
    """An injectable clock: ``District.open(..., clock=clock)`` reads it per unit of work."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def build(
    district: District,
    duties: Iterable[tuple[str, str, str, str]] = STANDARD_DUTIES,
) -> None:
    """Add the areas, households, persons, handlers and ``duties`` above."""
    with district.begin() as ctx:
        conn = ctx.connection
        levels = district.config.areas.levels
        for code, name, parent in AREAS:
            add_area(ctx, levels, code=code, name=name, parent=parent)
        for household in (HH1, HH2, HH3):
            add_household(conn, HouseholdRecord(household, household.split("-")[0]))
        for id_number, name, household, phone in (SHI, WANG, ZHANG, SHI_BO):
            fields = {"name": name, "household": household, "phone": phone}
            if id_number:
                fields["id_number"] = id_number
            add_person(conn, parse_person(fields))
        for code, name, kind in HANDLERS:
            add_handler(conn, HandlerRecord(code, name, kind))
        for handler, area, role, group in duties:
            add_duty(conn, DutyRecord(handler, area, role, group))


def reopen(
    district: District,
    *,
    actor: str = "office",
    clock: Any = None,
    plugins: Sequence[tuple[str, Any]] = (),
) -> District:
    """The same district opened again (another actor, clock or in-process plugins),
    sharing the first one's engine so that tests do not pile up connection pools."""
    again = District.open(
        district.root, actor=actor, clock=clock or district.clock, extra_plugins=plugins
    )
    again.__dict__["engine"] = district.engine
    return again


def plugin(**hooks: Any) -> Any:
    """An in-process plugin object whose ``c365_<name>`` hooks are the given functions."""
    return type("Plugin", (), {f"c365_{k}": staticmethod(f) for k, f in hooks.items()})()


def event_count(district: District, ref: str | None = None) -> int:
    with district.engine.connect() as conn:
        query = select(func.count()).select_from(case_events)
        if ref is not None:
            query = query.join(cases, cases.c.id == case_events.c.case_id).where(cases.c.ref == ref)
        return conn.execute(query).scalar_one()


def case_count(district: District) -> int:
    with district.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cases)).scalar_one()


def events(district: District, ref: str) -> list[dict[str, Any]]:
    """The case's events, oldest first, as dicts."""
    with district.engine.connect() as conn:
        query = (
            select(case_events)
            .join(cases, cases.c.id == case_events.c.case_id)
            .where(cases.c.ref == ref)
            .order_by(case_events.c.id)
        )
        return [dict(r) for r in conn.execute(query).mappings()]


def row(district: District, ref: str) -> dict[str, Any]:
    with district.engine.connect() as conn:
        found = conn.execute(select(cases).where(cases.c.ref == ref)).mappings().one()
        return dict(found)


def snapshot_in(conn: Connection) -> tuple[list[dict[str, Any]], int]:
    """Every case row and the number of events: what "nothing changed" compares."""
    rows = [dict(r) for r in conn.execute(select(cases).order_by(cases.c.id)).mappings()]
    n = conn.execute(select(func.count()).select_from(case_events)).scalar_one()
    return rows, n


def snapshot(district: District) -> tuple[list[dict[str, Any]], int]:
    with district.engine.connect() as conn:
        return snapshot_in(conn)


class Desk:
    """A district seen by one actor with one clock, and one-line pipeline calls:
    ``desk("accept", ref)`` runs ``Pipeline.accept(ref)`` in its own unit of work."""

    def __init__(
        self,
        district: District,
        clock: Clock,
        actor: str = "office",
        plugins: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.base = district
        self.clock = clock
        self.actor = actor
        self.district = reopen(district, actor=actor, clock=clock, plugins=plugins)

    def as_(self, actor: str, plugins: Sequence[tuple[str, Any]] = ()) -> Desk:
        return Desk(self.base, self.clock, actor, plugins)

    def with_plugins(self, *plugins: tuple[str, Any]) -> Desk:
        return Desk(self.base, self.clock, self.actor, plugins)

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self.district.begin() as ctx:
            return getattr(self.district.pipeline(ctx), method)(*args, **kwargs)

    def draft(self, text: str = "楼道路灯坏了", **kwargs: Any) -> CaseDraft:
        kwargs.setdefault("channel", "hotline")
        kwargs.setdefault("received_at", self.clock.now)
        if "reporter" not in kwargs and "contact" not in kwargs:
            kwargs["reporter"] = PersonRef(phone=SHI[3])
        return CaseDraft(text=text, **kwargs)

    def submit(self, text: str = "楼道路灯坏了", **kwargs: Any) -> Submitted:
        return self("submit", self.draft(text, **kwargs))

    def case(self, ref: str) -> CaseView:
        with self.district.engine.connect() as conn:
            return store.get_case(conn, ref)

    def refused(
        self, method: str, *args: Any, error: type[Exception] = InvalidTransition, **kwargs: Any
    ) -> Any:
        """Call a pipeline method that must raise ``error``; check that it wrote nothing,
        neither before raising (inside its transaction) nor after. Returns the error."""
        before = snapshot(self.district)
        with self.district.begin() as ctx:
            pipeline = self.district.pipeline(ctx)
            with pytest.raises(error) as info:
                getattr(pipeline, method)(*args, **kwargs)
            assert snapshot_in(ctx.connection) == before, f"{method} wrote before raising"
        assert snapshot(self.district) == before
        return info.value


def set_sla(district: District, **values: Any) -> None:
    """Write ``[sla]`` of district.toml; open the district again to see it."""
    from community365.config import edit

    with edit(district.root) as doc:
        doc["sla"] = values
