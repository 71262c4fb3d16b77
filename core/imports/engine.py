"""Importing a CSV ledger (台账) into the registry: all of it, or nothing.

The file is read once, as a stream: each record is parsed by the entity's ``parse_<x>``
and written in batches by its ``upsert_<xs>`` inside one transaction. Every bad record is
collected with its line and field; if there is any, the transaction is rolled back and
:class:`ImportRowsError` lists them. Re-importing updates by the natural key (code, ID
number) instead of duplicating.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from community365.errors import FieldError, ImportRowsError
from community365.imports.columns import match_headers
from community365.imports.encoding import check_encoding, detect_encoding
from community365.imports.entities import Entity, Write, get_entity
from community365.imports.reader import CsvFile, check_file, open_csv

BATCH = 5000
SHOWN_PROBLEMS = 50


@attrs.frozen
class ImportSummary:
    """What an import did: ``rows`` read, ``written`` to the database, ``added`` of them new."""

    entity: str
    path: Path
    rows: int
    encoding: str
    written: int
    added: int


def import_file(
    district: Any,
    entity: str,
    path: Path,
    *,
    encoding: str | None = None,
    progress: bool = False,
) -> ImportSummary:
    """Import the CSV file at ``path`` as ``entity`` records (areas, households, persons,
    handlers or duties) into ``district``.

    ``encoding`` overrides detection (UTF-8 with or without BOM, else GB 18030).
    Raises UsageError for a missing, empty or unreadable file or a bad header, and
    ImportRowsError listing every bad row; in both cases nothing is written.
    """
    spec = get_entity(entity)
    check_file(path)
    encoding = check_encoding(encoding) if encoding else detect_encoding(path)
    levels = district.config.areas.levels
    with (
        _without_cycle_collector(),
        district.begin() as ctx,
        open_csv(path, encoding, progress=progress) as csv_file,
    ):
        conn = ctx.connection
        before = _count(conn, spec.table)
        batches = Batches(spec, csv_file.where, spec.writer(levels), conn)
        batches.run(csv_file)
        if batches.bad:
            raise ImportRowsError(csv_file.where, batches.problems, batches.bad)
        added = _count(conn, spec.table) - before
        district.audit(
            ctx,
            f"import.{spec.name}",
            path.name,
            f"{batches.rows} rows: {added} added, {batches.written - added} updated ({encoding})",
        )
    return ImportSummary(spec.name, path, batches.rows, encoding, batches.written, added)


@contextlib.contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Parsing makes millions of short-lived objects without cycles: reference counting
    frees them, and the cycle collector would only keep rescanning them (about a tenth
    of the import's time). The loop collects the young generations once per batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


class Batches:
    """Parses records into batches, writes each, and keeps the problems of bad rows."""

    def __init__(self, spec: Entity, where: str, write: Write, conn: Connection):
        self.spec = spec
        self.where = where
        self.write = write
        self.conn = conn
        self.rows = 0
        self.written = 0
        self.bad = 0
        self._shown: list[tuple[int, int, str]] = []  # heap of (-line, order, message)
        # Hashes of the natural keys seen so far: a million of them take about 60 MB, the
        # keys themselves twice that. A collision (about 1e-8 at a million keys) would
        # report a false duplicate, never let a true one through.
        self._seen: set[int] = set()

    def run(self, csv_file: CsvFile) -> None:
        """Read every record of ``csv_file``, writing full batches as they fill."""
        fields = match_headers(self.spec.columns, csv_file.header, self.where)
        width = len(fields)
        size = None if self.spec.whole_file else BATCH
        build, pick = self.spec.row_parser(fields)
        key, seen = self.spec.key, self._seen
        records: list[Any] = []
        lines: list[int] = []
        rows = 0
        # The hot loop: one parse call and a few built-in operations per record.
        for line, cells in csv_file.records():
            rows += 1
            if len(cells) != width:
                cells = self._fit(line, cells, width)
                if cells is None:
                    continue
            cells.append(None)  # what a column the file lacks reads (see row_parser)
            try:
                record = build(*pick(cells))
            except FieldError as exc:
                self.problem(line, str(exc))
                continue
            natural = key(record)
            if natural is not None:
                digest = hash(natural)
                if digest in seen:
                    self.problem(line, f"{natural[0]}: the same as on an earlier line of the file")
                    continue
                seen.add(digest)
            records.append(record)
            lines.append(line)
            if len(records) == size:
                self.flush(records, lines)
                csv_file.show_progress()
                records, lines = [], []
                gc.collect(1)  # the few cycles a batch leaves (see _without_cycle_collector)
        self.flush(records, lines)
        self.rows = rows

    @property
    def problems(self) -> list[str]:
        """The bad rows with the lowest line numbers, in line order, and how many more."""
        shown = [message for _, _, message in sorted(self._shown, key=lambda p: (-p[0], p[1]))]
        if self.bad > len(shown):
            shown.append(f"... and {self.bad - len(shown)} more")
        return shown

    def _fit(self, line: int, cells: list[str], width: int) -> list[str] | None:
        """Cells trimmed of trailing empty ones; None (and a problem) if they do not fit."""
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            return cells[:width]
        self.problem(line, f"expected {width} cells, found {len(cells)}")
        return None

    def problem(self, line: int, message: str) -> None:
        """Count a bad row; keep its message if it is among the first lines."""
        self.bad += 1
        entry = (-line, self.bad, f"{self.where}:{line}: {message}")
        if len(self._shown) < SHOWN_PROBLEMS:
            heapq.heappush(self._shown, entry)
        elif entry > self._shown[0]:
            heapq.heapreplace(self._shown, entry)

    def flush(self, records: list[Any], lines: list[int]) -> None:
        """Write one batch and note the records the registry could not resolve."""
        if not records:
            return
        failures = self._write(records)
        for index, message in failures:
            self.problem(lines[index], message)
        self.written += len(records) - len(failures)

    def _write(self, records: list[Any]) -> list[tuple[int, str]]:
        """Write in a savepoint; if the database refuses the batch, find the rows by
        writing them one at a time, so each refusal is reported at its line."""
        try:
            with self.conn.begin_nested():
                return [(i, str(error)) for i, error in self.write(self.conn, records)]
        except DBAPIError:
            pass
        failures: list[tuple[int, str]] = []
        for index, record in enumerate(records):
            try:
                with self.conn.begin_nested():
                    refused = self.write(self.conn, [record])
                failures += [(index, str(error)) for _, error in refused]
            except DBAPIError as exc:
                reason = str(exc.orig or exc).strip().splitlines()[0]
                failures.append((index, f"the database refused this row: {reason}"))
        return failures
