"""Settings of ``[plugins.timebank]`` in district.toml.

Hours are written as decimals (``"7.5"``) because that is how people say them; the
ledger counts whole minutes. Every hour setting must therefore be a whole number of
minutes (``"0.01"`` hours is 0.6 minutes and is refused at start-up, naming the key)
and at most 10,000 hours, and the ``*_minutes`` properties give the exact integer the
code uses. The conversion is :func:`community365_timebank.amounts.hours_to_minutes`,
the same as for hours typed at the command line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import attrs

from community365_timebank.amounts import hours_to_minutes

__all__ = ["Payer", "TimebankSettings", "hours_to_minutes"]

Payer = Literal["recipient_then_pool", "pool"]


def _to_decimal(value: Decimal | int | str) -> Decimal:
    """Let Python callers write ``2`` or ``"1.5"``; district.toml is structured by cattrs."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _whole_minutes(instance: Any, attribute: attrs.Attribute[Any], value: Decimal) -> None:
    if value < 0:
        raise ValueError(f"'{attribute.name}' must be 0 or more: {value}")
    hours_to_minutes(value, repr(attribute.name))


def _positive_minutes(instance: Any, attribute: attrs.Attribute[Any], value: Decimal) -> None:
    _whole_minutes(instance, attribute, value)
    if value == 0:
        raise ValueError(f"'{attribute.name}' must be more than 0: {value}")


@attrs.frozen
class TimebankSettings:
    """How hours are counted, who pays for them, and how far an account may go.

    Defaults follow the Nanjing rules quoted in the issue: one hour is one time coin, at
    most 1,500 stored hours (the surplus is donated to the pool), own use from age 60,
    gifts to a spouse, parents or grandparents aged 60 or more.
    """

    #: Service time is rounded to the nearest multiple of this (half up).
    round_to_minutes: int = attrs.field(default=15, validator=attrs.validators.ge(1))
    #: At most this many hours are credited to one member for one local day.
    daily_cap_hours: Decimal = attrs.field(
        default=Decimal("8"), converter=_to_decimal, validator=_positive_minutes
    )
    #: The most an account may hold; a credit above it goes to the pool (surplus).
    storage_cap_hours: Decimal = attrs.field(
        default=Decimal("1500"), converter=_to_decimal, validator=_positive_minutes
    )
    #: How far below zero a member may go (a new member's small overdraft).
    new_member_overdraft_hours: Decimal = attrs.field(
        default=Decimal("0"), converter=_to_decimal, validator=_whole_minutes
    )
    #: Members may spend their own hours on help for themselves from this age.
    own_use_min_age: int = attrs.field(default=60, validator=attrs.validators.ge(0))
    #: Who pays a volunteer's verified hours: the helped resident's own account when they
    #: are a member of the same bank old enough to use it and holding the hours, else the
    #: pool ("recipient_then_pool"); or always the pool ("pool").
    payer: Payer = "recipient_then_pool"
    #: Priority elders (重点服务对象), whose help the pool pays when they cannot pay it
    #: themselves: a recipient with one of these tags ...
    pool_pays_for_tags: tuple[str, ...] = ("重点服务对象", "独居", "特困")
    #: ... or of at least this age on the day served (None: age alone never qualifies).
    #: A recipient who is neither a member paying their own help nor a priority elder
    #: pays nobody's hours: verification is refused and the record stays pending.
    pool_pays_from_age: int | None = attrs.field(
        default=80, validator=attrs.validators.optional(attrs.validators.ge(0))
    )
    #: Hours may be given to a spouse, parent or grandparent of at least this age.
    family_min_age: int = attrs.field(default=60, validator=attrs.validators.ge(0))
    #: The level of the area tree whose areas have a bank (normally the community, 社区).
    bank_level: str = "community"
    #: Who may sign off hours as coordinator (actors, as given with --as). Empty: any
    #: actor but the volunteer who served may sign off, which is only fit for a trial; a
    #: district in service should name its coordinators. A recipient's confirmation does
    #: not use this list: the actor must be the recipient.
    coordinators: tuple[str, ...] = ()
    #: How many volunteers the matching proposes for one request.
    match_limit: int = attrs.field(default=5, validator=attrs.validators.ge(1))

    @property
    def daily_cap_minutes(self) -> int:
        return hours_to_minutes(self.daily_cap_hours, "daily_cap_hours")

    @property
    def storage_cap_minutes(self) -> int:
        return hours_to_minutes(self.storage_cap_hours, "storage_cap_hours")

    @property
    def overdraft_minutes(self) -> int:
        return hours_to_minutes(self.new_member_overdraft_hours, "new_member_overdraft_hours")
