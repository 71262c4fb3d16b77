"""Benchmark: importing a persons ledger, against the bare database doing the same writes.

    /tmp/venv/bin/python benchmarks/import_persons.py [--rows 1000000] [--keep] [--profile]

Generates a CSV of N persons with valid ID numbers (GB 11643 check characters) living in
N/3 households, then, in the same run and each in its own process (so peak memory is each
one's own):

  raw   the csv module reads the file and sqlite3 ``executemany`` inserts the same rows
        into a fresh SQLite file with the same tables and pragmas (WAL, synchronous FULL,
        foreign keys), in one transaction, doing only the mapping the database needs
        (gender 男/女 to M/F, household code to id);
  ours  ``community365.imports.import_file`` into a fresh district on SQLite: detection
        of the encoding, header matching, validation of every field (ID number check
        character, birth date and gender against the ID, phone), duplicate detection,
        batched upserts, the audit row; all in one transaction.

Prints rows/s of each, ours as a share of raw (target: at least 50%) and each one's peak
memory (target for ours: under 200 MB). ``--profile`` runs ours under cProfile (slower,
so its figures are not comparable) and prints its costliest calls on stderr. Measures;
never fails the build.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import json
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["姓名", "身份证号", "性别", "出生日期", "联系电话", "户号"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
GRIDS = 99  # 33021200100101 .. 33021200100199
PER_HOUSEHOLD = 3


def household_code(index: int) -> str:
    return f"H{index:07d}"


def generate(directory: Path, rows: int) -> tuple[Path, Path, Path]:
    """Write areas.csv, households.csv and persons.csv (UTF-8) for ``rows`` persons."""
    from community365.registry.idcard import make_id_number

    areas = directory / "areas.csv"
    with areas.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["区域编码", "区域名称"])
        out.writerow(["330212001", "百丈街道"])
        out.writerow(["330212001001", "划船社区"])
        out.writerows([f"330212001001{g:02d}", f"第{g}网格"] for g in range(1, GRIDS + 1))
    households = directory / "households.csv"
    count = (rows + PER_HOUSEHOLD - 1) // PER_HOUSEHOLD
    with households.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["户号", "网格编码", "地址"])
        out.writerows(
            [
                household_code(h),
                f"330212001001{h % GRIDS + 1:02d}",
                f"划船社区{h // 10}幢{h % 10}室",
            ]
            for h in range(count)
        )
    persons = directory / "persons.csv"
    first_day = dt.date(1930, 1, 1)
    days = (dt.date(2010, 12, 31) - first_day).days
    with persons.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            birth = first_day + dt.timedelta(days=i % days)
            sequence = i // days  # (day, sequence) pairs never repeat: unique ID numbers
            out.writerow(
                [
                    SURNAMES[i % 20] + GIVEN[i // 20 % 20] + GIVEN[i // 400 % 20],
                    make_id_number("330212", birth, sequence),
                    "男" if sequence % 2 else "女",
                    birth.isoformat() if i % 2 else "",
                    f"138{i:08d}" if i % 3 else "",
                    household_code(i // PER_HOUSEHOLD),
                ]
            )
    return areas, households, persons


# -- raw: the csv module and sqlite3 executemany --------------------------------------------


def prepare_raw(database: Path, households_csv: Path) -> None:
    """A fresh SQLite file with the core's tables, and the households (not timed)."""
    from sqlalchemy import create_engine

    from community365.db.schema import metadata

    engine = create_engine(f"sqlite:///{database}")
    metadata.create_all(engine)
    engine.dispose()
    conn = raw_connection(database)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO areas (id, code, name, level) VALUES (1, '330212', 'd', 'district')")
    with households_csv.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        conn.executemany(
            "INSERT INTO households (code, area_id, address) VALUES (?, 1, ?)",
            ((row[0], row[2]) for row in reader),
        )
    conn.execute("COMMIT")
    conn.close()


