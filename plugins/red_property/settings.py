"""Settings of ``[plugins.red_property]`` in district.toml."""

from __future__ import annotations

from decimal import Decimal

import attrs


@attrs.frozen
class FeeItem:
    """A fee the property service charges, in yuan per household per billing period."""

    code: str
    name: str
    amount: Decimal


DEFAULT_FEES = (
    FeeItem("parking", "停车费", Decimal("60.00")),
    FeeItem("access_card", "门禁卡", Decimal("20.00")),
    FeeItem("stair_cleaning", "楼道保洁费", Decimal("10.00")),
)


@attrs.frozen
class RedPropertySettings:
    fees: tuple[FeeItem, ...] = DEFAULT_FEES
    billing_months: int = 12
    collection_target_percent: int = 95
