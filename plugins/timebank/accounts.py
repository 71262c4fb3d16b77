"""Accounts: who joins which bank, leaving, freezing, team accounts, and finding one.

A bank serves one area of ``settings.bank_level`` (normally a community, 社区) and is
opened, with its pool account, when its first member joins. A resident joins the bank of
the community above their household; a person holds at most one open member account, so
an ID number names one account. A team (志愿服务队, a handler of kind ``team``) holds a team
account whose earnings can only be donated. The kinds' limits are :data:`KIND_RULES` and
the floors set here: a member may go ``new_member_overdraft_hours`` below zero, a team
never, the pool and clearing accounts have no floor.

Transfers themselves are the ledger's (:mod:`community365_timebank.ledger`); this module
only opens, closes and finds accounts. Every function here that writes takes SQLite's
write lock (:func:`ledger.write_lock`) before its first read, so that concurrent writers
queue instead of failing with "database is locked".
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import Select, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365 import Context
from community365.db.schema import areas, duties, handlers, households, persons
from community365.errors import NotFound, UsageError
from community365.registry.areas import get_area
from community365.registry.contact import mask_id_number
from community365.registry.handlers import get_handler, person_of
from community365.registry.idcard import looks_like_id_number
from community365.registry.people import get_person
from community365_timebank import ledger, permits
from community365_timebank.settings import TimebankSettings
from community365_timebank.tables import accounts, banks, pending

#: What each kind of account may do. ``earn``: be credited for service; ``spend``: pay
#: for help for oneself; ``gift``: give to family; ``donate``: give to the pool;
#: ``receive``: be given hours (a gift, a payment for help given).
KIND_RULES: dict[str, frozenset[str]] = {
    "member": frozenset({"earn", "spend", "gift", "donate", "receive"}),
    "team": frozenset({"earn", "donate"}),
    "pool": frozenset(),
    "clearing": frozenset(),
}


@attrs.frozen
class Bank:
    id: int
    area_id: int
    code: str
    name: str


@attrs.frozen
class Account:
    """An account with its bank and its holder (a person, a team, or the bank itself)."""

    id: int
    bank_id: int
    bank_code: str
    bank_name: str
    kind: str
    status: str
    balance: int  # minutes
    floor: int | None  # minutes; None: no floor
    opened_at: dt.datetime
    person_id: int | None = None
    person_name: str | None = None
    id_number: str | None = None
    birth_date: dt.date | None = None
    home_code: str | None = None  # the area of the member's household
    handler_id: int | None = None
    handler_code: str | None = None
    handler_name: str | None = None
    peer_bank_id: int | None = None

    @property
    def available(self) -> int | None:
        """Minutes that may still leave the account; None: no limit."""
        return None if self.floor is None else self.balance - self.floor

    @property
    def name(self) -> str:
        """The holder's name alone: for reports that show no ID numbers at all."""
        if self.kind == "member":
            return self.person_name or ""
        if self.kind == "team":
            return self.handler_name or ""
        return self.holder()

    def holder(self, reveal: bool = False) -> str:
        """Who the account is for, as shown to users (ID numbers masked unless ``reveal``)."""
        if self.kind == "member":
            number = self.id_number if reveal else mask_id_number(self.id_number)
            return f"{self.person_name} {number or ''}".strip()
        if self.kind == "team":
            return f"{self.handler_name} ({self.handler_code})"
        if self.kind == "pool":
            return f"{self.bank_name}公共池 pool"
        return f"清算 clearing with bank {self.peer_bank_id}"


_bank_area = aliased(areas, name="bank_area")
_home = aliased(areas, name="home")


def _query() -> Select:
    return (
        select(
            accounts.c.id,
            accounts.c.bank_id,
            _bank_area.c.code.label("bank_code"),
            _bank_area.c.name.label("bank_name"),
            accounts.c.kind,
            accounts.c.status,
            accounts.c.balance,
            accounts.c.floor,
            accounts.c.opened_at,
            persons.c.id.label("person_id"),
            persons.c.name.label("person_name"),
            persons.c.id_number,
            persons.c.birth_date,
            _home.c.code.label("home_code"),
            handlers.c.id.label("handler_id"),
            handlers.c.code.label("handler_code"),
            handlers.c.name.label("handler_name"),
            accounts.c.peer_bank_id,
        )
        .select_from(accounts)
        .join(banks, banks.c.id == accounts.c.bank_id)
        .join(_bank_area, _bank_area.c.id == banks.c.area_id)
        .outerjoin(persons, persons.c.id == accounts.c.person_id)
        .outerjoin(households, households.c.id == persons.c.household_id)
        .outerjoin(_home, _home.c.id == households.c.area_id)
        .outerjoin(handlers, handlers.c.id == accounts.c.handler_id)
    )


