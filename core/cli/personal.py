"""Personal data in command output: masked unless ``--reveal``, and every reveal audited.

ID numbers and phones are masked (``330212********0132``, ``139****1111``). With
``--reveal`` a command shows them and writes an audit entry (action ``reveal``) naming
what was shown, in the same transaction as the read.
"""

from __future__ import annotations

from typing import Any

from community365.registry.contact import mask_id_number, mask_phone


def shown_phone(phone: str | None, reveal: bool) -> str | None:
    return phone if reveal else mask_phone(phone)


def shown_id_number(number: str | None, reveal: bool) -> str | None:
    return number if reveal else mask_id_number(number)


def audit_reveal(district: Any, ctx: Any, reveal: bool, subject: str, detail: str = "") -> None:
    """Record, when ``reveal``, that the acting user saw unmasked personal data."""
    if reveal:
        district.audit(ctx, "reveal", subject, detail)
