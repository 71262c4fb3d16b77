"""Earning: hours served become pending when a case is resolved, and a transfer once
verified.

When a case of a time-bank service is resolved by a volunteer who is a member (or a
team with an account), the time spent is recorded in ``tb_pending``: rounded to
``round_to_minutes`` (halves up), and no more than ``daily_cap_hours`` a member per local
day (reversed earnings do not count). Nothing moves yet.

Who pays (:func:`choose_payer`, decided on recording and again at verification, and
stored with the transfer): with ``payer = "pool"`` always the bank's pool. Otherwise the
helped resident's own account when they are a member of the same bank, old enough to use
their hours (``own_use_min_age``) and holding them; else the pool when they are a
priority elder (a tag in ``pool_pays_for_tags``, or aged ``pool_pays_from_age`` or more
on the day served); else nobody: the record stays pending with no payer (NULL) and the
reason in its note, and verification is refused with that reason until the recipient can
pay or qualifies.

Verification is the second check against fraud: the recipient's confirmation (the actor
must be the recipient, named by ID number or ``HOUSEHOLD/NAME``) or a coordinator's
sign-off (an actor in ``coordinators``; any actor when that list is empty), never by the
volunteer (named by handler code, name, ID number or ``HOUSEHOLD/NAME``). Optional
sign-in and sign-out times must satisfy received_at <= sign-in < sign-out <= resolved_at
of the case (the credit is then no more than they show). It writes the ``earn`` transfer;
a credit that takes the account above ``storage_cap_hours`` gives the excess to the pool
as a ``surplus`` transfer in the same transaction. Rejection closes the record without a
transfer. A record is decided once; :func:`reverse_earning` undoes a verified one (both
transfers, in one transaction) and sets its status to "reversed".

Every write path takes the write lock (:func:`ledger.write_lock`) before its first read.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from community365 import CaseView, Context
from community365.cli.periods import check_day
from community365.db.schema import cases, handlers, persons
from community365.district import audit
from community365.errors import NotFound, UsageError
from community365.registry.people import age_on
from community365.registry.tags import tags_of
from community365_timebank import accounts, ledger, permits
from community365_timebank.accounts import Account
from community365_timebank.amounts import round_minutes
from community365_timebank.services import is_timebank
from community365_timebank.settings import TimebankSettings
from community365_timebank.tables import accounts as account_rows
from community365_timebank.tables import pending, transfers

VerifiedAs = Literal["recipient", "coordinator"]

#: The human-readable mark a reversal adds to the record's note (the status says it).
REVERSED = "冲正 reversed"


@attrs.frozen
class Pending:
    """A ``tb_pending`` row: minutes served, waiting for (or past) verification."""

    id: int
    case_ref: str
    volunteer_account: int
    payer_account: int | None  # None: nobody is to pay yet (the note says why)
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


@attrs.frozen
class PayerChoice:
    """Who pays (None: nobody yet) and why."""

    account: Account | None
    reason: str


def _own_payment_refused(
    recipient: Account | None,
    earner: Account,
    settings: TimebankSettings,
    minutes: int,
    day: dt.date,
) -> str | None:
    """Why the recipient's own account does not pay ``minutes``; None when it does."""
    if recipient is None:
        return "not a member"
    if recipient.bank_id != earner.bank_id:
        return "a member of another bank"
    if recipient.status != "active":
        return f"their account is {recipient.status}"
    if not may_use_own_hours(recipient, settings, day):
        age = "age unknown" if recipient.birth_date is None else age_on(recipient.birth_date, day)
        return f"{age}, own use from {settings.own_use_min_age}"
    if (recipient.available or 0) < minutes:
        return f"holds {ledger.hours(recipient.available or 0)} of {ledger.hours(minutes)}"
    return None


