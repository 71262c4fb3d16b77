"""The area tree through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import select

from community365.db.schema import areas, audit_log


def build(run):
    for code, name in [
        ("330212001", "百丈街道"),
        ("330212001001", "划船社区"),
        ("330212001002", "东郊社区"),
        ("33021200100101", "第一网格"),
        ("3302120010010101", "第一微网格"),
        ("3302120010010101001", "1幢"),
    ]:
        result = run("area", "add", code, name)
        assert result.exit_code == 0, result.output


def test_add_and_tree(run):
    build(run)
    result = run("area", "tree", "--json")
    nodes = json.loads(result.output)
    assert [(n["code"], n["level"], n["depth"]) for n in nodes] == [
        ("330212", "district", 0),
        ("330212001", "street", 1),
        ("330212001001", "community", 2),
        ("33021200100101", "grid", 3),
        ("3302120010010101", "small_grid", 4),
        ("3302120010010101001", "building", 5),
        ("330212001002", "community", 2),
    ]
    text = run("area", "tree", "330212001", "--depth", "1").output
    assert "百丈街道" in text and "划船社区" in text and "第一网格" not in text


def test_code_must_extend_parent(run):
    build(run)
    result = run("area", "add", "3302120019", "坏编码")
    assert result.exit_code == 2
    assert result.output.startswith("error: code:")
    assert "Traceback" not in result.output
    duplicate = run("area", "add", "330212001001", "again")
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output


def test_move_recodes_subtree(run, district):
    build(run)
    result = run("area", "move", "33021200100101", "330212001002")
    assert result.exit_code == 0, result.output
    with district.engine.connect() as conn:
        codes = set(conn.execute(select(areas.c.code)).scalars())
    assert "33021200100201" in codes
    assert "3302120010020101001" in codes
    assert not any(c.startswith("33021200100101") for c in codes)
    loop = run("area", "move", "330212001", "3302120010020101")
    assert loop.exit_code == 2 and "subtree" in loop.output


def test_rename_is_audited(run, district):
    build(run)
    assert run("area", "rename", "330212001001", "划船社区（新）", actor="俞书记").exit_code == 0
    assert "划船社区（新）" in run("area", "show", "330212001001").output
    with district.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.action == "area.rename")).one()
    assert row.actor == "俞书记" and row.subject == "330212001001"


def test_unknown_area(run):
    result = run("area", "show", "999999")
    assert result.exit_code == 2
    assert result.output.strip() == "error: no area with code '999999'"
