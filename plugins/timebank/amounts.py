"""Hours as people write them, turned into the ledger's whole minutes, exactly.

``"1.5"`` and ``"1:30"`` are both 90 minutes; ``"0.01"`` is 0.6 of a minute and is refused
rather than rounded, so that what a coordinator types is what the ledger records. Only
plain decimals (``H`` or ``H.D``) and clock times (``H:MM``) are read, up to
:data:`MAX_HOURS`: no exponents, signs or special values.

:func:`hours_to_minutes` is the one conversion of hours to minutes, for what people type
and for the hour settings of district.toml alike.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, DecimalException, Inexact

from community365.errors import FieldError

#: No amount of hours, typed or configured, goes above this.
MAX_HOURS = 10_000
_HOURS = re.compile(r"(\d+(?:\.\d+)?)|(\d+):([0-5]\d)")


def hours_to_minutes(hours: Decimal, what: str) -> int:
    """``Decimal("1.25")`` → 75, exactly; ValueError naming ``what`` for a value that is
    not finite, is more than :data:`MAX_HOURS` (either way), or is a fraction of a minute."""
    if not hours.is_finite():
        raise ValueError(f"{what}: {hours} is not a number of hours")
    if hours.copy_abs() > MAX_HOURS:
        raise ValueError(f"{what}: {hours} hours is more than {MAX_HOURS:,}")
    # Exact: enough digits for the product, no exponent limits; anything inexact traps.
    exact = Context(
        prec=len(hours.as_tuple().digits) + 4, Emin=-(10**17), Emax=10**17, traps=[Inexact]
    )
    try:
        minutes = exact.multiply(hours, Decimal(60))
    except DecimalException:
        raise ValueError(f"{what}: {hours} hours is not a whole number of minutes") from None
    if minutes != minutes.to_integral_value(context=exact):
        raise ValueError(f"{what}: {hours} hours is not a whole number of minutes")
    return int(minutes)


def parse_hours(text: str, field: str = "hours") -> int:
    """Minutes (> 0) from ``H``, ``H.D`` (decimal hours) or ``H:MM``, at most
    :data:`MAX_HOURS`; FieldError otherwise."""
    raw = text.strip()
    found = _HOURS.fullmatch(raw)
    if found is None:
        raise FieldError(field, f"expected hours such as 1.5 or 1:30, got {text!r}")
    decimal, whole, part = found.groups()
    try:
        if decimal is not None:
            minutes = hours_to_minutes(Decimal(decimal), text)
        else:
            minutes = hours_to_minutes(Decimal(whole), text) + int(part)
            if minutes > MAX_HOURS * 60:
                raise ValueError(f"{text}: {text} hours is more than {MAX_HOURS:,}")
    except ValueError as exc:
        raise FieldError(field, str(exc).split(": ", 1)[1]) from None
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
