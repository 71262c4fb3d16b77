"""``c365 demo``: the demo district, built from the shipped ledgers, as a user runs it.

The demo is SQLite by design (it is what a newcomer runs first), so these tests do not
take ``db_url``. The district is built once for the module: it is read-only afterwards.
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from community365.cli import cli
from community365.db import schema
from community365.district import District
from community365.registry.idcard import parse_id_number

DEMO_FILES = ("areas.csv", "households.csv", "persons.csv", "handlers.csv", "duties.csv")


def c365(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--as", "tester", *args])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Result]]:
    directory = tmp_path_factory.mktemp("demo") / "demo-district"
    yield directory, c365("demo", str(directory))


@pytest.fixture(scope="module")
def demo(built: tuple[Path, Result]) -> Iterator[District]:
    directory, result = built
    assert result.exit_code == 0, result.output
    district = District.open(directory, actor="tester")
    yield district
    district.engine.dispose()


def count(district: District, query) -> int:
    with district.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def levels(district: District) -> collections.Counter[str]:
    with district.engine.connect() as conn:
        return collections.Counter(conn.execute(select(schema.areas.c.level)).scalars())


def test_tree_has_the_demo_shape(demo: District) -> None:
    found = levels(demo)
    assert (found["district"], found["street"], found["community"]) == (1, 1, 2)
    assert (found["grid"], found["small_grid"]) == (3, 9)
    assert found["building"] >= 9
    with demo.engine.connect() as conn:
        codes = set(conn.execute(select(schema.areas.c.code)).scalars())
    assert {"330212", "330212001", "330212001001"} <= codes


def test_every_small_grid_has_a_and_b_and_every_grid_a_leader(demo: District) -> None:
    areas, duties = schema.areas, schema.duties
    with demo.engine.connect() as conn:
        rows = conn.execute(
            select(areas.c.code, areas.c.level, duties.c.role)
            .join(duties, duties.c.area_id == areas.c.id)
            .where(duties.c.service_group == "")
        ).all()
        grids = conn.execute(
            select(areas.c.code, areas.c.level).where(areas.c.level.in_(["grid", "small_grid"]))
        ).all()
    roles: dict[str, set[str]] = collections.defaultdict(set)
    for code, _, role in rows:
        roles[code].add(role)
    for code, level in grids:
        wanted = {"A", "B"} if level == "small_grid" else {"leader"}
        assert wanted <= roles[code], f"{level} {code} has roles {roles[code]}"


def test_households_and_residents(demo: District) -> None:
    households = count(demo, select(func.count()).select_from(schema.households))
    assert 250 <= households <= 350
    with demo.engine.connect() as conn:
        ids = conn.execute(select(schema.persons.c.id_number)).scalars().all()
        building_of = dict(
            conn.execute(
                select(schema.households.c.code, schema.areas.c.level).join(schema.areas)
            ).all()
        )
    assert 700 <= len(ids) <= 800
    parsed = [parse_id_number(number) for number in ids]  # raises on any invalid number
    assert {p.region for p in parsed} == {"330212"}
    assert set(building_of.values()) == {"building"}
    assert all(re.fullmatch(r"\d{19}-\d{4}", code) for code in building_of)


def test_elders_and_tags_are_plausible(demo: District) -> None:
    """Many elders in every band of the 6789 scheme; those living alone (独居) live alone."""
    p, t, pt = schema.persons, schema.tags, schema.person_tags
    with demo.engine.connect() as conn:
        births = conn.execute(select(p.c.birth_date)).scalars().all()
        tagged = conn.execute(
            select(t.c.name, p.c.household_id).join(pt, pt.c.tag_id == t.c.id).join(p)
        ).all()
        sizes = dict(
            conn.execute(select(p.c.household_id, func.count()).group_by(p.c.household_id)).all()
        )
    ages = [2026 - b.year - 1 for b in births]  # ages on 2026-01-01, the data's reference day
    for low in (60, 70, 80, 90):
        assert sum(low <= a < low + 10 for a in ages) >= 5, f"too few aged {low}-{low + 9}"
    assert sum(a >= 60 for a in ages) / len(ages) > 0.25
    per_tag = collections.Counter(name for name, _ in tagged)
    assert set(per_tag) == {"独居", "残疾", "低保", "特困", "党员", "重点服务对象"}
    assert 0.05 < per_tag["党员"] / len(ages) < 0.11  # 816 of 10,420 in 划船社区
    assert all(sizes[household] == 1 for name, household in tagged if name == "独居")


def test_volunteers_link_to_residents(demo: District) -> None:
    h = schema.handlers
    kinds = dict(_rows(demo, select(h.c.kind, func.count()).group_by(h.c.kind)))
    assert kinds["staff"] >= 2 * 9 + 3 and kinds["team"] >= 2 and kinds["organisation"] >= 2
    linked = count(
        demo,
        select(func.count())
        .select_from(h)
        .where(h.c.kind == "volunteer", h.c.person_id.is_not(None)),
    )
    assert 0 < linked < kinds["volunteer"]
    skills = set(_rows(demo, select(schema.handler_skills.c.skill).distinct()))
    assert {("理发",), ("维修",), ("陪护",), ("法律咨询",), ("心理疏导",)} <= skills


def _rows(district: District, query) -> list[tuple]:
    with district.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_imports_are_audited_as_the_actor(demo: District) -> None:
    log = schema.audit_log
    actions = _rows(demo, select(log.c.action, log.c.actor).order_by(log.c.id))
    assert actions[0] == ("district.init", "tester")
    assert [a for a, _ in actions[1:6]] == [
        "import.areas",
        "import.households",
        "import.persons",
        "import.handlers",
        "import.duties",
    ]
    assert {actor for _, actor in actions[:6]} == {"tester"}
    # then the weeks: the time bank's writes (and a volunteer's sick leave), each audited
    # as whoever took the step, never as the one who ran `c365 demo`
    later = actions[6:]
    assert {action.split(".")[0] for action, _ in later} <= {"timebank", "handler"}
    assert "tester" not in {actor for _, actor in later}


def test_output_shows_tree_plugins_and_next_steps(built: tuple[Path, Result]) -> None:
    directory, result = built
    out = result.output
    assert "330212001001  划船社区  [社区]" in out and "七塔社区" in out
    assert re.search(r"3302120010010101  第一微网格（划船新村）  \[微网格\]  \d+ 户", out)
    order = [out.index(f". {name}") for name in ("timebank", "elder_meals", "red_property")]
    assert order == sorted(order)
    assert f"cd {directory}" in out and "c365 person list --tag 独居" in out


def test_second_demo_refuses(built: tuple[Path, Result], monkeypatch) -> None:
    directory, _ = built
    before = sorted(p.name for p in directory.iterdir())
    monkeypatch.chdir(directory.parent)  # the default DIRECTORY is ./demo-district
    for args in (("demo", str(directory)), ("demo",)):
        result = c365(*args)
        assert result.exit_code == 2
        assert result.output.count("\n") == 1
        assert result.output.startswith("error: ") and "already exists" in result.output
    assert sorted(p.name for p in directory.iterdir()) == before


def test_demo_json(tmp_path: Path) -> None:
    result = c365("demo", str(tmp_path / "d"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["name"] for p in data["plugins"]] == ["timebank", "elder_meals", "red_property"]
    assert data["counts"]["households"] == sum(
        n["households"] for n in data["tree"] if n["level"] == "small_grid"
    )


def test_failed_demo_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from community365.cli import demo

    broken = (*demo.DEMO_FILES[:2], ("persons", "no-such-file.csv"))
    monkeypatch.setattr(demo, "DEMO_FILES", broken)
    fresh = tmp_path / "fresh"
    result = c365("demo", str(fresh))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith("error: ") and "Traceback" not in result.output
    assert not fresh.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine", encoding="utf-8")
    assert c365("demo", str(kept)).exit_code == 2
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def test_generator_is_deterministic(tmp_path: Path) -> None:
    """Regenerating (in a fresh process, another hash seed) gives the shipped bytes."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-m", "community365.demo_district.generate", str(tmp_path)],
        check=True,
        env=env,
        capture_output=True,
    )
    shipped = importlib.resources.files("community365.demo_district")
    for name in DEMO_FILES:
        assert (tmp_path / name).read_bytes() == shipped.joinpath(name).read_bytes(), name


