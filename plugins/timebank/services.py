"""The time bank's services in the catalogue, and the skill each one needs.

They are in the ``help`` group, so the duty table routes them like any help request
when no volunteer can be matched; a case may name the skill it needs in its ``skill``
field (``--field skill=理发``), which wins over the service's own. The keywords are words
only time-bank requests use, so that the core's keyword classifier does not take other
help requests away from the core's ``help`` service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from community365 import SLA, ServiceSpec

SKILL_FIELD = "skill"
_SLA = SLA(reply_minutes=30, resolve=3, resolve_unit="calendar_days")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "timebank.help",
        "时间银行互助",
        "Time-bank mutual help",
        "help",
        _SLA,
        keywords=("时间银行", "存时间", "互助时间"),
        fields=(SKILL_FIELD,),
    ),
    ServiceSpec(
        "timebank.escort",
        "时间银行陪护",
        "Time-bank escort and care",
        "help",
        _SLA,
        keywords=("陪护", "陪诊", "陪伴就医"),
        fields=(SKILL_FIELD,),
    ),
    ServiceSpec(
        "timebank.tutoring",
        "时间银行课业辅导",
        "Time-bank tutoring",
        "help",
        _SLA,
        keywords=("补习", "辅导功课", "课业辅导"),
        fields=(SKILL_FIELD,),
    ),
)
CODES = frozenset(s.code for s in SERVICES)
#: The skill a volunteer needs for a service when the case does not name one.
SERVICE_SKILLS: dict[str, str | None] = {
    "timebank.help": None,
    "timebank.escort": "陪护",
    "timebank.tutoring": "课业辅导",
}


def is_timebank(service: str) -> bool:
    return service in CODES


def needed_skill(service: str, fields: Mapping[str, Any]) -> str | None:
    """The skill a case asks for: its ``skill`` field, else its service's."""
    given = str(fields.get(SKILL_FIELD) or "").strip()
    return given or SERVICE_SKILLS.get(service)