QUERY = _query()


def _many(conn: Connection, query: Select) -> list[Account]:
    return [Account(**row) for row in conn.execute(query).mappings()]


def get(conn: Connection, account_id: int) -> Account:
    if not 0 < account_id <= ledger.MAX_ID:
        raise NotFound(f"no time bank account #{account_id}")
    found = _many(conn, QUERY.where(accounts.c.id == account_id))
    if not found:
        raise NotFound(f"no time bank account #{account_id}")
    return found[0]


# -- banks ----------------------------------------------------------------------------------


def bank_area(conn: Connection, settings: TimebankSettings, area_code: str) -> Bank:
    """The area of ``settings.bank_level`` at or above ``area_code`` (not yet a bank:
    ``id`` is 0 until one is opened there)."""
    prefixes = [area_code[:n] for n in range(1, len(area_code) + 1)]
    row = conn.execute(
        select(areas.c.id, areas.c.code, areas.c.name)
        .where(areas.c.code.in_(prefixes), areas.c.level == settings.bank_level)
        .order_by(areas.c.code.desc())
    ).first()
    if row is None:
        raise NotFound(
            f"no {settings.bank_level} at or above area {area_code}: a time bank serves one "
            f"(plugins.timebank.bank_level = {settings.bank_level!r})"
        )
    found = conn.execute(select(banks.c.id).where(banks.c.area_id == row.id)).scalar()
    return Bank(found or 0, row.id, row.code, row.name)


def get_bank(conn: Connection, area_code: str) -> Bank:
    """The bank serving the area ``area_code`` exactly; NotFound when it has none."""
    area = get_area(conn, area_code)
    row = conn.execute(
        select(banks.c.id, banks.c.area_id)
        .join(areas, areas.c.id == banks.c.area_id)
        .where(areas.c.code == area_code)
    ).first()
    if row is None:
        raise NotFound(f"area {area_code} ({area.name}) has no time bank yet")
    return Bank(row.id, row.area_id, area_code, area.name)


def pool_account(conn: Connection, bank_id: int) -> Account:
    return get(conn, ledger.pool_of(conn, bank_id))


# -- finding an account ----------------------------------------------------------------------


def member_account(conn: Connection, person_id: int) -> Account | None:
    """The person's open member account, if any."""
    found = _many(
        conn,
        QUERY.where(
            accounts.c.kind == "member",
            accounts.c.person_id == person_id,
            accounts.c.status != "closed",
        ),
    )
    return found[0] if found else None


def team_account(conn: Connection, handler_id: int, area_code: str | None = None) -> Account | None:
    """The team's open account. A team with accounts in several banks is asked with the
    ``area_code`` of the work (the account of the bank above it is given); without one,
    that is a UsageError naming the accounts."""
    found = _many(
        conn,
        QUERY.where(
            accounts.c.kind == "team",
            accounts.c.handler_id == handler_id,
            accounts.c.status != "closed",
        ).order_by(accounts.c.id),
    )
    if len(found) > 1 and area_code is not None:
        here = [a for a in found if area_code.startswith(a.bank_code)]
        return here[0] if here else None
    if len(found) > 1:
        ids = ", ".join(f"#{a.id}" for a in found)
        raise UsageError(f"team {found[0].handler_code} has accounts in several banks ({ids})")
    return found[0] if found else None


def find(conn: Connection, ref: str) -> Account:
    """An account by reference: ``#ID``; ``pool:AREA`` (the pool of the bank of that
    community); a resident's ID number (their open member account, else their last one);
    a handler's code (a team's account, or the member account of the resident a
    volunteer is)."""
    ref = ref.strip()
    if ref.startswith("#") and ref[1:].isdigit():
        return get(conn, int(ref[1:]))
    if ref.lower().startswith("pool:"):
        return pool_account(conn, get_bank(conn, ref[5:].strip()).id)
    if looks_like_id_number(ref):
        person = get_person(conn, ref)
        found = member_account(conn, person.id) or _last_member_account(conn, person.id)
        if found is None:
            raise NotFound(f"{person.name} is not a member of a time bank")
        return found
    handler = get_handler(conn, ref)
    if handler.kind == "team":
        team = team_account(conn, handler.id)
        if team is None:
            raise NotFound(f"team {handler.code} has no time bank account")
        return team
    if handler.person_id is None:
        raise NotFound(
            f"handler {handler.code} is not linked to a resident, so has no time bank account"
        )
    found = member_account(conn, handler.person_id)
    if found is None:
        raise NotFound(f"{handler.name} ({handler.code}) is not a member of a time bank")
    return found


