"""Hours as people write them, turned into the ledger's whole minutes, exactly.

``"1.5"`` and ``"1:30"`` are both 90 minutes; ``"0.01"`` is 0.6 of a minute and is refused
rather than rounded, so that what a coordinator types is what the ledger records.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from community365.errors import FieldError

_CLOCK = re.compile(r"(\d+):([0-5]\d)")


def parse_hours(text: str, field: str = "hours") -> int:
    """Minutes (> 0) from ``H``, ``H.D`` (decimal hours) or ``H:MM``; FieldError otherwise."""
    raw = text.strip()
    clock = _CLOCK.fullmatch(raw)
    if clock:
        minutes = int(clock.group(1)) * 60 + int(clock.group(2))
    else:
        try:
            hours = Decimal(raw)
        except InvalidOperation:
            raise FieldError(field, f"expected hours such as 1.5 or 1:30, got {text!r}") from None
        if not hours.is_finite():
            raise FieldError(field, f"expected hours such as 1.5 or 1:30, got {text!r}")
        exact = hours * 60
        if exact != exact.to_integral_value():
            raise FieldError(field, f"{text} hours is not a whole number of minutes")
        minutes = int(exact)
    if minutes <= 0:
        raise FieldError(field, f"expected more than 0 hours, got {text!r}")
    return minutes


def round_minutes(minutes: int, step: int) -> int:
    """``minutes`` to the nearest multiple of ``step``, halves up: with 15, 7 → 0, 8 → 15."""
    whole, rest = divmod(minutes, step)
    return (whole + (1 if rest * 2 >= step else 0)) * step


def decimal_hours(minutes: int) -> Decimal:
    """Minutes as decimal hours to the hundredth, for reports (the ledger stays exact)."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))
