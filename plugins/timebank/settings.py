"""Settings of ``[plugins.timebank]`` in district.toml."""

from __future__ import annotations

from decimal import Decimal

import attrs


@attrs.frozen
class TimebankSettings:
    """How hours are counted and how far an account may go.

    Defaults follow the Nanjing rules quoted in the issue: one hour is one time coin, at
    most 1,500 stored hours (the surplus is donated to the pool), own use from age 60.
    """

    round_to_minutes: int = 15
    daily_cap_hours: Decimal = Decimal("8")
    storage_cap_hours: Decimal = Decimal("1500")
    new_member_overdraft_hours: Decimal = Decimal("0")
    own_use_min_age: int = 60
