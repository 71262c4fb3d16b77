"""A district for the case benchmarks, built from generated CSVs through the importers.

Not a benchmark itself: ``case_lifecycle.py``, ``case_latency.py`` and
``routing_scale.py`` import it. The layout is the same at every size, so only the
number of areas, handlers and residents changes, never the depth of the tree:

    330212 district → streets → communities (40 grids each) → grids → 12 small grids each

Each grid has a leader (网格长, duty on the grid) and each small grid an A and a B
(A角/B角, duties for every service group on the small grid): 25 handlers per grid, so a
case's small grid sees its usual three duties (A, B and the leader above). Households
live in the small grids, two persons each with valid ID numbers. No plugin is enabled.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import attrs

DISTRICT = "330212"
HANDLERS_PER_GRID = 25  # a leader, and A + B for each of 12 small grids
SMALL_GRIDS_PER_GRID = 12
GRIDS_PER_COMMUNITY = 40
COMMUNITIES_PER_STREET = 10
PERSONS_PER_HOUSEHOLD = 2
# Monday 2 March 2026, 09:00 in Shanghai: a working day, inside the holiday calendar.
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)

TEXTS = {
    "consult": "请问办理居住证需要什么材料",
    "appointment": "想预约社区医生上门办理慢病随访",
    "help": "独居老人行动不便，求助帮忙买药",
    "repair": "楼道路灯坏了，请派人维修",
    "complaint": "楼下饭店油烟噪音扰民，投诉",
    "dispute": "邻里因楼道堆物发生纠纷，请调解",
    "suggestion": "建议小区增加电动车充电桩",
}
SERVICES = tuple(TEXTS)
CHANNELS = ("hotline", "sms", "web", "walk_in", "visit", "patrol")


@attrs.frozen
class Layout:
    """What was generated: codes of the small grids, households and persons."""

    handlers: int
    small_grids: tuple[str, ...]
    households: tuple[str, ...]  # household i lives in small grid i % len(small_grids)
    id_numbers: tuple[str, ...]  # person i lives in household i // PERSONS_PER_HOUSEHOLD


class Clock:
    """A district clock that starts at ``START`` and ticks one second per reading."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def grid_codes(handlers: int) -> Iterator[tuple[str, str, str]]:
    """(street, community, grid) codes for enough grids to hold ``handlers``."""
    grids = -(-handlers // HANDLERS_PER_GRID)
    for g in range(grids):
        community, grid = divmod(g, GRIDS_PER_COMMUNITY)
        street, community = divmod(community, COMMUNITIES_PER_STREET)
        s = f"{DISTRICT}{street + 1:03d}"
        c = f"{s}{community + 1:03d}"
        yield s, c, f"{c}{grid + 1:02d}"


def write_csvs(directory: Path, handlers: int, households_per_small_grid: int) -> Layout:
    """areas.csv, handlers.csv, duties.csv, households.csv and persons.csv in ``directory``."""
    from community365.registry.idcard import make_id_number

    areas: dict[str, str] = {}
    handler_rows, duty_rows, small_grids = [], [], []
    number = itertools.count(1)
    for street, community, grid in grid_codes(handlers):
        areas.setdefault(street, f"第{street[-3:]}街道")
        areas.setdefault(community, f"第{community[-3:]}社区")
        areas[grid] = f"第{grid[-2:]}网格"
        leader = f"H{next(number):06d}"
        handler_rows.append([leader, f"网格长{leader}", "工作人员"])
        duty_rows.append([leader, grid, "", "网格长"])
        for s in range(1, SMALL_GRIDS_PER_GRID + 1):
            small = f"{grid}{s:02d}"
            areas[small] = f"第{s}微网格"
            small_grids.append(small)
            for role in ("A角", "B角"):
                code = f"H{next(number):06d}"
                handler_rows.append([code, f"网格员{code}", "网格员"])
                duty_rows.append([code, small, "", role])
    households = [
        f"{small_grids[h % len(small_grids)]}-{h:06d}"
        for h in range(households_per_small_grid * len(small_grids))
    ]
    id_numbers = []
    first_day, days = dt.date(1940, 1, 1), 365 * 60
    for i in range(len(households) * PERSONS_PER_HOUSEHOLD):
        birth = first_day + dt.timedelta(days=i % days)
        id_numbers.append(make_id_number(DISTRICT, birth, i // days))
    _write(directory / "areas.csv", ["区域编码", "区域名称"], areas.items())
    _write(directory / "handlers.csv", ["处置人编码", "名称", "类型"], handler_rows)
    _write(directory / "duties.csv", ["处置人编码", "区域编码", "服务类别", "角色"], duty_rows)
    _write(
        directory / "households.csv",
        ["户号", "网格编码", "地址"],
        ([h, h.split("-")[0], f"{h[-6:]}号"] for h in households),
    )
    _write(
        directory / "persons.csv",
        ["姓名", "身份证号", "户号"],
        (
            [f"居民{i}", id_numbers[i], households[i // PERSONS_PER_HOUSEHOLD]]
            for i in range(len(id_numbers))
        ),
    )
    return Layout(len(handler_rows), tuple(small_grids), tuple(households), tuple(id_numbers))


def _write(path: Path, header: list[str], rows: object) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)  # type: ignore[arg-type]


def build(
    root: Path,
    *,
    handlers: int,
    households_per_small_grid: int = 0,
    database: str = "sqlite:///district.db",
    quiet: bool = False,
) -> Layout:
    """Create a district in ``root`` (``c365 init`` + ``c365 import``) and return its layout."""
    import time

    from community365.cli.init import create_district
    from community365.district import District
    from community365.imports import import_file

    started = time.perf_counter()
    create_district(root, name="基准区", code=DISTRICT, database=database, actor="bench")
    layout = write_csvs(root, handlers, households_per_small_grid)
    district = District.open(root, actor="bench")
    written = {}
    for entity in ("areas", "handlers", "duties", "households", "persons"):
        written[entity] = import_file(district, entity, root / f"{entity}.csv").written
    district.engine.dispose()
    if not quiet:
        print(
            "  district imported: "
            + ", ".join(f"{count:,} {entity}" for entity, count in written.items())
            + f" ({len(layout.small_grids):,} small grids; built in"
            f" {time.perf_counter() - started:.1f} s)"
        )
    return layout


def draft(layout: Layout, i: int, received_at: dt.datetime) -> object:
    """The ``i``-th demand: a resident (by ID number, in their household) for two cases
    in three, else an outside contact naming a small grid; half name their service, the
    rest are classified from the text. (reporter, service) pairs do not repeat before
    7 x persons drafts, so none is linked to an open case as a repeat."""
    from community365.values import CaseDraft, PersonRef

    service = SERVICES[i % len(SERVICES)]
    common = {
        "channel": CHANNELS[i % len(CHANNELS)],
        "text": TEXTS[service],
        "received_at": received_at,
        "service": service if i % 2 else None,
    }
    persons = len(layout.id_numbers)
    if persons and i % 3:
        person = i // len(SERVICES) % persons
        return CaseDraft(
            **common,
            reporter=PersonRef(id_number=layout.id_numbers[person]),
            household_code=layout.households[person // PERSONS_PER_HOUSEHOLD],
        )
    return CaseDraft(
        **common,
        area_code=layout.small_grids[i % len(layout.small_grids)],
        contact=f"路人{i} 139{i:08d}",
    )


def check_empty(url: str, wipe: bool) -> None:
    """Refuse a PostgreSQL database that has tables, unless ``wipe`` (drop its public schema)."""
    from sqlalchemy import inspect, text

    from community365.db.engine import make_engine

    engine = make_engine(url)
    try:
        if wipe:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        elif inspect(engine).get_table_names():
            raise SystemExit(f"error: {url} has tables; give an empty database or --pg-wipe")
    finally:
        engine.dispose()
