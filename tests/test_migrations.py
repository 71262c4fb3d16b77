"""Alembic branches of the core and the plugins, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from fake_dist import FakeSite, fake_site, install_table_plugin
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Engine

from community365.cli import cli
from community365.config import render_new, set_enabled
from community365.db import migrate, schema
from community365.db.engine import make_engine
from community365.db.schema import areas, duties, handlers, households, person_tags, persons, tags
from community365.district import District

BUNDLED = ("timebank", "elder_meals", "red_property")
# Each bundled plugin's revisions, oldest first.
REVISIONS = {
    "timebank": ["timebank_0001", "timebank_0002", "timebank_0003"],
    "elder_meals": ["elder_meals_0001"],
    "red_property": ["red_property_0001"],
}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    yield from fake_site(tmp_path, monkeypatch)


def c365(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", "tester", *args])


def status_json(run: Callable[..., Result]) -> dict[str, dict[str, Any]]:
    result = run("db", "status", "--json")
    assert result.exit_code == 0, result.output
    return {row["label"]: row for row in json.loads(result.stdout)}


def test_status_and_upgrade_in_text_and_json(
    run: Callable[..., Result], district: District
) -> None:
    rows = status_json(run)
    assert next(iter(rows)) == "community365"
    assert set(BUNDLED) <= set(rows)
    core = rows["community365"]
    assert core["current"] == core["head"] and core["pending"] == [] and core["up_to_date"]
    assert core["head"].startswith("c365_") and core["enabled"]
    for name in BUNDLED:
        assert rows[name] == {
            "label": name,
            "current": None,
            "head": REVISIONS[name][-1],
            "pending": REVISIONS[name],
            "enabled": False,
            "up_to_date": False,
        }

    table = run("db", "status").stdout.splitlines()
    assert table[0].split() == ["branch", "enabled", "current", "head", "pending"]
    assert table[1].split() == ["community365", "yes", core["head"], core["head"], "0"]
    assert ["timebank", "no", "-", "timebank_0003", "3"] in [line.split() for line in table]

    assert run("db", "upgrade").stdout == f"community365: up to date at {core['head']}\n"
    assert json.loads(run("db", "upgrade", "--json").stdout) == [
        {"label": "community365", "from": core["head"], "to": core["head"], "applied": []}
    ]

    set_enabled(district.root, ["timebank"])
    behind = run("area", "tree")
    assert behind.exit_code == 1
    assert behind.output == "error: database is not up to date; run 'c365 db upgrade'\n"
    assert status_json(run)["timebank"]["enabled"] is True

    upgraded = run("db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.stdout)[1] == {
        "label": "timebank",
        "from": None,
        "to": "timebank_0003",
        "applied": REVISIONS["timebank"],
    }
    assert status_json(run)["timebank"]["up_to_date"] is True
    assert run("area", "tree").exit_code == 0
    set_enabled(district.root, [])


def fresh_engine(db_url: str) -> Engine:
    return make_engine(db_url)


def everything(engine: Engine, tables: list[Any]) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in tables
        }


def test_an_older_database_upgrades_with_its_data(db_url: str, tmp_path: Path) -> None:
    engine = fresh_engine(db_url)
    migrate.upgrade_to(engine, {}, "c365_0001")
    old_tables = [areas, households, persons, tags, person_tags]
    assert set(inspect(engine).get_table_names()) >= {t.name for t in old_tables}
    assert "handlers" not in inspect(engine).get_table_names()

    with engine.begin() as conn:
        conn.execute(
            insert(areas),
            [
                {
                    "id": 1,
                    "code": "330212",
                    "name": "鄞州区",
                    "level": "district",
                    "parent_id": None,
                },
                {
                    "id": 2,
                    "code": "330212001",
                    "name": "百丈街道",
                    "level": "street",
                    "parent_id": 1,
                },
            ],
        )
        conn.execute(
            insert(households),
            [{"id": 1, "code": "H-001", "area_id": 2, "address": "划船新村1幢101", "phone": None}],
        )
        conn.execute(
            insert(persons),
            [
                {
                    "id": 1,
                    "id_number": "330212195001011234",
                    "name": "王阿姨",
                    "gender": "F",
                    "birth_date": dt.date(1950, 1, 1),
                    "phone": "13800000000",
                    "household_id": 1,
                },
                {
                    "id": 2,
                    "id_number": None,
                    "name": "小王",
                    "gender": None,
                    "birth_date": None,
                    "phone": None,
                    "household_id": 1,
                },
            ],
        )
        conn.execute(insert(tags).values(name="志愿者", name_en="volunteer"))
        lonely = conn.execute(select(tags.c.id).where(tags.c.name == "独居")).scalar_one()
        conn.execute(insert(person_tags), [{"person_id": 1, "tag_id": lonely}])
    before = everything(engine, old_tables)
    assert len(before["tags"]) > 1 and before["person_tags"] == [(1, lonely)]

    root = tmp_path / "old"
    root.mkdir()
    (root / "district.toml").write_text(render_new("鄞州区", "330212", db_url), encoding="utf-8")
    core = status_json(lambda *a: c365(root, *a))["community365"]
    assert core["current"] == "c365_0001" and core["pending"][0] == "c365_0002"

    upgraded = c365(root, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"community365: c365_0001 -> {core['head']}\n"
    assert everything(engine, old_tables) == before

    district = District.open(root, actor="tester")
    district.require_current()
    with district.begin() as ctx:
        handler = ctx.connection.execute(
            insert(handlers).values(code="W-01", name="王网格", kind="staff", person_id=1)
        ).inserted_primary_key[0]
        ctx.connection.execute(insert(duties).values(handler_id=handler, area_id=2, role="A"))
        district.audit(ctx, "test.upgrade", "W-01")
    with district.engine.connect() as conn:
        assert conn.execute(select(duties.c.role)).scalars().all() == ["A"]
        for table in schema.metadata.sorted_tables:
            conn.execute(select(table)).all()  # every table of the schema exists and reads
    district.engine.dispose()
    engine.dispose()


def test_the_schema_module_and_the_migrations_agree(make_district: Callable[..., District]) -> None:
    district = make_district()
    engine = district.engine
    core_tables = set(inspect(engine).get_table_names())
    declared = [schema.metadata]
    undeclared: set[str] = set()
    for label, branch in district.migration_branches().items():
        if label not in BUNDLED:
            continue
        tables_before = set(inspect(engine).get_table_names())
        district.upgrade(extra_labels=[label])
        created = set(inspect(engine).get_table_names()) - tables_before
        if branch.metadata is not None:
            declared.append(branch.metadata)
            assert created == set(branch.metadata.tables), label
        else:
            undeclared |= created
    assert core_tables - {"alembic_version"} == set(schema.metadata.tables)

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                # SQLite reflects server defaults as raw SQL text ("''" against ""), which
                # Alembic reports as changes; PostgreSQL compares them faithfully.
                "compare_server_default": conn.dialect.name == "postgresql",
                "include_name": lambda name, kind, _: kind != "table" or name not in undeclared,
            },
        )
        differences = compare_metadata(context, declared)
    assert differences == []
    district.engine.dispose()


def test_a_failing_migration_changes_nothing(
    site: FakeSite, run: Callable[..., Result], district: District
) -> None:
    install_table_plugin(site, "good")
    install_table_plugin(site, "bad", fails=True)
    set_enabled(district.root, ["good", "bad"])
    result = run("db", "upgrade")
    assert result.exit_code == 1
    assert result.output == (
        "error: migration of 'bad' failed, nothing was changed: RuntimeError: boom\n"
    )
    tables = set(inspect(district.engine).get_table_names())
    assert "good_notes" not in tables and "bad_notes" not in tables
    rows = status_json(run)
    assert rows["good"]["current"] is None and rows["bad"]["current"] is None


def test_a_revision_no_installed_plugin_knows(
    site: FakeSite, run: Callable[..., Result], district: District
) -> None:
    install_table_plugin(site, "notes")
    assert run("plugins", "enable", "notes").exit_code == 0
    assert run("plugins", "disable", "notes").exit_code == 0
    sys.path.remove(str(site.path))  # uninstalled, its revision still in the database

    expected = (
        "error: database is at unknown revision(s) notes_0001 "
        "(a plugin that migrated it is no longer installed?)\n"
    )
    for args in (["db", "status"], ["db", "upgrade"], ["area", "tree"]):
        result = run(*args)
        assert result.exit_code == 1
        assert result.output == expected


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
    (tmp_path / "district.toml").write_text(render_new("鄞州区", "330212", url), encoding="utf-8")
    for args in (["db", "status"], ["db", "upgrade"], ["area", "tree"]):
        result = c365(tmp_path, *args)
        assert result.exit_code == 1
        assert result.output.startswith(f"error: cannot open database {url}: ")
        assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
