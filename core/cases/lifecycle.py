"""The case lifecycle: which action is allowed in which status, and where it leads.

    received ─assign→ assigned ─accept→ accepted ─resolve→ resolved ─rate/close→ closed
        ↑                 │  ↑               │                  │
        └──refuse (nobody)┘  └─transfer/refuse┘                 └─rate unsatisfied→ accepted (返工)

    withdraw, duplicate (and reject before acceptance) end an open case early.

``reply``, ``note``, ``extend``, ``escalate`` and ``repeat`` leave the status as it is.
This module is pure: it knows statuses and actions, not the database.
"""

from __future__ import annotations

import attrs

from community365.errors import InvalidTransition
from community365.values import FINAL_STATUSES, OPEN_STATUSES

WORKING = ("assigned", "accepted")


@attrs.frozen
class Action:
    """An action on a case: the statuses it may start from, and the status it leads to
    (None: unchanged; several: the pipeline picks, e.g. a rating closes or reopens)."""

    name: str
    zh: str
    allowed_from: tuple[str, ...]
    leads_to: tuple[str, ...] = ()
    needs_note: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("submit", "受理", (), ("received",)),
        Action("assign", "派单", ("received", "assigned"), ("assigned",)),
        Action("accept", "接单", ("assigned",), ("accepted",)),
        Action("refuse", "退单", ("assigned",), ("assigned", "received"), needs_note=True),
        Action("transfer", "转办", WORKING, ("assigned", "received"), needs_note=True),
        Action("escalate", "催办", OPEN_STATUSES),
        Action("reply", "回复", OPEN_STATUSES, needs_note=True),
        Action("note", "记录", (*OPEN_STATUSES, "resolved"), needs_note=True),
        Action("extend", "延期", WORKING, needs_note=True),
        Action("repeat", "重复诉求", OPEN_STATUSES),
        Action("resolve", "办结", ("accepted",), ("resolved",), needs_note=True),
        Action("rate", "评价", ("resolved",), ("closed", "accepted")),
        Action("close", "结案", ("resolved",), ("closed",)),
        Action("reopen", "返工", ("resolved",), ("accepted",), needs_note=True),
        Action("withdraw", "撤回", OPEN_STATUSES, ("withdrawn",), needs_note=True),
        Action("duplicate", "重复件", OPEN_STATUSES, ("duplicate",)),
        Action("reject", "不予受理", ("received", "assigned"), ("rejected",), needs_note=True),
    )
}


def check(ref: str, status: str, action: str, note: str = "") -> Action:
    """The action, if a case in ``status`` allows it; else InvalidTransition saying why."""
    spec = ACTIONS[action]
    if status not in spec.allowed_from:
        if status in FINAL_STATUSES:
            raise InvalidTransition(f"case {ref} is {status}: it cannot be changed ({action})")
        raise InvalidTransition(
            f"case {ref} is {status}: cannot {action} "
            f"({action} needs a case that is {' or '.join(spec.allowed_from)})"
        )
    if spec.needs_note and not note.strip():
        raise InvalidTransition(f"case {ref}: {action} needs a reason or a text")
    return spec
