"""The area tree: district → street → community → grid → small grid → building.

Codes are hierarchical: a child's code is its parent's code followed by the digits of its
own level (330212 → 330212001 → 330212001001 → 33021200100101 ...). Levels come from
``[areas] levels`` in district.toml; a child may skip levels (a building straight under a
grid), but never sits above its parent. A subtree is every code with the root's prefix.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from community365.config import DEFAULT_LEVELS, AreaLevel
from community365.db.schema import areas, households
from community365.errors import FieldError, NotFound
from community365.values import AreaView, Context


@attrs.frozen
class AreaNode:
    id: int
    code: str
    name: str
    level: str
    depth: int
    households: int = 0


def level_index(levels: Sequence[AreaLevel], key: str) -> int:
    for i, level in enumerate(levels):
        if level.key == key:
            return i
    raise FieldError(
        "level", f"unknown level {key!r} (levels: {', '.join(lv.key for lv in levels)})"
    )


def infer_level(levels: Sequence[AreaLevel], code: str) -> str:
    """The level whose cumulative digits equal the code's length (no skipped levels)."""
    total = 0
    for level in levels:
        total += level.digits
        if total == len(code):
            return level.key
    raise FieldError("level", f"cannot tell the level of code {code!r} from its length; give it")


def _row(conn: Connection, code: str) -> dict | None:
    row = conn.execute(select(areas).where(areas.c.code == code)).mappings().first()
    return dict(row) if row else None


def get_area(conn: Connection, code: str) -> AreaView:
    row = _row(conn, code)
    if row is None:
        raise NotFound(f"no area with code {code!r}")
    parent = None
    if row["parent_id"] is not None:
        parent = conn.execute(select(areas.c.code).where(areas.c.id == row["parent_id"])).scalar()
    return AreaView(code=row["code"], name=row["name"], level=row["level"], parent_code=parent)


