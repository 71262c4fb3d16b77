"""Benchmark: routing time in a district with 100 handlers and in one with 100,000.

    /tmp/venv/bin/python benchmarks/routing_scale.py [--small 100] [--big 100000]
        [--cases 2000] [--rounds 5]

Builds two districts on SQLite with the same tree depth (see case_district.py: district,
street, community, grid, small grid; an A and a B on each small grid and a leader on each
grid, so every case sees three duties), submits ``--cases`` cases into each through the
pipeline (routed at intake, so handlers carry open cases), then times per case:

  choose  ``community365.cases.routing.choose`` for the case's small grid and service
          group: the area chain, the duties with availability and load, the choice;
  route   ``Pipeline.route``: the same with the case read, locked and its assign event
          written (in a transaction rolled back afterwards).

Rounds alternate between the two districts; each figure is the median over rounds of
the mean per case. Prints µs per case and big / small (target: within 1.5x). Measures;
never fails the build.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from case_district import Clock, build, draft
from sqlalchemy import select

from community365.cases import routing
from community365.db.schema import cases
from community365.district import District

TARGET = 1.5
BATCH = 1_000


def prepare(root: Path, handlers: int, n: int) -> tuple[District, list[tuple[str, int, str]]]:
    """A district with ``handlers`` and ``n`` routed cases; the cases' (ref, area, group)."""
    layout = build(root, handlers=handlers)
    clock = Clock()
    district = District.open(root, clock=clock, actor="office")
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        with district.begin() as ctx:
            pipeline = district.pipeline(ctx)
            for i in range(start, min(n, start + BATCH)):
                pipeline.submit(draft(layout, i, clock.now))  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    print(f"  {n:,} cases submitted at {n / seconds:,.0f} cases/s")
    with district.engine.connect() as conn:
        rows = conn.execute(select(cases.c.ref, cases.c.area_id, cases.c.service_group)).all()
    return district, [tuple(r) for r in rows]


def time_choose(district: District, work: list[tuple[str, int, str]]) -> float:
    """Mean seconds of one ``routing.choose``."""
    with district.begin() as ctx:
        started = time.perf_counter()
        for _, area_id, group in work:
            choice = routing.choose(ctx.connection, area_id, group, (), ctx.now, ctx.tz)
            assert choice.handler_id is not None, choice
        return (time.perf_counter() - started) / len(work)


def time_route(district: District, work: list[tuple[str, int, str]]) -> float:
    """Mean seconds of one ``Pipeline.route``, its writes rolled back."""
    with district.engine.connect() as conn:
        transaction = conn.begin()
        pipeline = district.pipeline(district.context(conn))
        started = time.perf_counter()
        for ref, _, _ in work:
            pipeline.route(ref)
        seconds = (time.perf_counter() - started) / len(work)
        transaction.rollback()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="handlers in the small district")
    parser.add_argument("--big", type=int, default=100_000, help="handlers in the big district")
    parser.add_argument("--cases", type=int, default=2_000, help="cases routed in each")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (median)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="c365-routing-"))
    try:
        districts = {}
        for label, handlers in (("small", args.small), ("big", args.big)):
            print(f"building the {label} district ...")
            districts[label] = prepare(work / label, handlers, args.cases)
        means: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for label, (district, cases_) in districts.items():
                for what, timer in (("choose", time_choose), ("route", time_route)):
                    means.setdefault((label, what), []).append(timer(district, cases_))
        for district, _ in districts.values():
            district.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    us = {key: statistics.median(values) * 1e6 for key, values in means.items()}
    print(f"routing {args.cases:,} cases, median of {args.rounds} rounds of the mean per case:")
    for what in ("choose", "route"):
        small, big = us[("small", what)], us[("big", what)]
        verdict = "met" if big <= TARGET * small else "NOT met"
        print(
            f"  {what:7s} {args.small:>7,} handlers {small:7.0f} µs   {args.big:>7,} handlers "
            f"{big:7.0f} µs   big / small {big / small:.2f}x (target within {TARGET}x: {verdict})"
        )


if __name__ == "__main__":
    main()
