"""Settings of ``[plugins.elder_meals]`` in district.toml."""

from __future__ import annotations

from decimal import Decimal

import attrs


@attrs.frozen
class AgeBand:
    """An age band of the 6789 scheme and what it gives."""

    min_age: int
    name: str
    benefits: tuple[str, ...] = ()


DEFAULT_BANDS = (
    AgeBand(60, "60岁以上", ("free_haircut",)),
    AgeBand(70, "70岁以上", ("lunch_subsidy", "birthday_cake")),
    AgeBand(80, "80岁以上", ("festival_gifts",)),
    AgeBand(90, "90岁以上", ("birthday_banquet",)),
)


@attrs.frozen
class ElderMealsSettings:
    """Age bands, canteen prices and opening; all district choices, none of them code."""

    bands: tuple[AgeBand, ...] = DEFAULT_BANDS
    lunch_price: Decimal = Decimal("12.00")
    delivery_fee: Decimal = Decimal("2.00")
    open_every_day: bool = True
