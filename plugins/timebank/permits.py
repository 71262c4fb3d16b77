"""Who may move whose hours: an account's holder, or a coordinator.

The actor (``--as``) is matched against the account's holder: the resident by ID number
or ``HOUSEHOLD/NAME``, or the code of any handler they are (a team account: the team's
code). A bare name is not enough to act for someone: names repeat. Coordinators are the
actors listed in ``plugins.timebank.coordinators``. With that list empty (a trial)
every actor counts as a coordinator; a district in service names its coordinators, and
then:

- spending, giving, donating and leaving take the holder or a coordinator;
- verifying as coordinator, rejecting, reversing, freezing and unfreezing take a
  coordinator;
- a volunteer never verifies their own hours (:mod:`.earning`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from community365 import Context
from community365.db.schema import handlers, persons
from community365.errors import NotFound, UsageError
from community365.registry.idcard import looks_like_id_number
from community365.registry.people import get_person
from community365_timebank.settings import TimebankSettings

if TYPE_CHECKING:
    from community365_timebank.accounts import Account

PLUGIN_NAME = "timebank"


def names_person(conn: Connection, person_id: int, actor: str) -> bool:
    """Whether ``actor`` names the resident ``person_id`` by ID number or HOUSEHOLD/NAME."""
    actor = actor.strip()
    if "/" not in actor and not looks_like_id_number(actor):
        return False
    try:
        return get_person(conn, actor).id == person_id
    except (NotFound, UsageError):
        return False


def is_holder(conn: Connection, account: Account, actor: str, *, by_name: bool = False) -> bool:
    """Whether ``actor`` is the account's holder: the resident by ID number or
    HOUSEHOLD/NAME, or the code of a handler they are (a team: its code). Names repeat,
    so a bare name counts only ``by_name``: for refusing (a volunteer verifying their own
    hours under their name), never for granting."""
    actor = actor.strip()
    if account.person_id is not None and names_person(conn, account.person_id, actor):
        return True
    clauses = []
    if account.handler_id is not None:
        clauses.append(handlers.c.id == account.handler_id)
    if account.person_id is not None:
        clauses.append(handlers.c.person_id == account.person_id)
    names: set[str] = set()
    if clauses:
        query = select(handlers.c.code, handlers.c.name).where(or_(*clauses))
        for code, name in conn.execute(query):
            names |= {code, name} if by_name else {code}
    if account.person_id is not None and by_name:
        names.add(
            conn.execute(
                select(persons.c.name).where(persons.c.id == account.person_id)
            ).scalar_one()
        )
    return actor in names or actor.upper() in names


def is_coordinator(ctx: Context) -> bool:
    listed = _settings(ctx).coordinators
    return not listed or ctx.actor.strip() in listed


def require_coordinator(ctx: Context, what: str) -> None:
    """UsageError unless the actor is a coordinator."""
    if not is_coordinator(ctx):
        raise UsageError(f"{ctx.actor} may not {what}: {_listed(ctx)}")


def require_holder_or_coordinator(ctx: Context, account: Account, what: str) -> None:
    """UsageError unless the actor holds ``account`` or is a coordinator."""
    if is_coordinator(ctx) or is_holder(ctx.connection, account, ctx.actor):
        return
    raise UsageError(
        f"{ctx.actor} may not {what} account #{account.id}: only its holder "
        f"({account.holder()}) or {_listed(ctx)}"
    )


def _settings(ctx: Context) -> TimebankSettings:
    return ctx.settings.get(PLUGIN_NAME) or TimebankSettings()


def _listed(ctx: Context) -> str:
    names = ", ".join(_settings(ctx).coordinators)
    return f"a coordinator (plugins.timebank.coordinators: {names})"