def choose_payer(
    conn: Connection,
    settings: TimebankSettings,
    recipient_id: int | None,
    earner: Account,
    minutes: int,
    day: dt.date,
) -> PayerChoice:
    """Who pays ``minutes`` to ``earner`` (see the module doc): the recipient, the pool,
    or nobody (``account`` None, with the reason)."""
    pool = accounts.pool_account(conn, earner.bank_id)
    if settings.payer == "pool":
        return PayerChoice(pool, 'the pool always pays (payer = "pool")')
    if recipient_id is None:
        return PayerChoice(None, "the case names no registered recipient to pay or qualify")
    recipient = accounts.member_account(conn, recipient_id)
    refused = _own_payment_refused(recipient, earner, settings, minutes, day)
    if refused is None:
        assert recipient is not None
        return PayerChoice(recipient, "the recipient pays from their own hours")
    person = conn.execute(
        select(persons.c.name, persons.c.birth_date).where(persons.c.id == recipient_id)
    ).one()
    tags = set(tags_of(conn, [recipient_id]).get(recipient_id, ()))
    priority = [t for t in settings.pool_pays_for_tags if t in tags]
    if priority:
        return PayerChoice(pool, f"priority elder ({priority[0]}): the pool pays")
    from_age = settings.pool_pays_from_age
    if from_age is not None and person.birth_date is not None:
        age = age_on(person.birth_date, day)
        if age >= from_age:
            return PayerChoice(pool, f"priority elder (aged {age}): the pool pays")
    rule = ", ".join(settings.pool_pays_for_tags) or "none"
    aged = f" or aged {from_age}+" if from_age is not None else ""
    return PayerChoice(
        None,
        f"{person.name} is neither a member paying their own help ({refused}) nor a priority "
        f"elder (tags: {rule}{aged}; plugins.timebank.pool_pays_for_tags, pool_pays_from_age)",
    )


#: The case actions that end a case's pending hours unless the case is resolved again.
ENDING_ACTIONS = frozenset({"withdraw", "duplicate", "reject"})


def on_transition(case: CaseView, action: str, at: dt.datetime, ctx: Context) -> None:
    """The ``c365_case_transition`` hook's work: record hours when a time-bank case is
    resolved; set aside hours still pending when it is withdrawn, made a duplicate or
    rejected (after a rework, say): those hours were for work the case no longer stands on."""
    if not is_timebank(case.service):
        return
    if action == "resolve":
        record(ctx, ctx.settings["timebank"], case, at)
    elif action in ENDING_ACTIONS:
        ledger.write_lock(ctx.connection)
        _set_aside(ctx, case.ref, f"the case was {case.status}")


