"""Reading a CSV ledger: its header, then its records with their physical line numbers.

A record's line is the file line it starts on, so a quoted cell holding a newline counts
the way an editor shows it. Blank lines are skipped. The file is read as a stream (memory
stays flat however long it is) and, if asked, a progress bar on stderr follows the bytes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import attrs
import click

from community365.errors import UsageError

PROGRESS_MIN_BYTES = 1 << 20


@attrs.define
class CsvFile:
    """An open ledger: ``header`` (trailing empty cells dropped) and ``records()``."""

    where: str
    encoding: str
    header: list[str]
    _reader: Iterator[list[str]]
    _binary: BinaryIO
    _bar: object | None = None

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)`` for each record that has a non-empty cell."""
        reader = self._reader
        last = reader.line_num  # type: ignore[attr-defined]
        try:
            for cells in reader:
                line = last + 1
                last = reader.line_num  # type: ignore[attr-defined]
                if any(cells):
                    yield line, cells
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None
        except csv.Error as exc:
            raise UsageError(f"{self.where}:{last + 1}: {exc}") from None
        self.show_progress()

    def show_progress(self) -> None:
        """Move the progress bar (if any) to the bytes read so far."""
        bar = self._bar
        if bar is not None:
            bar.update(self._binary.tell() - bar.pos)  # type: ignore[attr-defined]

    def _undecodable(self, exc: UnicodeDecodeError) -> UsageError:
        line = undecodable_line(Path(self._binary.name), self.encoding)
        return UsageError(
            f"{self.where}:{line}: cannot be read as {self.encoding} ({exc.reason}); "
            "give the file's encoding with --encoding"
        )


def undecodable_line(path: Path, encoding: str) -> int:
    """The first physical line of ``path`` that does not decode.

    The text layer decodes ahead in blocks, so its position says little about where the
    bad byte is: the error path reads the file again, line by line. (A newline byte is
    never inside a UTF-8 or GB 18030 character, so lines can be decoded one by one.)
    """
    number = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return number


def check_file(path: Path) -> None:
    """UsageError unless ``path`` is a non-empty regular file."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise UsageError(f"{path}: the file is empty")


@contextlib.contextmanager
def open_csv(path: Path, encoding: str, *, progress: bool = False) -> Iterator[CsvFile]:
    """Open ``path`` as CSV in ``encoding`` and read its header (the first non-blank row)."""
    where = path.name
    size = path.stat().st_size
    with contextlib.ExitStack() as stack:
        binary = stack.enter_context(path.open("rb"))
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        reader = csv.reader(text)
        csv_file = CsvFile(where, encoding, [], reader, binary)
        try:
            header = next((cells for cells in reader if any(cells)), None)
        except UnicodeDecodeError as exc:
            raise csv_file._undecodable(exc) from None
        except csv.Error as exc:
            raise UsageError(f"{where}:{reader.line_num + 1}: {exc}") from None
        if header is None:
            raise UsageError(f"{path}: the file has no header row")
        while header and not header[-1].strip():
            header.pop()
        csv_file.header = header
        if progress and size >= PROGRESS_MIN_BYTES:
            csv_file._bar = stack.enter_context(
                click.progressbar(length=size, label=f"importing {where}", file=sys.stderr)
            )
        yield csv_file
