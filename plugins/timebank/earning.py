"""Earning: hours served become pending when a case is resolved, and a transfer once
verified.

When a case of a time-bank service is resolved by a volunteer who is a member (or a
team with an account), the time spent is recorded in ``tb_pending``: rounded to
``round_to_minutes`` (halves up), and no more than ``daily_cap_hours`` a member per local
day. Nothing moves yet. Who will pay is decided by ``settings.payer``: the helped
resident's own account when they are a member of the same bank, old enough to use their
hours (``own_use_min_age``) and holding them; else the bank's pool (priority elders and
non-members are served from it).

Verification is the second check against fraud: the recipient's confirmation or a
coordinator's sign-off, never by the volunteer themselves, with optional sign-in and
sign-out times that must bracket positive time (the credit is then no more than they
show). It writes the ``earn`` transfer; a credit that takes the account above
``storage_cap_hours`` gives the excess to the pool as a ``surplus`` transfer in the same
transaction. Rejection closes the record without a transfer. A record is decided once.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from community365 import CaseView, Context
from community365.db.schema import audit_log, cases, handlers
from community365.errors import NotFound, UsageError
from community365.registry.people import age_on
from community365.values import OPEN_STATUSES
from community365_timebank import accounts, ledger
from community365_timebank.accounts import Account
from community365_timebank.amounts import round_minutes
from community365_timebank.services import is_timebank
from community365_timebank.settings import TimebankSettings
from community365_timebank.tables import accounts as account_rows
from community365_timebank.tables import pending

VerifiedAs = Literal["recipient", "coordinator"]


@attrs.frozen
class Pending:
    """A ``tb_pending`` row: minutes served, waiting for (or past) verification."""

    id: int
    case_ref: str
    volunteer_account: int
    payer_account: int
    minutes: int
    status: str
    claimed_minutes: int | None = None
    served_on: dt.date | None = None
    recorded_at: dt.datetime | None = None
    recipient_id: int | None = None
    signed_in: dt.datetime | None = None
    signed_out: dt.datetime | None = None
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    verified_as: str | None = None
    transfer_id: int | None = None
    note: str = ""


@attrs.frozen
class Verified:
    """What verification wrote: the record, the earning and any surplus to the pool."""

    pending: Pending
    earned: ledger.Transfer
    surplus: ledger.Transfer | None = None


def _audit(ctx: Context, action: str, subject: str, detail: str) -> None:
    ctx.connection.execute(
        insert(audit_log).values(
            at=ctx.now, actor=ctx.actor, action=action, subject=subject, detail=detail
        )
    )


def get_pending(conn: Connection, case_ref: str) -> Pending:
    row = conn.execute(select(pending).where(pending.c.case_ref == case_ref)).mappings().first()
    if row is None:
        raise NotFound(f"no time-bank hours recorded for case {case_ref}")
    return Pending(**row)


def list_pending(
    conn: Connection, *, status: str | None = "pending", bank_id: int | None = None
) -> list[Pending]:
    """Records by status (None: all) and bank, oldest first."""
    query = select(pending)
    if status is not None:
        query = query.where(pending.c.status == status)
    if bank_id is not None:
        in_bank = select(account_rows.c.id).where(account_rows.c.bank_id == bank_id)
        query = query.where(pending.c.volunteer_account.in_(in_bank))
    return [Pending(**row) for row in conn.execute(query.order_by(pending.c.id)).mappings()]


# -- recording -----------------------------------------------------------------------------


def earner_account(conn: Connection, handler_code: str, area_code: str) -> Account | None:
    """The account a handler earns into for work in ``area_code``: a volunteer's member
    account (through the resident they are), or a team's account (in the bank of that
    area when the team has several); None for anyone else."""
    row = conn.execute(
        select(handlers.c.id, handlers.c.kind, handlers.c.person_id).where(
            handlers.c.code == handler_code
        )
    ).first()
    if row is None:
        return None
    if row.kind == "team":
        return accounts.team_account(conn, row.id, area_code)
    if row.kind == "volunteer" and row.person_id is not None:
        return accounts.member_account(conn, row.person_id)
    return None


def may_use_own_hours(account: Account, settings: TimebankSettings, day: dt.date) -> bool:
    """A member whose age on ``day`` is at least ``own_use_min_age``."""
    return account.birth_date is not None and (
        age_on(account.birth_date, day) >= settings.own_use_min_age
    )


def choose_payer(
    conn: Connection,
    settings: TimebankSettings,
    recipient_id: int | None,
    earner: Account,
    minutes: int,
    day: dt.date,
) -> Account:
    """Who pays ``minutes`` to ``earner`` under ``settings.payer`` (see the module doc)."""
    pool = accounts.pool_account(conn, earner.bank_id)
    if settings.payer == "pool" or recipient_id is None:
        return pool
    recipient = accounts.member_account(conn, recipient_id)
    if (
        recipient is None
        or recipient.bank_id != earner.bank_id
        or recipient.status != "active"
        or not may_use_own_hours(recipient, settings, day)
        or (recipient.available or 0) < minutes
    ):
        return pool
    return recipient


def on_transition(case: CaseView, action: str, at: dt.datetime, ctx: Context) -> None:
    """The ``c365_case_transition`` hook's work: record hours when a time-bank case is
    resolved."""
    if action == "resolve" and is_timebank(case.service):
        record(ctx, ctx.settings["timebank"], case, at)


def record(
    ctx: Context, settings: TimebankSettings, case: CaseView, at: dt.datetime
) -> Pending | None:
    """Record the resolved case's time as pending for its handler; None when nothing is
    due (not a member, no time, the daily cap reached, a record already decided)."""
    conn = ctx.connection
    if case.handler_code is None or not case.minutes_spent:
        return None
    earner = earner_account(conn, case.handler_code, case.area_code)
    if earner is None or earner.status != "active":
        return None
    if earner.person_id is not None and earner.person_id == case.reporter_id:
        _audit(ctx, "timebank.not_recorded", case.ref, "the volunteer helped themselves")
        return None
    minutes = round_minutes(case.minutes_spent, settings.round_to_minutes)
    if minutes == 0:
        return None
    ledger.lock(conn, [earner.id])  # one volunteer's records, one at a time: the daily cap
    day = at.astimezone(ctx.tz).date()
    existing = conn.execute(
        select(pending.c.id, pending.c.status).where(pending.c.case_ref == case.ref)
    ).first()
    if existing is not None and existing.status != "pending":
        return None  # decided already: a rework does not pay twice
    used = conn.execute(
        select(func.coalesce(func.sum(pending.c.minutes), 0)).where(
            pending.c.volunteer_account == earner.id,
            pending.c.served_on == day,
            pending.c.status.in_(("pending", "verified")),
            pending.c.case_ref != case.ref,
        )
    ).scalar_one()
    credit = min(minutes, settings.daily_cap_minutes - int(used))
    if credit <= 0:
        detail = f"daily cap of {ledger.hours(settings.daily_cap_minutes)} reached on {day}"
        _audit(ctx, "timebank.not_recorded", case.ref, detail)
        return None
    payer = choose_payer(conn, settings, case.reporter_id, earner, credit, day)
    values = {
        "volunteer_account": earner.id,
        "payer_account": payer.id,
        "minutes": credit,
        "claimed_minutes": case.minutes_spent,
        "served_on": day,
        "recorded_at": ctx.now,
        "recipient_id": case.reporter_id,
    }
    if existing is None:
        conn.execute(insert(pending).values(case_ref=case.ref, **values))
    else:
        conn.execute(update(pending).where(pending.c.id == existing.id).values(**values))
    capped = f" (capped from {ledger.hours(minutes)})" if credit < minutes else ""
    detail = f"{ledger.hours(credit)}{capped} for #{earner.id}, to be paid by #{payer.id}"
    _audit(ctx, "timebank.pending", case.ref, detail)
    return get_pending(conn, case.ref)


# -- deciding ------------------------------------------------------------------------------


def _volunteer_codes(conn: Connection, earner: Account) -> set[str]:
    """Handler codes that are the earner: who must not verify their own hours."""
    if earner.handler_code is not None:
        return {earner.handler_code}
    if earner.person_id is None:
        return set()
    return set(
        conn.execute(select(handlers.c.code).where(handlers.c.person_id == earner.person_id))
        .scalars()
        .all()
    )


def _signed_minutes(
    settings: TimebankSettings,
    signed_in: dt.datetime | None,
    signed_out: dt.datetime | None,
    now: dt.datetime,
) -> int | None:
    if signed_in is None and signed_out is None:
        return None
    if signed_in is None or signed_out is None:
        raise UsageError("give both the sign-in and the sign-out time, or neither")
    if signed_out <= signed_in:
        raise UsageError("the sign-out time must be after the sign-in time")
    if signed_out > now:
        raise UsageError("the sign-out time is in the future")
    span = int((signed_out - signed_in).total_seconds() // 60)
    return round_minutes(span, settings.round_to_minutes)


def _check_verifier(
    ctx: Context, settings: TimebankSettings, record: Pending, earner: Account, as_: str
) -> None:
    if ctx.actor in _volunteer_codes(ctx.connection, earner):
        raise UsageError("a volunteer does not verify their own hours")
    if as_ == "recipient":
        if record.recipient_id is None:
            raise UsageError(
                f"case {record.case_ref} has no registered recipient: a coordinator signs it off"
            )
    elif as_ == "coordinator":
        if settings.coordinators and ctx.actor not in settings.coordinators:
            raise UsageError(
                f"{ctx.actor} is not a coordinator (plugins.timebank.coordinators: "
                f"{', '.join(settings.coordinators)})"
            )
    else:
        raise UsageError(f"verified as: expected recipient or coordinator, got {as_!r}")


def _claim(ctx: Context, record: Pending, status: str, **values: object) -> None:
    """Decide the record, if nobody decided it meanwhile (the conditional update is what
    makes two verifications of one record at once pay once)."""
    done = ctx.connection.execute(
        update(pending)
        .where(pending.c.id == record.id, pending.c.status == "pending")
        .values(status=status, decided_by=ctx.actor, decided_at=ctx.now, **values)
    ).rowcount
    if done != 1:
        raise UsageError(f"the hours of case {record.case_ref} were decided meanwhile")


def _open_pending(conn: Connection, case_ref: str) -> Pending:
    record = get_pending(conn, case_ref)
    if record.status != "pending":
        raise UsageError(
            f"the hours of case {case_ref} were already {record.status} by {record.decided_by}"
        )
    return record


def verify(
    ctx: Context,
    settings: TimebankSettings,
    case_ref: str,
    *,
    as_: VerifiedAs = "coordinator",
    signed_in: dt.datetime | None = None,
    signed_out: dt.datetime | None = None,
    note: str = "",
) -> Verified:
    """Turn the case's pending hours into an ``earn`` transfer (and a ``surplus`` one
    above the storage cap). Raises UsageError or LedgerError; nothing is written then."""
    conn = ctx.connection
    record = _open_pending(conn, case_ref)
    status = conn.execute(select(cases.c.status).where(cases.c.ref == case_ref)).scalar()
    if status in OPEN_STATUSES:
        raise UsageError(f"case {case_ref} was sent back for rework; verify it once resolved")
    earner = accounts.get(conn, record.volunteer_account)
    _check_verifier(ctx, settings, record, earner, as_)
    minutes = record.minutes
    signed = _signed_minutes(settings, signed_in, signed_out, ctx.now)
    if signed is not None:
        if signed <= 0:
            raise UsageError("sign-in and sign-out bracket no time once rounded")
        minutes = min(minutes, signed)
    _claim(
        ctx,
        record,
        "verified",
        minutes=minutes,
        signed_in=signed_in,
        signed_out=signed_out,
        verified_as=as_,
        note=note.strip(),
    )
    payer = accounts.get(conn, record.payer_account)
    short = payer.status != "active" or (payer.available or 0) < minutes
    if payer.kind == "member" and short and settings.payer == "recipient_then_pool":
        payer = accounts.pool_account(conn, earner.bank_id)  # the recipient cannot pay now
    memo = f"服务 service, case {case_ref}"
    earned = ledger.transfer(
        ctx, "earn", payer.id, earner.id, minutes, memo=memo, case_ref=case_ref
    )
    surplus = None
    balance = accounts.get(conn, earner.id).balance
    excess = min(balance - settings.storage_cap_minutes, minutes)
    if excess > 0:
        pool = ledger.pool_of(conn, earner.bank_id)
        memo = f"超出存储上限 above the storage cap of {ledger.hours(settings.storage_cap_minutes)}"
        surplus = ledger.transfer(
            ctx, "surplus", earner.id, pool, excess, memo=memo, case_ref=case_ref
        )
    conn.execute(update(pending).where(pending.c.id == record.id).values(transfer_id=earned.id))
    return Verified(get_pending(conn, case_ref), earned, surplus)


def reject(ctx: Context, case_ref: str, reason: str) -> Pending:
    """Close the case's pending hours without a transfer; the reason is kept."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason")
    record = _open_pending(ctx.connection, case_ref)
    _claim(ctx, record, "rejected", note=reason.strip())
    return get_pending(ctx.connection, case_ref)
