"""Shared fixtures: districts on real SQLite files and on a real PostgreSQL.

Every storage test takes the ``district`` fixture (or ``db_url``), which is parametrised
over both backends. PostgreSQL is ``C365_TEST_PG`` (default: the machine's
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets the database with an
empty ``public`` schema. Where PostgreSQL cannot be reached the PostgreSQL half is skipped,
except under CI (``CI=true``), where it fails: CI must run both.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from community365.cli import cli
from community365.cli.init import create_district
from community365.district import District

PG_URL = os.environ.get("C365_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXED_NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
_pg_state: dict[str, object] = {}


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    if "reason" not in _pg_state:
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(PG_URL)
            with engine.connect():
                pass
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {exc}".splitlines()[0]
    return _pg_state["reason"]  # type: ignore[return-value]


def reset_pg() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty database: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'district.db'}"
        return
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    reset_pg()
    yield PG_URL


@pytest.fixture
def make_district(db_url: str, tmp_path: Path) -> Callable[..., District]:
    """Create a district directory on the test database, with plugins enabled in order."""

    def make(*, enabled: tuple[str, ...] = (), directory: Path | None = None) -> District:
        root = directory or tmp_path / "district"
        create_district(root, name="鄞州区", code="330212", database=db_url, actor="tester")
        if enabled:
            from community365.config import set_enabled

            set_enabled(root, list(enabled))
        district = District.open(root, actor="tester", clock=lambda: FIXED_NOW)
        district.upgrade()
        return district

    return make


@pytest.fixture
def district(make_district: Callable[..., District]) -> Iterator[District]:
    """A migrated district with only its root area (330212 鄞州区) and no plugins."""
    d = make_district()
    yield d
    d.engine.dispose()


@pytest.fixture
def run(district: District) -> Callable[..., Result]:
    """Run ``c365`` in the district, the way a user would: ``run("area", "tree")``."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, actor: str = "tester") -> Result:
        return runner.invoke(
            cli, ["--district", str(district.root), "--as", actor, *args], input=input
        )

    return invoke
