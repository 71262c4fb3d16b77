"""Benchmark: the whole life of N cases through the public API, against bare inserts.

    /tmp/venv/bin/python benchmarks/case_lifecycle.py [--cases 100000] [--batch 1000]
        [--handlers 1000] [--pg postgresql+psycopg://postgres@127.0.0.1/c365_d [--pg-wipe]]

Builds a district (see case_district.py: 1,000 handlers, 480 small grids, 4,800
households, 9,600 persons by default) on SQLite, or on PostgreSQL with ``--pg``, then
in the same run and the same database:

  raw   SQLAlchemy Core ``insert`` of each case's final row and its six event rows
        (submit, assign, accept, reply, resolve, rate: the columns the pipeline writes,
        changes as JSON): once by executemany per batch (ids by ``RETURNING``), once
        with one ``execute`` per row (the floor for code that writes row by row);
  ours  ``Pipeline.submit`` (classified, validated, checked for repeats, deadlines,
        routed at intake), ``accept`` as office staff, ``reply``, ``resolve``, ``rate``.

Both sides write ``--batch`` cases per transaction (``district.begin()`` for ours,
``engine.begin()`` for raw); ours runs each step over the whole batch in turn, so each
step's time is shown. The raw rows are deleted before the next side runs. Prints rows/s,
seconds (wall and this process's CPU; PostgreSQL's own CPU is not in it) and ours / raw
(target: within 10x of executemany). Measures; never fails the build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import case_district
from case_district import Clock, Layout, build, check_empty, draft
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from community365.db.schema import areas, case_events, cases, duties, households
from community365.db.schema import persons as persons_table
from community365.district import District

TARGET = 10.0
STEPS = ("submit", "accept", "reply", "resolve", "rate", "commit")
EVENTS_PER_CASE = 6


# -- raw: SQLAlchemy Core inserts of the same rows ---------------------------------------------


def registry_ids(engine: Engine) -> dict[str, dict[str, Any]]:
    """Ids the raw rows refer to: areas, households (with their area), persons, each
    small grid's A."""
    with engine.connect() as conn:
        return {
            "area": dict(conn.execute(select(areas.c.code, areas.c.id)).all()),
            "household": {
                r.code: (r.id, r.area_id)
                for r in conn.execute(
                    select(households.c.code, households.c.id, households.c.area_id)
                )
            },
            "person": dict(
                conn.execute(select(persons_table.c.id_number, persons_table.c.id)).all()
            ),
            "a_of_area": dict(
                conn.execute(
                    select(duties.c.area_id, duties.c.handler_id).where(duties.c.role == "A")
                ).all()
            ),
        }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def raw_rows(
    layout: Layout, ids: dict[str, dict[str, Any]], i: int, at: dt.datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Case ``i``'s row as the pipeline leaves it, and its six events."""
    d: Any = draft(layout, i, at)
    if d.household_code:
        household_id, area_id = ids["household"][d.household_code]
    else:
        household_id, area_id = None, ids["area"][d.area_code]
    service = case_district.SERVICES[i % len(case_district.SERVICES)]
    submitted = {
        "ref": f"{at.year}-{i + 1:06d}",
        "service": service,
        "service_group": service,
        "channel": d.channel,
        "status": "received",
        "area_id": area_id,
        "household_id": household_id,
        "reporter_id": ids["person"][d.reporter.id_number] if d.reporter else None,
        "contact": d.contact,
        "text": d.text,
        "fields": {},
        "received_at": at,
        "reply_by": at + dt.timedelta(hours=1),
        "resolve_by": at + dt.timedelta(days=3),
        "receiver_id": None,
    }
    handler = ids["a_of_area"][area_id]
    steps: list[tuple[str, str | None, str, dict[str, Any], str]] = [
        ("submit", None, "received", submitted, f"{d.channel}: {d.text}"),
        (
            "assign",
            "received",
            "assigned",
            {"status": "assigned", "handler_id": handler, "accepted_at": None},
            "A角",
        ),
        ("accept", "assigned", "accepted", {"status": "accepted", "accepted_at": at}, ""),
        ("reply", "accepted", "accepted", {"replied_at": at}, "已联系居民，今天处理"),
        (
            "resolve",
            "accepted",
            "resolved",
            {"status": "resolved", "resolved_at": at, "outcome": "已处理", "minutes_spent": 30},
            "已处理",
        ),
        (
            "rate",
            "resolved",
            "closed",
            {"rating": "satisfied", "rating_comment": "", "status": "closed", "closed_at": at},
            "satisfied",
        ),
    ]
    row = dict(submitted)
    events = []
    for action, before, after, changes, note in steps:
        row.update(changes)
        events.append(
            {
                "at": at,
                "actor": "office",
                "action": action,
                "from_status": before,
                "to_status": after,
                "note": note,
                "changes": {
                    k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in changes.items()
                },
            }
        )
    return row, events


def run_raw(engine: Engine, layout: Layout, n: int, batch: int, per_row: bool) -> dict[str, float]:
    """Insert the rows of ``n`` cases, ``batch`` per transaction: by executemany (one call
    for the cases and one for the events of a batch), or one ``execute`` per row."""
    ids = registry_ids(engine)
    insert_case = insert(cases).returning(cases.c.id, sort_by_parameter_order=True)
    insert_event = insert(case_events)
    wall = cpu = 0.0
    for start in range(0, n, batch):
        at = case_district.START + dt.timedelta(seconds=start)
        made = [raw_rows(layout, ids, i, at) for i in range(start, min(n, start + batch))]
        t0, c0 = time.perf_counter(), time.process_time()
        with engine.begin() as conn:
            if per_row:
                for row, events in made:
                    case_id = conn.execute(insert_case, row).scalar_one()
                    for event in events:
                        conn.execute(insert_event, event | {"case_id": case_id})
            else:
                case_ids = conn.execute(insert_case, [row for row, _ in made]).scalars()
                conn.execute(
                    insert_event,
                    [
                        e | {"case_id": cid}
                        for cid, (_, evs) in zip(case_ids, made, strict=True)
                        for e in evs
                    ],
                )
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return {"seconds": wall, "cpu": cpu}


def clear(engine: Engine) -> None:
    """Delete every case, so that ours starts from the district as built."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                text("TRUNCATE case_events, cases, case_counters RESTART IDENTITY CASCADE")
            )
        return
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        # With foreign keys on, every deleted case is looked up in cases.duplicate_of,
        # which has no index: quadratic. Once the events are gone nothing refers to them.
        db.execute("PRAGMA foreign_keys = OFF")
        db.executescript(
            "BEGIN; DELETE FROM case_events; DELETE FROM cases; DELETE FROM case_counters;"
            " COMMIT; VACUUM;"
        )
        db.execute("PRAGMA foreign_keys = ON")
    finally:
        raw.close()


# -- ours: the pipeline ------------------------------------------------------------------------


def run_ours(district: District, layout: Layout, n: int, batch: int) -> dict[str, float]:
    clock: Any = district.clock
    steps: dict[str, float] = defaultdict(float)
    wall = cpu = 0.0
    for start in range(0, n, batch):
        drafts = [draft(layout, i, clock.now) for i in range(start, min(n, start + batch))]
        t0, c0 = time.perf_counter(), time.process_time()
        with district.begin() as ctx:
            pipeline = district.pipeline(ctx)
            mark = time.perf_counter()

            def lap(step: str) -> None:
                nonlocal mark
                now = time.perf_counter()
                steps[step] += now - mark
                mark = now

            refs = []
            for d in drafts:
                submitted = pipeline.submit(d)  # type: ignore[arg-type]
                assert not submitted.linked and submitted.case.status == "assigned", submitted
                refs.append(submitted.case.ref)
            lap("submit")
            for ref in refs:
                pipeline.accept(ref)
            lap("accept")
            for ref in refs:
                pipeline.reply(ref, "已联系居民，今天处理")
            lap("reply")
            for ref in refs:
                pipeline.resolve(ref, "已处理", 30)
            lap("resolve")
            for k, ref in enumerate(refs):
                pipeline.rate(ref, "fairly_satisfied" if k % 10 == 0 else "satisfied")
            lap("rate")
        lap("commit")
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return {"seconds": wall, "cpu": cpu, **steps}


def count_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(cases)).scalar_one(),
            conn.execute(select(func.count()).select_from(case_events)).scalar_one(),
        )


# -- driver ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases to run through")
    parser.add_argument("--batch", type=int, default=1_000, help="cases per transaction")
    parser.add_argument("--handlers", type=int, default=1_000, help="handlers (25 per grid)")
    parser.add_argument("--households", type=int, default=10, help="households per small grid")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL database (empty) instead of SQLite")
    parser.add_argument("--pg-wipe", action="store_true", help="drop --pg's public schema first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.pg:
        check_empty(args.pg, args.pg_wipe)
    work = Path(tempfile.mkdtemp(prefix="c365-lifecycle-"))
    try:
        database = args.pg or "sqlite:///district.db"
        print(f"building the district in {work} on {database.split(':')[0]} ...")
        layout = build(
            work / "district",
            handlers=args.handlers,
            households_per_small_grid=args.households,
            database=database,
        )
        district = District.open(work / "district", clock=Clock(), actor="office")
        engine = district.engine
        rows = args.cases * (1 + EVENTS_PER_CASE)
        raw = {}
        for per_row in (False, True):
            raw[per_row] = run_raw(engine, layout, args.cases, args.batch, per_row)
            assert count_rows(engine) == (args.cases, args.cases * EVENTS_PER_CASE)
            clear(engine)
        ours = run_ours(district, layout, args.cases, args.batch)
        assert count_rows(engine) == (args.cases, args.cases * EVENTS_PER_CASE), count_rows(engine)
        engine.dispose()
        report(engine.dialect.name, args.cases, args.batch, rows, raw, ours)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(
    kind: str,
    n: int,
    batch: int,
    rows: int,
    raw: dict[bool, dict[str, float]],
    ours: dict[str, float],
) -> None:
    print(
        f"{n:,} cases on {kind}, {batch:,} cases per transaction on every side; "
        f"{rows:,} rows each (1 case + {EVENTS_PER_CASE} events per case)"
    )
    sides = (
        ("raw Core executemany", raw[False]),
        ("raw Core, row by row", raw[True]),
        ("pipeline lifecycle", ours),
    )
    for label, side in sides:
        print(
            f"  {label:21s}{side['seconds']:8.2f} s wall = {rows / side['seconds']:>9,.0f} rows/s"
            f" = {n / side['seconds']:>8,.0f} cases/s; {side['cpu']:8.2f} s CPU"
        )
    print("  pipeline steps:", end="")
    for step in STEPS:
        print(f" {step} {ours[step] / n * 1e3:.2f}", end="")
    print(" ms per case")
    for label, base in (("executemany", raw[False]), ("row by row", raw[True])):
        wall = ours["seconds"] / base["seconds"]
        cpu = ours["cpu"] / base["cpu"]
        verdict = "met" if wall <= TARGET else "NOT met"
        print(
            f"ours / raw {label}: {wall:.1f}x by wall clock, {cpu:.1f}x by CPU time "
            f"(target within {TARGET:.0f}x: {verdict})"
        )


if __name__ == "__main__":
    main()
