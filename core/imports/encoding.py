"""Telling UTF-8 from GBK by the bytes.

Spreadsheets exported by Excel or WPS on a Chinese Windows come as GBK; others as UTF-8,
with or without a byte-order mark. GBK files are read as GB 18030, its superset. The first
chunk holding a non-ASCII byte decides: strict UTF-8 there means UTF-8, otherwise GB 18030.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from community365.errors import UsageError

CHUNK = 1 << 20
UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
GBK = "gb18030"


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``gb18030`` for the file at ``path``."""
    with path.open("rb") as f:
        chunk = f.read(CHUNK)
        if chunk.startswith(codecs.BOM_UTF8):
            return UTF8_BOM
        while chunk.isascii():
            chunk = f.read(CHUNK)
            if not chunk:
                return UTF8
        # All before this chunk was ASCII, so it starts at a character boundary; it may end
        # inside one. Three more bytes complete any UTF-8 character cut at the end, and the
        # incremental decoder leaves a character cut at the new end pending, not wrong.
        chunk += f.read(3)
        at_end = not f.peek(1)
    try:
        codecs.getincrementaldecoder(UTF8)().decode(chunk, final=at_end)
    except UnicodeDecodeError:
        return GBK
    return UTF8


def check_encoding(name: str) -> str:
    """The codec's canonical name; UsageError for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"--encoding: unknown encoding {name!r} (try utf-8 or gbk)") from None