def test_commented_settings_are_the_defaults(tmp_path: Path) -> None:
    """Uncommenting every setting in the demo district.toml changes nothing: the comments
    document the real keys and defaults of each plugin."""
    from community365.cli.demo import demo_toml

    text = re.sub(r"(?m)^# (?=\[\[plugins\.|\w+ = )", "", demo_toml())
    assert text != demo_toml()
    (tmp_path / "district.toml").write_text(text, encoding="utf-8")
    uncommented = District.open(tmp_path)
    schemas = uncommented.host.settings_schemas()
    assert set(uncommented.settings) == {"timebank", "elder_meals", "red_property"}
    for name, settings in uncommented.settings.items():
        assert settings == schemas[name](), name


# -- the time bank in the demo's weeks (community365.demo_district.timebank) ---------------


def _figure(output: str, label: str) -> float:
    found = re.search(rf"  {label}\s+([\d.]+) ", output)
    assert found, f"no figure {label!r} in the demo's output"
    return float(found.group(1))


def test_time_bank_figures_are_printed(built: tuple[Path, Result]) -> None:
    """The weeks use the time bank the demo enables: its figures are not all zero."""
    _, result = built
    out = result.output
    assert _figure(out, "hours earned") > 0
    assert _figure(out, "active volunteers") > 0
    assert _figure(out, "members") > _figure(out, "active volunteers")
    assert _figure(out, "hours spent") + _figure(out, "hours donated") > 0