def raw_connection(database: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def run_raw(database: Path, persons_csv: Path) -> int:
    conn = raw_connection(database)
    conn.execute("BEGIN")
    household_ids = dict(conn.execute("SELECT code, id FROM households"))
    genders = {"男": "M", "女": "F"}
    with persons_csv.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        conn.executemany(
            "INSERT INTO persons (name, id_number, gender, birth_date, phone, household_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (r[0], r[1], genders[r[2]], r[3] or None, r[4] or None, household_ids[r[5]])
                for r in reader
            ),
        )
    conn.execute("COMMIT")
    rows = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
    conn.close()
    return rows


# -- ours: import_file into a district ------------------------------------------------------


def prepare_ours(root: Path, areas_csv: Path, households_csv: Path) -> None:
    """A fresh district on SQLite with the areas and households the persons refer to."""
    from community365.cli.init import create_district
    from community365.district import District
    from community365.imports import import_file

    create_district(
        root, name="鄞州区", code="330212", database="sqlite:///district.db", actor="bench"
    )
    district = District.open(root, actor="bench")
    import_file(district, "areas", areas_csv)
    started = time.perf_counter()
    summary = import_file(district, "households", households_csv)
    seconds = time.perf_counter() - started
    print(
        f"  (setup: {summary.rows:,} households imported at {summary.rows / seconds:,.0f} rows/s)"
    )
    district.engine.dispose()


def run_ours(root: Path, persons_csv: Path) -> int:
    from community365.district import District
    from community365.imports import import_file

    district = District.open(root, actor="bench")
    summary = import_file(district, "persons", persons_csv)
    district.engine.dispose()
    return summary.written


# -- driver ---------------------------------------------------------------------------------


def child(kind: str, target: Path, persons_csv: Path, profile: bool = False) -> None:
    """Run one side in this process and print its seconds, rows and peak memory as JSON."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    run = run_raw if kind == "raw" else run_ours
    if profile:
        profiler = cProfile.Profile()
        rows = profiler.runcall(run, target, persons_csv)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    else:
        rows = run(target, persons_csv)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak_mb = usage.ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mb": peak_mb}))


def measure(kind: str, target: Path, persons_csv: Path, profile: bool = False) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, str(target), str(persons_csv)]
    done = subprocess.run(
        [*command, *(["--profile"] if profile else [])], check=True, capture_output=True, text=True
    )
    sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="persons to import")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--profile", action="store_true", help="profile ours (see above)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, target, persons_csv = args.child
        child(kind, Path(target), Path(persons_csv), args.profile)
        return
    work = Path(tempfile.mkdtemp(prefix="c365-bench-"))
    try:
        print(f"generating {args.rows:,} persons in {work} ...")
        areas_csv, households_csv, persons_csv = generate(work, args.rows)
        print(f"  persons.csv: {persons_csv.stat().st_size / 1e6:.1f} MB")
        prepare_raw(work / "raw.db", households_csv)
        prepare_ours(work / "district", areas_csv, households_csv)
        raw = measure("raw", work / "raw.db", persons_csv)
        ours = measure("ours", work / "district", persons_csv, args.profile)
        report(raw, ours)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(raw: dict[str, float], ours: dict[str, float]) -> None:
    """Rows/s by wall clock and by CPU time (steadier on a shared machine), and the ratios."""
    for label, side in (("raw sqlite3 executemany", raw), ("c365 import_file", ours)):
        print(
            f"{label:24s} {side['rows']:>9,} rows in {side['seconds']:7.2f} s wall "
            f"= {side['rows'] / side['seconds']:>8,.0f} rows/s; {side['cpu']:7.2f} s CPU "
            f"= {side['rows'] / side['cpu']:>8,.0f} rows/s; peak {side['peak_mb']:4.0f} MB"
        )
    wall = raw["seconds"] / ours["seconds"]
    cpu = raw["cpu"] / ours["cpu"]
    print(
        f"ours / raw: {wall:.0%} by wall clock, {cpu:.0%} by CPU time (target >= 50%: "
        f"{'met' if min(wall, cpu) >= 0.5 else 'NOT met'}); "
        f"peak memory {ours['peak_mb']:.0f} MB (target < 200 MB: "
        f"{'met' if ours['peak_mb'] < 200 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
