"""Creating the database engine: SQLite by default, PostgreSQL by URL.

SQLite is set up for a district that lives in one file: WAL (readers never block the
writer), foreign keys on, a busy timeout instead of instant "database is locked", and a
real ``BEGIN`` so that every transaction, DDL included, is atomic (the pysqlite driver
otherwise commits DDL on its own; see SQLAlchemy's "Serializable isolation / Savepoints /
Transactional DDL" recipe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError

from community365.errors import ConfigError, DatabaseError


def resolve_url(url: str, root: Path) -> URL:
    """Parse ``url``; a relative SQLite path is taken relative to the district directory."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"district.database: not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).is_absolute():
            parsed = parsed.set(database=str(root / database))
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"district.database: unsupported database {parsed.get_backend_name()!r} "
            "(use sqlite:/// or postgresql+psycopg://)"
        )
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, root: Path | None = None) -> Engine:
    engine = create_engine(resolve_url(url, root or Path.cwd()))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once, turning a driver error into a one-line DatabaseError."""
    try:
        with engine.connect():
            pass
    except (OperationalError, SADatabaseError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        shown = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot open database {shown}: {reason}") from None


def claim_writer(conn: Any) -> None:
    """On SQLite, take the database's write lock now, at the start of a unit of work that
    reads and then writes. A deferred transaction that has read cannot wait for the lock
    later: if another writer committed meanwhile, SQLite refuses at once ("database is
    locked"). Taking it first lets the busy timeout queue concurrent writers instead.
    PostgreSQL locks rows as they are written; nothing to do there."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE areas SET id = id WHERE 0")