def _last_member_account(conn: Connection, person_id: int) -> Account | None:
    found = _many(
        conn,
        QUERY.where(accounts.c.kind == "member", accounts.c.person_id == person_id)
        .order_by(accounts.c.id.desc())
        .limit(1),
    )
    return found[0] if found else None


def list_accounts(
    conn: Connection,
    *,
    bank_code: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> list[Account]:
    """Accounts in bank then id order, filtered by bank (area code), kind and status."""
    query = QUERY
    if bank_code is not None:
        query = query.where(accounts.c.bank_id == get_bank(conn, bank_code).id)
    if kind is not None:
        query = query.where(accounts.c.kind == kind)
    if status is not None:
        query = query.where(accounts.c.status == status)
    return _many(conn, query.order_by(_bank_area.c.code, accounts.c.id))


def require(account: Account, action: str) -> None:
    """Refuse what the account's kind may not do (a team spending, a pool giving)."""
    if action not in KIND_RULES[account.kind]:
        if account.kind == "team":
            raise ledger.LedgerError(
                f"account #{account.id} is a team's: its hours can only be donated to the pool"
            )
        raise ledger.LedgerError(f"account #{account.id} is a {account.kind} account: no {action}")


# -- joining and leaving -----------------------------------------------------------------------


def join_ref(
    ctx: Context,
    settings: TimebankSettings,
    ref: str,
    *,
    move: bool = False,
    bank_code: str | None = None,
) -> Account:
    """Join by reference: a resident's ID number (or ``HOUSEHOLD/NAME``), a volunteer's
    code (the resident they are), or a team's code (a team account, see :func:`join_team`)."""
    conn = ctx.connection
    ledger.write_lock(conn)
    if looks_like_id_number(ref) or "/" in ref:
        person_ref = ref
    else:
        handler = get_handler(conn, ref.strip())
        if handler.kind == "team":
            if move:
                raise UsageError("--move is for residents; a team opens an account per bank")
            return join_team(ctx, settings, handler.code, bank_code)
        if handler.person_id is None:
            raise UsageError(f"handler {handler.code} is not linked to a resident")
        name, number = person_of(conn, handler.person_id)
        person_ref = number or f"{_household_of(conn, handler.person_id)}/{name}"
    if bank_code is not None:
        raise UsageError("--bank is for teams; a resident joins the bank of their community")
    return join(ctx, settings, person_ref, move=move)


def _household_of(conn: Connection, person_id: int) -> str | None:
    return conn.execute(
        select(households.c.code)
        .join(persons, persons.c.household_id == households.c.id)
        .where(persons.c.id == person_id)
    ).scalar()


def join(
    ctx: Context, settings: TimebankSettings, person_ref: str, *, move: bool = False
) -> Account:
    """The resident (by ID number, or ``HOUSEHOLD/NAME``) joins the bank of their
    community (opened on its first member). With ``move``, a member of another bank moves
    there: the new account is opened, the balance goes across (通存通兑) and the old
    account is closed."""
    conn = ctx.connection
    ledger.write_lock(conn)
    person = get_person(conn, person_ref)
    if person.area_code is None:
        raise UsageError(f"{person.name} has no household, so no community to join")
    target = bank_area(conn, settings, person.area_code)
    current = member_account(conn, person.id)
    if current is not None:
        if current.bank_code == target.code:
            raise UsageError(f"{person.name} is already a member (account #{current.id})")
        if not move:
            raise UsageError(
                f"{person.name} is a member of the {current.bank_name} bank "
                f"(account #{current.id}); join with --move to move there"
            )
        permits.require_holder_or_coordinator(ctx, current, "move")
        require_nothing_pending(conn, current, "moving to another bank")
        if current.balance < 0:
            raise ledger.LedgerError(
                f"account #{current.id} is {ledger.hours(current.balance)} hours overdrawn: "
                "it moves once back at zero or above"
            )
    bank_id = ledger.open_bank(ctx, target.area_id)
    owner = f"member:{person.id}"
    if ledger.find_account(conn, bank_id, owner) is not None:
        raise UsageError(
            f"{person.name} left the {target.name} bank before; a closed account is not reopened"
        )
    floor = -settings.overdraft_minutes
    if current is not None and current.floor is not None:
        floor = max(floor, current.floor)  # an overdraft closed by earning stays closed
    new_id = ledger.open_account(ctx, bank_id, "member", owner, floor=floor, person_id=person.id)
    if current is not None:
        if current.balance > 0:
            memo = f"迁入 moved to {target.name}"
            ledger.transfer_across(ctx, current.id, new_id, current.balance, memo=memo)
        ledger.set_status(ctx, current.id, "closed")
    return get(conn, new_id)


def require_nothing_pending(conn: Connection, account: Account, doing: str) -> None:
    """UsageError while hours the account earns or pays wait for verification: closing it
    would leave them nowhere to go."""
    waiting = (
        conn.execute(
            select(pending.c.case_ref)
            .where(
                or_(
                    pending.c.volunteer_account == account.id, pending.c.payer_account == account.id
                ),
                pending.c.status == "pending",
            )
            .order_by(pending.c.case_ref)
        )
        .scalars()
        .all()
    )
    if waiting:
        raise UsageError(
            f"account #{account.id} has hours waiting for verification (cases "
            f"{', '.join(waiting)}): verify or reject them before {doing}"
        )


def join_team(
    ctx: Context, settings: TimebankSettings, handler_code: str, bank_code: str | None = None
) -> Account:
    """Open a team account for the team handler ``handler_code`` in the bank of
    ``bank_code`` (an area at or below the community), or of the community of its duties."""
    conn = ctx.connection
    ledger.write_lock(conn)
    handler = get_handler(conn, handler_code)
    if handler.kind != "team":
        raise UsageError(
            f"{handler.code} is a {handler.kind}, not a team; residents join by their ID number"
        )
    if bank_code is not None:
        target = bank_area(conn, settings, bank_code)
    else:
        codes = conn.execute(
            select(areas.c.code)
            .join(duties, duties.c.area_id == areas.c.id)
            .where(duties.c.handler_id == handler.id)
        ).scalars()
        found = {bank_area(conn, settings, code).code: code for code in codes}
        if len(found) != 1:
            why = "has no duty" if not found else "has duties in several communities"
            raise UsageError(f"team {handler.code} {why}: give the bank with --bank AREA")
        target = bank_area(conn, settings, next(iter(found)))
    bank_id = ledger.open_bank(ctx, target.area_id)
    owner = f"team:{handler.id}"
    if ledger.find_account(conn, bank_id, owner) is not None:
        raise UsageError(f"team {handler.code} already has an account in the {target.name} bank")
    new_id = ledger.open_account(ctx, bank_id, "team", owner, floor=0, handler_id=handler.id)
    return get(conn, new_id)


def leave(ctx: Context, ref: str, *, donate_rest: bool = False) -> tuple[Account, int]:
    """Close a member's or team's account; returns it and the minutes donated. The
    balance must be zero, or, with ``donate_rest``, positive and given to the pool first."""
    conn = ctx.connection
    ledger.write_lock(conn)
    account = find(conn, ref)
    if account.kind not in ("member", "team"):
        raise UsageError(f"account #{account.id} is the bank's own {account.kind} account")
    if account.status == "closed":
        raise UsageError(f"account #{account.id} is already closed")
    permits.require_holder_or_coordinator(ctx, account, "close")
    require_nothing_pending(conn, account, "leaving")
    donated = 0
    if donate_rest and account.balance > 0:
        pool = ledger.pool_of(conn, account.bank_id)
        memo = "注销时捐赠 donated on leaving"
        ledger.transfer(ctx, "donate", account.id, pool, account.balance, memo=memo)
        donated = account.balance
    ledger.set_status(ctx, account.id, "closed")
    return get(conn, account.id), donated


def set_frozen(ctx: Context, ref: str, frozen: bool) -> Account:
    """Freeze (no transfer in or out but reversals) or unfreeze a member or team account."""
    conn = ctx.connection
    ledger.write_lock(conn)
    account = find(conn, ref)
    if account.kind not in ("member", "team"):
        raise UsageError(f"account #{account.id} is the bank's own {account.kind} account")
    permits.require_coordinator(ctx, "freeze or unfreeze accounts")
    wanted, before = ("frozen", "active") if frozen else ("active", "frozen")
    if account.status != before:
        raise UsageError(f"account #{account.id} is {account.status}, not {before}")
    ledger.set_status(ctx, account.id, wanted)
    return get(conn, account.id)