def test_time_bank_was_used(demo: District) -> None:
    """Volunteers and residents joined; matched volunteers served time-bank requests; the
    hours were signed off by a second person and then spent, given or donated."""
    from community365_timebank.tables import accounts, pending, transfers

    h, c = schema.handlers, schema.cases
    kinds = collections.Counter(
        dict(_rows(demo, select(transfers.c.kind, func.count()).group_by(transfers.c.kind)))
    )
    decided = collections.Counter(
        dict(_rows(demo, select(pending.c.status, func.count()).group_by(pending.c.status)))
    )
    assert kinds["earn"] > 0 and decided["verified"] == kinds["earn"]  # one per record
    assert kinds["spend"] + kinds["gift"] + kinds["donate"] > 0
    signed = set(_rows(demo, select(pending.c.verified_as).where(pending.c.status == "verified")))
    assert signed == {("recipient",), ("coordinator",)}
    # every volunteer who is a resident is a member, through the resident they are
    residents = {
        p
        for (p,) in _rows(
            demo, select(h.c.person_id).where(h.c.kind == "volunteer", h.c.person_id.is_not(None))
        )
    }
    members = {
        p for (p,) in _rows(demo, select(accounts.c.person_id).where(accounts.c.kind == "member"))
    }
    assert residents < members
    assert count(demo, select(func.count()).select_from(accounts).where(accounts.c.kind == "team"))
    # the requests were routed to matched volunteers, who did the work
    served = _rows(
        demo,
        select(c.c.service, h.c.kind)
        .join(h, h.c.id == c.c.handler_id)
        .where(c.c.service.like("timebank.%"), c.c.status.in_(["resolved", "closed"])),
    )
    assert {service for service, _ in served} >= {"timebank.help", "timebank.escort"}
    assert sum(kind == "volunteer" for _, kind in served) > len(served) / 2


def test_time_bank_reconciles(built: tuple[Path, Result]) -> None:
    directory, _ = built
    result = c365("--district", str(directory), "timebank", "reconcile")
    assert result.exit_code == 0, result.output
    assert "every balance equals the sum of its entries" in result.output


@pytest.fixture(scope="module")
def unrun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo district before its weeks (``--weeks 0``), for tests to copy and run."""
    directory = tmp_path_factory.mktemp("unrun") / "demo-district"
    assert c365("demo", str(directory), "--weeks", "0").exit_code == 0
    return directory


def _week(unrun: Path, into: Path, toml: str | None = None) -> tuple[list[tuple], list[tuple]]:
    """Run a week of the demo in a copy of ``unrun`` (with another district.toml); return
    its cases (ref, service, status, received, handler) and time-bank transfers."""
    from community365.demo_district.simulate import simulate

    shutil.copytree(unrun, into)
    if toml is not None:
        (into / "district.toml").write_text(toml, encoding="utf-8")
    summary = simulate(into, weeks=1, end=dt.date(2026, 11, 26), actor="tester")
    assert summary.submitted > 0
    district = District.open(into, actor="tester")
    try:
        c, h = schema.cases, schema.handlers
        found = _rows(
            district,
            select(c.c.ref, c.c.service, c.c.status, c.c.received_at, h.c.code)
            .outerjoin(h, h.c.id == c.c.handler_id)
            .order_by(c.c.id),
        )
        if "timebank" not in district.host.enabled:
            return found, []
        from community365_timebank.tables import transfers as t

        moved = _rows(
            district,
            select(t.c.kind, t.c.from_account, t.c.to_account, t.c.minutes, t.c.at).order_by(
                t.c.id
            ),
        )
        return found, moved
    finally:
        district.engine.dispose()


@pytest.fixture(scope="module")
def a_week(unrun: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple], ...]:
    return _week(unrun, tmp_path_factory.mktemp("week") / "demo-district")


def test_weeks_are_deterministic(unrun: Path, a_week: tuple, tmp_path: Path) -> None:
    """The same week again: the same cases, handlers and time-bank transfers."""
    assert _week(unrun, tmp_path / "again") == a_week
    assert a_week[1], "the week moved no hours"


def test_weeks_run_without_the_time_bank(unrun: Path, a_week: tuple, tmp_path: Path) -> None:
    """A district that does not enable the time bank runs the same core demands, without
    it: the time bank's part draws from its own generator."""
    shipped = (unrun / "district.toml").read_text(encoding="utf-8")
    toml = shipped.replace('enabled = ["timebank", ', "enabled = [")
    assert toml != shipped
    without, moved = _week(unrun, tmp_path / "plain", toml)
    assert without and not moved
    assert not any(service.startswith("timebank.") for _, service, *_ in without)
    core = [row[1:] for row in a_week[0] if not row[1].startswith("timebank.")]
    assert [row[1:] for row in without] == core
