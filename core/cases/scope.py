"""Who may see and act on which cases.

An actor whose name is a handler's code acts as that handler: they see the cases of
the areas they have a duty for, with everything below them (a grid leader's duty is on
the grid, so the leader sees the whole grid), and the cases assigned to them or taken in
by them. Any other actor is office staff and sees every case.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import false, or_, select
from sqlalchemy.engine import Connection, RowMapping

from community365.db.schema import areas, cases, duties, handlers


@attrs.frozen
class Actor:
    """A handler acting in person, and the codes of the areas of their duties."""

    id: int
    code: str
    area_codes: tuple[str, ...]

    def where(self) -> Any:
        """A condition on ``cases`` joined with ``areas``: the cases this actor sees."""
        return or_(
            cases.c.handler_id == self.id,
            cases.c.receiver_id == self.id,
            *(areas.c.code.startswith(code, autoescape=True) for code in self.area_codes),
            false(),
        )

    def may_act_on(self, conn: Connection, row: RowMapping) -> bool:
        if self.id in (row["handler_id"], row["receiver_id"]):
            return True
        code = conn.execute(select(areas.c.code).where(areas.c.id == row["area_id"])).scalar_one()
        return any(code.startswith(prefix) for prefix in self.area_codes)


def acting_handler(conn: Connection, actor: str) -> Actor | None:
    """The handler whose code is ``actor``, or None for office staff."""
    row = conn.execute(
        select(handlers.c.id, handlers.c.code).where(handlers.c.code == actor)
    ).first()
    if row is None:
        return None
    codes = conn.execute(
        select(areas.c.code)
        .join(duties, duties.c.area_id == areas.c.id)
        .where(duties.c.handler_id == row.id)
        .distinct()
    ).scalars()
    return Actor(row.id, row.code, tuple(sorted(codes)))
