"""Benchmark: the latency of one case submitted in its own durable transaction, on SQLite.

    /tmp/venv/bin/python benchmarks/case_latency.py [--submits 2000] [--handlers 1000]

Builds a district (see case_district.py) on SQLite with the district's own settings
(WAL, synchronous FULL: every commit is synced to disk), then times, interleaved so
that a busy disk or CPU slows both alike:

  ours  ``with district.begin() as ctx: district.pipeline(ctx).submit(draft)``: intake,
        deadlines, routing, the case row and its submit and assign events, the commit;
  raw   one SQLAlchemy Core insert of a case row and one of its event row, and the
        commit, in a separate SQLite file with the same tables and settings.

The first ``--warmup`` of each are not counted. Prints p50, p99 and max in ms (target
for ours: p99 under 10 ms). Measures; never fails the build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from case_district import Clock, build, draft
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from community365.db.engine import make_engine
from community365.db.schema import areas, case_events, cases, metadata
from community365.district import District

TARGET_P99_MS = 10.0


def raw_engine(path: Path) -> Engine:
    """A fresh SQLite file with the core's tables, the district's pragmas and one area."""
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(areas).values(id=1, code="330212", name="基准区", level="district"))
    return engine


def raw_submit(engine: Engine, i: int, at: dt.datetime) -> None:
    row = {
        "ref": f"2026-{i + 1:06d}",
        "service": "repair",
        "service_group": "repair",
        "channel": "hotline",
        "status": "received",
        "area_id": 1,
        "contact": f"路人{i} 139{i:08d}",
        "text": "楼道路灯坏了，请派人维修",
        "fields": {},
        "received_at": at,
        "reply_by": at + dt.timedelta(hours=1),
        "resolve_by": at + dt.timedelta(days=3),
    }
    with engine.begin() as conn:
        case_id = conn.execute(insert(cases).values(row).returning(cases.c.id)).scalar_one()
        conn.execute(
            insert(case_events).values(
                case_id=case_id,
                at=at,
                actor="office",
                action="submit",
                to_status="received",
                note="hotline",
                changes={k: str(v) for k, v in row.items()},
            )
        )


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in ms."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3, max(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=2_000, help="submits timed")
    parser.add_argument("--warmup", type=int, default=50, help="submits not counted")
    parser.add_argument("--handlers", type=int, default=1_000, help="handlers (25 per grid)")
    parser.add_argument("--households", type=int, default=10, help="households per small grid")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="c365-latency-"))
    try:
        print(f"building the district in {work} ...")
        layout = build(
            work / "district", handlers=args.handlers, households_per_small_grid=args.households
        )
        clock = Clock()
        district = District.open(work / "district", clock=clock, actor="office")
        raw = raw_engine(work / "raw.db")
        ours_s: list[float] = []
        raw_s: list[float] = []
        for i in range(args.warmup + args.submits):
            d = draft(layout, i, clock.now)
            t0 = time.perf_counter()
            with district.begin() as ctx:
                district.pipeline(ctx).submit(d)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            raw_submit(raw, i, clock.now)
            t2 = time.perf_counter()
            if i >= args.warmup:
                ours_s.append(t1 - t0)
                raw_s.append(t2 - t1)
        district.engine.dispose()
        raw.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.submits:,} submits on SQLite (WAL, synchronous FULL), one transaction each,"
        f" after {args.warmup} not counted"
    )
    for label, samples in (("raw case+event insert", raw_s), ("pipeline submit", ours_s)):
        p50, p99, top = percentiles(samples)
        print(f"  {label:22s} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {top:7.2f} ms")
    p50, p99, _ = percentiles(ours_s)
    raw50, raw99, _ = percentiles(raw_s)
    verdict = "met" if p99 < TARGET_P99_MS else "NOT met"
    print(
        f"ours / raw: {p50 / raw50:.1f}x at p50, {p99 / raw99:.1f}x at p99 "
        f"(target p99 < {TARGET_P99_MS:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