def area_id(conn: Connection, code: str) -> int:
    found = conn.execute(select(areas.c.id).where(areas.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"no area with code {code!r}")
    return found


def check_code(levels: Sequence[AreaLevel], code: str, level: str, parent: AreaView | None) -> None:
    """Raise FieldError unless ``code`` is a valid code of ``level`` under ``parent``."""
    if not code.isascii() or not code.isdigit():
        raise FieldError("code", f"area codes are digits only, got {code!r}")
    index = level_index(levels, level)
    digits = levels[index].digits
    if parent is None:
        if index != 0:
            raise FieldError("parent", f"a {level} needs a parent area")
        expected = digits
        prefix = ""
    else:
        if index <= level_index(levels, parent.level):
            raise FieldError(
                "level", f"a {level} cannot sit under a {parent.level} ({parent.code})"
            )
        expected = len(parent.code) + digits
        prefix = parent.code
    if not code.startswith(prefix) or len(code) != expected:
        raise FieldError(
            "code",
            f"{code!r} is not a {level} code under {prefix or 'the root'}: expected "
            f"{prefix or ''}{'N' * digits} ({expected} digits)",
        )


def add_area(
    ctx: Context,
    levels: Sequence[AreaLevel],
    *,
    code: str,
    name: str,
    parent: str | None,
    level: str | None = None,
) -> AreaView:
    conn = ctx.connection
    if not name.strip():
        raise FieldError("name", "must not be empty")
    parent_view = get_area(conn, parent) if parent else None
    if level is None:
        level = _next_level(levels, parent_view)
    check_code(levels, code, level, parent_view)
    if _row(conn, code) is not None:
        raise FieldError("code", f"area {code} already exists")
    if parent_view is None and conn.execute(select(areas.c.id).limit(1)).first() is not None:
        raise FieldError("parent", "the district already has its root area; give --parent")
    conn.execute(
        insert(areas).values(
            code=code,
            name=name.strip(),
            level=level,
            parent_id=area_id(conn, parent) if parent else None,
        )
    )
    return AreaView(code=code, name=name.strip(), level=level, parent_code=parent)


def _next_level(levels: Sequence[AreaLevel], parent: AreaView | None) -> str:
    if parent is None:
        return levels[0].key
    index = level_index(levels, parent.level) + 1
    if index >= len(levels):
        raise FieldError("parent", f"{parent.code} is a {parent.level}: nothing goes below it")
    return levels[index].key


def rename_area(ctx: Context, code: str, name: str) -> AreaView:
    if not name.strip():
        raise FieldError("name", "must not be empty")
    view = get_area(ctx.connection, code)
    ctx.connection.execute(update(areas).where(areas.c.code == code).values(name=name.strip()))
    return attrs.evolve(view, name=name.strip())


def move_area(
    ctx: Context,
    levels: Sequence[AreaLevel],
    code: str,
    new_parent: str,
    new_code: str | None = None,
) -> AreaView:
    """Put an area under another parent. Its code, and its whole subtree's, take the new
    parent's prefix; by default the area keeps its own last digits."""
    conn = ctx.connection
    view = get_area(conn, code)
    parent = get_area(conn, new_parent)
    if new_parent == code or new_parent.startswith(code):
        raise FieldError("parent", f"cannot move {code} under itself or its own subtree")
    digits = levels[level_index(levels, view.level)].digits
    new_code = new_code or parent.code + code[-digits:]
    check_code(levels, new_code, view.level, parent)
    if new_code != code and _row(conn, new_code) is not None:
        raise FieldError("code", f"area {new_code} already exists; give a free --code")
    subtree = conn.execute(
        select(areas.c.id, areas.c.code).where(areas.c.code.startswith(code, autoescape=True))
    ).all()
    # Two passes: a temporary prefix first, so that no new code collides with an old one
    # of the same subtree while the unique constraint is checked row by row.
    for area_id_, old in subtree:
        conn.execute(update(areas).where(areas.c.id == area_id_).values(code="~" + old))
    for area_id_, old in subtree:
        conn.execute(
            update(areas).where(areas.c.id == area_id_).values(code=new_code + old[len(code) :])
        )
    conn.execute(
        update(areas).where(areas.c.code == new_code).values(parent_id=area_id(conn, parent.code))
    )
    return AreaView(code=new_code, name=view.name, level=view.level, parent_code=parent.code)


def tree(conn: Connection, root: str | None = None, depth: int | None = None) -> list[AreaNode]:
    """The subtree under ``root`` (the whole tree when None), in code order, each node
    with its depth below the root and the number of households in its own subtree."""
    query = select(areas.c.id, areas.c.code, areas.c.name, areas.c.level).order_by(areas.c.code)
    if root is not None:
        get_area(conn, root)
        query = query.where(areas.c.code.startswith(root, autoescape=True))
    rows = conn.execute(query).all()
    if not rows:
        return []
    parent_of = dict(conn.execute(select(areas.c.id, areas.c.parent_id)).all())
    direct = dict(
        conn.execute(
            select(households.c.area_id, func.count()).group_by(households.c.area_id)
        ).all()
    )
    ids = {r.id for r in rows}
    top = rows[0].id
    depth_of: dict[int, int] = {}
    totals = {r.id: direct.get(r.id, 0) for r in rows}
    for r in rows:  # code order puts parents first
        p = parent_of.get(r.id)
        depth_of[r.id] = 0 if r.id == top or p not in ids else depth_of[p] + 1
    for r in reversed(rows):  # children before parents: add each subtree's total upward
        p = parent_of.get(r.id)
        if r.id != top and p in ids:
            totals[p] += totals[r.id]
    return [
        AreaNode(r.id, r.code, r.name, r.level, depth_of[r.id], totals[r.id])
        for r in rows
        if depth is None or depth_of[r.id] <= depth
    ]


def guess_parent(conn: Connection, code: str) -> str | None:
    """The existing area whose code is the longest proper prefix of ``code``."""
    prefixes = [code[:i] for i in range(1, len(code))]
    if not prefixes:
        return None
    return conn.execute(
        select(areas.c.code)
        .where(areas.c.code.in_(prefixes))
        .order_by(func.length(areas.c.code).desc())
        .limit(1)
    ).scalar()


# -- import (c365 import areas) ----------------------------------------------------------------


@attrs.frozen
class AreaRecord:
    """One area row of an import file; ``level`` and ``parent`` may be left to inference."""

    code: str
    name: str
    level: str | None = None
    parent: str | None = None


def parse_area(fields: Mapping[str, str]) -> AreaRecord:
    """An :class:`AreaRecord` from the canonical fields code, name, level, parent."""
    code = fields.get("code", "").strip()
    if not code:
        raise FieldError("code", "must not be empty")
    if not code.isascii() or not code.isdigit():
        raise FieldError("code", f"area codes are digits only, got {code!r}")
    if len(code) > areas.c.code.type.length:
        raise FieldError("code", f"at most {areas.c.code.type.length} digits, got {len(code)}")
    name = fields.get("name", "").strip()
    if not name:
        raise FieldError("name", "must not be empty")
    if len(name) > areas.c.name.type.length:
        raise FieldError("name", f"at most {areas.c.name.type.length} characters")
    parent = fields.get("parent", "").strip() or None
    if parent is not None and (not parent.isascii() or not parent.isdigit()):
        raise FieldError("parent", f"area codes are digits only, got {parent!r}")
    return AreaRecord(code, name, fields.get("level", "").strip() or None, parent)


def upsert_areas(
    conn: Connection,
    records: Sequence[AreaRecord],
    levels: Sequence[AreaLevel] = DEFAULT_LEVELS,
) -> list[tuple[int, FieldError]]:
    """Insert or update (by code) ``records``, in any order: parents are written first.

    A record's parent is its ``parent`` or else the longest existing-or-imported code that
    is a proper prefix of its code; its level is its ``level`` (key or Chinese name) or
    else inferred from the code's length. Returns ``(index, error)`` for the records that
    do not fit the tree; the others are written. Never commits.
    """
    existing = conn.execute(select(areas.c.code, areas.c.level, areas.c.parent_id)).all()
    level_of = {row.code: row.level for row in existing}
    has_root = any(row.parent_id is None for row in existing)
    keys = {lv.name: lv.key for lv in levels}
    errors: list[tuple[int, FieldError]] = []
    placed: list[tuple[AreaRecord, str, str | None]] = []
    for index in sorted(range(len(records)), key=lambda i: len(records[i].code)):
        record = records[index]
        try:
            level, parent = _place(levels, level_of, keys, record, has_root)
        except FieldError as exc:
            errors.append((index, exc))
            continue
        level_of[record.code] = level
        has_root = has_root or parent is None
        placed.append((record, level, parent))
    _write_by_length(conn, placed)
    return errors


def _place(
    levels: Sequence[AreaLevel],
    level_of: dict[str, str],
    keys: Mapping[str, str],
    record: AreaRecord,
    has_root: bool,
) -> tuple[str, str | None]:
    """The level and parent code of ``record``, checked against the tree known so far."""
    parent = record.parent or _longest_prefix(level_of, record.code)
    if parent is not None and parent not in level_of:
        raise FieldError("parent", f"no area with code {parent!r}")
    level = keys.get(record.level, record.level) if record.level else None
    level = level or infer_level(levels, record.code)
    parent_view = AreaView(parent, "", level_of[parent], None) if parent else None
    check_code(levels, record.code, level, parent_view)
    if parent is None and has_root and record.code not in level_of:
        raise FieldError("parent", "the district already has its root area")
    return level, parent


def _longest_prefix(level_of: Mapping[str, str], code: str) -> str | None:
    for end in range(len(code) - 1, 0, -1):
        if code[:end] in level_of:
            return code[:end]
    return None


def _write_by_length(conn: Connection, placed: list[tuple[AreaRecord, str, str | None]]) -> None:
    """Upsert code-length group by group, so every parent has its id before its children."""
    ids: dict[str, int] = dict(conn.execute(select(areas.c.code, areas.c.id)).all())
    statement = _upsert_by_code(conn)
    for length, group in itertools.groupby(placed, key=lambda p: len(p[0].code)):
        rows = [
            {
                "code": record.code,
                "name": record.name,
                "level": level,
                "parent_id": ids[parent] if parent else None,
            }
            for record, level, parent in group
        ]
        conn.execute(statement, rows)
        ids.update(
            conn.execute(
                select(areas.c.code, areas.c.id).where(func.length(areas.c.code) == length)
            ).all()
        )


def _upsert_by_code(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(areas)
    return statement.on_conflict_do_update(
        index_elements=[areas.c.code],
        set_={
            "name": statement.excluded.name,
            "level": statement.excluded.level,
            "parent_id": statement.excluded.parent_id,
        },
    )
