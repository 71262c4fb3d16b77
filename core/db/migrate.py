"""Alembic, driven from code: one branch for the core, one per plugin.

Every branch lives in the same ``alembic_version`` table (one row per branch head). The
script directory always contains the core and every plugin that can be loaded, enabled or
not, so a database that a since-disabled plugin once migrated still makes sense; only the
branches asked for are upgraded. All upgrades of one call run in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from community365.errors import DatabaseError
from community365.values import MigrationBranch

CORE_BRANCH = "community365"
_HERE = Path(__file__).parent / "migrations"
CORE = MigrationBranch(label=CORE_BRANCH, versions=_HERE / "versions")


@attrs.frozen
class BranchStatus:
    """Where one branch stands: ``current`` is None when it was never migrated."""

    label: str
    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def _config(connection: Connection | None, branches: Sequence[MigrationBranch]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(b.versions) for b in branches))
    cfg.attributes["connection"] = connection
    return cfg


def _all(plugin_branches: Mapping[str, MigrationBranch]) -> list[MigrationBranch]:
    return [CORE, *plugin_branches.values()]


def upgrade(
    engine: Engine,
    plugin_branches: Mapping[str, MigrationBranch],
    labels: Sequence[str],
) -> list[BranchStatus]:
    """Upgrade the core and the branches named in ``labels`` to their heads, atomically.

    Returns the status of every branch upgraded, as it was before the upgrade.
    """
    branches = _all(plugin_branches)
    before = [s for s in status(engine, plugin_branches) if s.label in {CORE_BRANCH, *labels}]
    label = CORE_BRANCH
    try:
        with engine.begin() as conn:
            cfg = _config(conn, branches)
            for label in (CORE_BRANCH, *labels):
                command.upgrade(cfg, f"{label}@head")
    except CommandError as exc:
        raise DatabaseError(f"migration failed: {exc}") from None
    except Exception as exc:  # a revision's own code or SQL failed; the transaction undid all
        reason = " ".join(str(exc).split("\n", 1)[0].split()) or "no message"
        raise DatabaseError(
            f"migration of {label!r} failed, nothing was changed: {type(exc).__name__}: {reason}"
        ) from exc
    return before


def upgrade_to(engine: Engine, plugin_branches: Mapping[str, MigrationBranch], rev: str) -> None:
    """Upgrade to one revision (tests and support use this to build older databases)."""
    with engine.begin() as conn:
        command.upgrade(_config(conn, _all(plugin_branches)), rev)


def status(engine: Engine, plugin_branches: Mapping[str, MigrationBranch]) -> list[BranchStatus]:
    branches = _all(plugin_branches)
    script = _script(branches)
    with engine.connect() as conn:
        current_heads = set(MigrationContext.configure(conn).get_current_heads())
    unknown = {h for h in current_heads if not _exists(script, h)}
    if unknown:
        raise DatabaseError(
            "database is at unknown revision(s) "
            + ", ".join(sorted(unknown))
            + " (a plugin that migrated it is no longer installed?)"
        )
    applied = _ancestors(script, current_heads)
    result = []
    for branch in branches:
        try:
            chain = _chain(script, branch.label)
        except CommandError as exc:
            raise DatabaseError(f"migrations of {branch.label!r} are broken: {exc}") from None
        current = next((rev for rev in chain if rev in applied), None)
        pending = chain[: chain.index(current)] if current else chain
        result.append(BranchStatus(branch.label, current, chain[0], tuple(reversed(pending))))
    return result


#: Parsed script directories, by their version directories and those directories' mtimes
#: (a revision file added or removed changes them): every command checks that the
#: database is current, and reading the revision files is most of that check's time.
_SCRIPTS: dict[tuple[tuple[str, int], ...], ScriptDirectory] = {}


def _script(branches: Sequence[MigrationBranch]) -> ScriptDirectory:
    key = tuple((str(b.versions), Path(b.versions).stat().st_mtime_ns) for b in branches)
    found = _SCRIPTS.get(key)
    if found is None:
        found = _SCRIPTS[key] = ScriptDirectory.from_config(_config(None, branches))
    return found


def _exists(script: ScriptDirectory, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except CommandError:
        return False


def _ancestors(script: ScriptDirectory, heads: set[str]) -> set[str]:
    """Every revision applied below ``heads``, following down_revision and depends_on
    (Alembic keeps only the topmost heads once a plugin's base depends on the core)."""
    seen: set[str] = set()
    stack = list(heads)
    while stack:
        rev = script.get_revision(stack.pop())
        if rev is None or rev.revision in seen:
            continue
        seen.add(rev.revision)
        for link in (rev.down_revision, rev.dependencies):
            if isinstance(link, str):
                stack.append(link)
            elif link:
                stack.extend(link)
    return seen


def _chain(script: ScriptDirectory, label: str) -> list[str]:
    """The branch's revisions from its head down to its base (down_revision links only)."""
    rev = script.get_revision(f"{label}@head")
    chain = []
    while rev is not None:
        chain.append(rev.revision)
        down = rev.down_revision
        if isinstance(down, tuple):
            raise CommandError(f"revision {rev.revision} merges branches; not supported")
        rev = script.get_revision(down) if down else None
    return chain


def is_current(
    engine: Engine, plugin_branches: Mapping[str, MigrationBranch], labels: Sequence[str]
) -> bool:
    wanted = {CORE_BRANCH, *labels}
    return all(s.up_to_date for s in status(engine, plugin_branches) if s.label in wanted)