def record(
    ctx: Context, settings: TimebankSettings, case: CaseView, at: dt.datetime
) -> Pending | None:
    """Record the resolved case's time as pending for its handler; None when nothing is
    due (not a time-bank member, no time, the daily cap reached, the volunteer helped
    themselves, a record already decided): an audit entry says why. A rework's resolve
    replaces the hours still pending; when it is due nothing, they are set aside."""
    conn = ctx.connection
    ledger.write_lock(conn)  # before the first read (SQLite)
    existing = conn.execute(
        select(pending.c.id, pending.c.status).where(pending.c.case_ref == case.ref)
    ).first()
    if existing is not None and existing.status != "pending":
        return None  # decided already: a rework does not pay twice
    due = _due(ctx, settings, case, at)
    if isinstance(due, str):
        audit(ctx, "timebank.not_recorded", case.ref, due)
        _set_aside(ctx, case.ref, f"resolved again: {due}")
        return None
    earner, credit, day, minutes = due
    choice = choose_payer(conn, settings, case.reporter_id, earner, credit, day)
    payer = choice.account  # None: nobody pays yet; the note says why
    values = {
        "volunteer_account": earner.id,
        "payer_account": None if payer is None else payer.id,
        "note": "" if payer is not None else choice.reason,
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
    paid_by = f"no payer yet: {choice.reason}"
    if payer is not None:
        paid_by = f"to be paid by #{payer.id}"
    detail = f"{ledger.hours(credit)}{capped} for #{earner.id}, {paid_by}"
    audit(ctx, "timebank.pending", case.ref, detail)
    return get_pending(conn, case.ref)


def _due(
    ctx: Context, settings: TimebankSettings, case: CaseView, at: dt.datetime
) -> tuple[Account, int, dt.date, int] | str:
    """(earner, minutes credited, day served, minutes before the cap), or why nothing is
    due. A frozen account still has its hours recorded: verification waits for it."""
    conn = ctx.connection
    if case.handler_code is None:
        return "no handler"
    earner = earner_account(conn, case.handler_code, case.area_code)
    if earner is None:
        return f"{case.handler_code} has no time-bank account"
    if earner.status == "closed":
        return f"{case.handler_code}'s time-bank account #{earner.id} is closed"
    if earner.person_id is not None and earner.person_id == case.reporter_id:
        return "the volunteer helped themselves"
    minutes = round_minutes(case.minutes_spent or 0, settings.round_to_minutes)
    if minutes == 0:
        spent = case.minutes_spent or 0
        return f"{spent} minutes of service recorded, {settings.round_to_minutes}-minute steps"
    ledger.lock(conn, [earner.id])  # one volunteer's records, one at a time: the daily cap
    day = at.astimezone(ctx.tz).date()
    credit = min(minutes, cap_left(conn, settings, earner.id, day, case.ref))
    if credit <= 0:
        return f"daily cap of {ledger.hours(settings.daily_cap_minutes)} reached on {day}"
    return earner, credit, day, minutes


def cap_left(
    conn: Connection, settings: TimebankSettings, account_id: int, day: dt.date, case_ref: str
) -> int:
    """Minutes the account may still be credited for ``day`` beside case ``case_ref``:
    its other records of that day count while pending or verified."""
    used = conn.execute(
        select(func.coalesce(func.sum(pending.c.minutes), 0)).where(
            pending.c.volunteer_account == account_id,
            pending.c.served_on == day,
            pending.c.status.in_(("pending", "verified")),
            pending.c.case_ref != case_ref,
        )
    ).scalar_one()
    return settings.daily_cap_minutes - int(used)


def _set_aside(ctx: Context, case_ref: str, why: str) -> None:
    """Reject the case's hours if still pending, by the system, saying why."""
    done = ctx.connection.execute(
        update(pending)
        .where(pending.c.case_ref == case_ref, pending.c.status == "pending")
        .values(status="rejected", decided_by="c365", decided_at=ctx.now, note=why)
    ).rowcount
    if done:
        audit(ctx, "timebank.set_aside", case_ref, why)


# -- deciding ------------------------------------------------------------------------------


def _check_verifier(
    ctx: Context, settings: TimebankSettings, record: Pending, earner: Account, as_: str
) -> None:
    conn = ctx.connection
    actor = ctx.actor.strip()
    if permits.is_holder(conn, earner, actor, by_name=True):
        raise UsageError("a volunteer does not verify their own hours")
    if as_ == "recipient":
        if record.recipient_id is None:
            raise UsageError(
                f"case {record.case_ref} has no registered recipient: a coordinator signs it off"
            )
        if not permits.names_person(conn, record.recipient_id, actor):
            raise UsageError(
                f"only the recipient confirms their help: act as their ID number or "
                f"HOUSEHOLD/NAME (--as), not {actor!r}"
            )
    elif as_ == "coordinator":
        permits.require_coordinator(ctx, "sign off hours")
    else:
        raise UsageError(f"verified as: expected recipient or coordinator, got {as_!r}")


def _signed_minutes(
    settings: TimebankSettings,
    signed_in: dt.datetime | None,
    signed_out: dt.datetime | None,
    received_at: dt.datetime,
    resolved_at: dt.datetime | None,
) -> int | None:
    """The signed time, rounded; the times must lie within the case: received_at <=
    sign-in < sign-out <= resolved_at (no grace)."""
    if signed_in is None and signed_out is None:
        return None
    if signed_in is None or signed_out is None:
        raise UsageError("give both the sign-in and the sign-out time, or neither")
    check_day(signed_in.date(), "sign-in")
    check_day(signed_out.date(), "sign-out")
    if signed_out <= signed_in:
        raise UsageError("the sign-out time must be after the sign-in time")
    if signed_in < received_at:
        raise UsageError(
            f"the sign-in time is before the request was received ({received_at.isoformat()})"
        )
    if resolved_at is None or signed_out > resolved_at:
        when = resolved_at.isoformat() if resolved_at else "never"
        raise UsageError(f"the sign-out time is after the case was resolved ({when})")
    span = int((signed_out - signed_in).total_seconds() // 60)
    return round_minutes(span, settings.round_to_minutes)


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
    ledger.write_lock(conn)  # before the first read (SQLite)
    record = _open_pending(conn, case_ref)
    case = conn.execute(
        select(cases.c.status, cases.c.received_at, cases.c.resolved_at).where(
            cases.c.ref == case_ref
        )
    ).one()
    if case.status not in ("resolved", "closed") or case.resolved_at is None:
        raise UsageError(f"case {case_ref} is {case.status}: its hours wait until it is resolved")
    earner = accounts.get(conn, record.volunteer_account)
    _check_verifier(ctx, settings, record, earner, as_)
    minutes = record.minutes
    day = record.served_on or ctx.today
    signed = _signed_minutes(settings, signed_in, signed_out, case.received_at, case.resolved_at)
    if signed is not None:
        if signed <= 0:
            raise UsageError("sign-in and sign-out bracket no time once rounded")
        minutes = min(minutes, signed)
        day = signed_in.astimezone(ctx.tz).date()  # type: ignore[union-attr]
    # the limits first (the payer is chosen for what will be paid), then under the locks
    signed_at = (signed_in, signed_out) if signed is not None else None
    minutes = min(minutes, _room(conn, settings, earner.id, case_ref, day, signed_at))
    choice = choose_payer(conn, settings, record.recipient_id, earner, minutes, day)
    if choice.account is None:
        raise UsageError(f"case {case_ref}: nobody pays these hours: {choice.reason}")
    payer = choice.account
    pool = ledger.pool_of(conn, earner.bank_id)
    # all three at once, in id order: no deadlock with another writer of any of them
    before = ledger.lock(conn, [payer.id, earner.id, pool])[earner.id]["balance"]
    minutes = min(minutes, _room(conn, settings, earner.id, case_ref, day, signed_at))
    _claim(
        ctx,
        record,
        "verified",
        minutes=minutes,
        served_on=day,
        signed_in=signed_in,
        signed_out=signed_out,
        verified_as=as_,
        note=note.strip(),
    )
    memo = f"服务 service, case {case_ref}"
    earned = ledger.transfer(
        ctx, "earn", payer.id, earner.id, minutes, memo=memo, case_ref=case_ref
    )
    ledger.raise_floor(ctx, earner.id, min(0, before))
    surplus = cap_surplus(ctx, settings, earner.id, minutes, case_ref)
    conn.execute(
        update(pending)
        .where(pending.c.id == record.id)
        .values(transfer_id=earned.id, payer_account=payer.id)
    )
    return Verified(get_pending(conn, case_ref), earned, surplus)


def _room(
    conn: Connection,
    settings: TimebankSettings,
    account_id: int,
    case_ref: str,
    day: dt.date,
    signed_at: tuple[dt.datetime, dt.datetime] | None,
) -> int:
    """Minutes the record may still be credited on ``day``; UsageError when its signed
    time overlaps another verified record's of the account (one hour is paid once) or
    the daily cap is used up by the account's other records."""
    if signed_at is not None:
        signed_in, signed_out = signed_at
        other = conn.execute(
            select(pending.c.case_ref).where(
                pending.c.volunteer_account == account_id,
                pending.c.status == "verified",
                pending.c.case_ref != case_ref,
                pending.c.signed_in < signed_out,
                pending.c.signed_out > signed_in,
            )
        ).scalar()
        if other is not None:
            raise UsageError(f"the signed time overlaps the signed time of case {other}")
    left = cap_left(conn, settings, account_id, day, case_ref)
    if left <= 0:
        raise UsageError(
            f"case {case_ref}: the daily cap of {ledger.hours(settings.daily_cap_minutes)} "
            f"is reached on {day} by #{account_id}'s other hours"
        )
    return left


def cap_surplus(
    ctx: Context, settings: TimebankSettings, account_id: int, credited: int, case_ref: str | None
) -> ledger.Transfer | None:
    """After a credit of ``credited`` minutes, give what the account holds above
    ``storage_cap_hours`` (at most the credit) to its bank's pool: a ``surplus`` transfer."""
    account = accounts.get(ctx.connection, account_id)
    excess = min(account.balance - settings.storage_cap_minutes, credited)
    if account.kind not in ("member", "team") or excess <= 0:
        return None
    pool = ledger.pool_of(ctx.connection, account.bank_id)
    memo = f"超出存储上限 above the storage cap of {ledger.hours(settings.storage_cap_minutes)}"
    return ledger.transfer(ctx, "surplus", account_id, pool, excess, memo=memo, case_ref=case_ref)


def reject(ctx: Context, case_ref: str, reason: str) -> Pending:
    """Close the case's pending hours without a transfer; the reason is kept."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason")
    ledger.write_lock(ctx.connection)  # before the first read (SQLite)
    permits.require_coordinator(ctx, "reject hours")
    record = _open_pending(ctx.connection, case_ref)
    _claim(ctx, record, "rejected", note=reason.strip())
    return get_pending(ctx.connection, case_ref)


# -- reversing -----------------------------------------------------------------------------


def reverse_earning(ctx: Context, case_ref: str, reason: str) -> list[ledger.Transfer]:
    """Undo a verified earning (冲正): reverse its ``surplus`` transfer (if any) and its
    ``earn`` transfer, in this transaction, so the volunteer is back where they were, and
    set the record's status to "reversed" (its note records the reason; it no longer
    counts toward the daily cap). Refused (nothing written) for a record not verified,
    one reversed already, or when the volunteer has
    spent the hours meanwhile (the ledger's floor). Returns the reversing transfers."""
    reason = reason.strip()
    if not reason:
        raise UsageError("a reversal needs a reason")
    conn = ctx.connection
    ledger.write_lock(conn)  # before the first read (SQLite)
    permits.require_coordinator(ctx, "reverse earnings")
    record = get_pending(conn, case_ref)
    if record.status == "reversed":
        raise UsageError(f"the earning of case {case_ref} was already reversed")
    if record.status != "verified" or record.transfer_id is None:
        raise UsageError(
            f"the hours of case {case_ref} are {record.status}: only verified hours are reversed"
        )
    made = conn.execute(
        select(
            transfers.c.id, transfers.c.kind, transfers.c.from_account, transfers.c.to_account
        ).where(transfers.c.case_ref == case_ref, transfers.c.kind.in_(("earn", "surplus")))
    ).all()
    # every account of both transfers at once, in id order: no deadlock between them
    ledger.lock(conn, [a for t in made for a in (t.from_account, t.to_account)])
    undone = set(
        conn.execute(
            select(transfers.c.reverses).where(transfers.c.reverses.in_([t.id for t in made]))
        ).scalars()
    )
    # the surplus first: the volunteer gets back what went above the cap, then gives the
    # whole earning back to its payer
    order = sorted(made, key=lambda t: (t.kind != "surplus", t.id))
    done = [ledger.reverse(ctx, t.id, reason) for t in order if t.id not in undone]
    mark = f"{REVERSED} {ctx.now.astimezone(ctx.tz):%Y-%m-%d %H:%M} by {ctx.actor}: {reason}"
    note = f"{record.note}; {mark}" if record.note else mark
    marked = conn.execute(
        update(pending)
        .where(pending.c.id == record.id, pending.c.status == "verified")
        .values(status="reversed", note=note)
    ).rowcount
    if marked != 1:
        raise UsageError(f"the earning of case {case_ref} was reversed meanwhile")
    detail = ", ".join(f"{t.reverses} by {t.id}" for t in done)
    audit(ctx, "timebank.reverse_earning", case_ref, f"{detail}: {reason}")
    return done


def reverse_transfer(ctx: Context, transfer_id: int, reason: str) -> list[ledger.Transfer]:
    """``c365 timebank reverse``'s entry point: an ``earn`` or ``surplus`` transfer of a
    verified case goes through :func:`reverse_earning` (both transfers, the record
    marked); any other transfer through :func:`ledger.reverse`."""
    conn = ctx.connection
    ledger.write_lock(conn)  # before the first read (SQLite)
    permits.require_coordinator(ctx, "reverse transfers")
    original = ledger.get_transfer(conn, transfer_id)
    if original.kind in ("earn", "surplus") and original.case_ref is not None:
        recorded = conn.execute(
            select(pending.c.id).where(
                pending.c.case_ref == original.case_ref, pending.c.transfer_id.is_not(None)
            )
        ).first()
        if recorded is not None:
            return reverse_earning(ctx, original.case_ref, reason)
    reversed_ = ledger.reverse(ctx, transfer_id, reason)  # a cross-bank leg: both legs
    return list(reversed_) if isinstance(reversed_, tuple) else [reversed_]
