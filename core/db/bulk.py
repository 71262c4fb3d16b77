"""Reading and writing registry rows in bulk: keys in batches, lookups, upserts.

Imports write thousands of rows per batch, so each batch costs a few statements whatever
its size: references are resolved with one query per batch of keys (:func:`lookup`),
and rows are written by :func:`upsert_rows` with ``INSERT ... ON CONFLICT``. On
PostgreSQL a batch of keys is one array parameter (``= ANY(...)``); on SQLite an ``IN``
list of at most :data:`CHUNK` keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, any_, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from community365.errors import FieldError

T = TypeVar("T")
# A registry's bulk upsert: writes the records it can, returns (index, error) of the others.
Write = Callable[[Connection, Sequence[T]], list[tuple[int, FieldError]]]

# Keys per IN (...) list on SQLite: well under its limit on bound parameters.
CHUNK = 5000


def batches(conn: Connection, keys: Iterable[Any]) -> Iterator[list[Any]]:
    """The distinct ``keys`` in batches for :func:`among`: all at once on PostgreSQL, and
    :data:`CHUNK` at a time on SQLite."""
    distinct = sorted(set(keys))
    size = len(distinct) if conn.dialect.name == "postgresql" else CHUNK
    for start in range(0, len(distinct), max(size, 1)):
        yield distinct[start : start + size]


def among(conn: Connection, column: Any, batch: list[Any]) -> Any:
    """``column`` is one of ``batch``.

    On PostgreSQL ``= ANY(array)``: an IN list of thousands of placeholders costs more to
    render and parse than the query takes to run."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(batch, postgresql.ARRAY(column.type)))
    return column.in_(batch)


def lookup(conn: Connection, key: Any, value: Any, keys: Iterable[Any]) -> dict[Any, Any]:
    """``{key: value}`` for those of ``keys`` that exist (two columns of one table): one
    query per batch of keys, straight to the driver, since building and rendering an IN
    list of thousands through SQLAlchemy costs more than the query."""
    query = f"SELECT {key.name}, {value.name} FROM {key.table.name} WHERE {key.name}"
    found: dict[Any, Any] = {}
    for batch in batches(conn, keys):
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(f"{query} = ANY(%s)", (batch,))
        else:
            rows = conn.exec_driver_sql(f"{query} IN ({', '.join('?' * len(batch))})", tuple(batch))
        found.update(rows.fetchall())
    return found


# -- straight to the driver --------------------------------------------------------------------


def dates_as_text(conn: Connection) -> bool:
    """Whether :func:`upsert_rows` takes dates as ISO text: on SQLite, where that is what
    SQLAlchemy stores (and the sqlite3 module's own date adapter is deprecated)."""
    return conn.dialect.name == "sqlite"


def kept(table: Table, column: str) -> str:
    """In :func:`upsert_rows`' ``update``: the new value, or the stored one when the new one
    is NULL (a ledger without the column must not erase what another ledger brought)."""
    return f"coalesce(excluded.{column}, {table.name}.{column})"


def upsert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
    where: str = "",
    update: Mapping[str, str] | None = None,
) -> None:
    """Insert ``rows`` (tuples of driver values in the order of ``columns``). A row whose
    ``key`` (the columns of a unique index, partial with ``where``) is stored already
    updates that row, setting each column of ``update`` to its SQL expression
    (``excluded.name``, :func:`kept` ...), or is skipped when there is no ``update``.

    New rows take a plain ``INSERT ... ON CONFLICT DO NOTHING``; only when some row was
    not new does the batch run again as an upsert, which costs SQLite twice an insert.
    Rows go straight to the driver: SQLAlchemy's handling of each row's parameters costs
    more than the database's insert, so values must be what the driver takes (dates
    as :func:`dates_as_text` says). Never commits.
    """
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    target = f"({', '.join(key)})" + (f" WHERE {where}" if where else "")
    insert = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) ON CONFLICT {target} DO"
    )
    if conn.exec_driver_sql(f"{insert} NOTHING", rows).rowcount == len(rows) or not update:
        return
    assignments = ", ".join(f"{column} = {value}" for column, value in update.items())
    conn.exec_driver_sql(f"{insert} UPDATE SET {assignments}", rows)


def exists(conn: Connection, column: Any, value: Any) -> bool:
    """Whether some row has ``value`` in ``column``."""
    return conn.execute(select(column).where(column == value).limit(1)).first() is not None


def write_one(conn: Connection, write: Write[T], record: T) -> None:
    """Write one record through the bulk ``write`` (``upsert_<xs>``), raising its error."""
    errors = write(conn, [record])
    if errors:
        raise errors[0][1]
