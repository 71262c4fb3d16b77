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
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection

from community365 import CaseView, Context
from community365.cli.periods import check_day
from community365.db.schema import cases, handlers, persons
from community365.district import audit
from community365.errors import NotFound, UsageError
from community365.registry.people import age_on, get_person
from community365.registry.tags import tags_of
from community365.values import OPEN_STATUSES
from community365_timebank import accounts, ledger
from community365_timebank.accounts import Account, is_id_number
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
    ledger.write_lock(conn)  # before the first read (SQLite)
    earner = earner_account(conn, case.handler_code, case.area_code)
    if earner is None or earner.status != "active":
        return None
    if earner.person_id is not None and earner.person_id == case.reporter_id:
        audit(ctx, "timebank.not_recorded", case.ref, "the volunteer helped themselves")
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
        audit(ctx, "timebank.not_recorded", case.ref, detail)
        return None
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


# -- deciding ------------------------------------------------------------------------------


def parse_moment(text: str, tz: dt.tzinfo, option: str) -> dt.datetime:
    """A date and time as ISO (``2026-11-25 09:30``, ``2026-11-25T09:30``, with seconds or
    an offset); without an offset it is read in ``tz``. Refused outside the years
    :func:`community365.cli.periods.check_day` allows. (The same reading as the core's
    ``--available-at``; see the report about sharing one parser.)"""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: not a date and time (YYYY-MM-DD HH:MM): {text!r}") from None
    check_day(moment.date(), option)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _same(actor: str, names: set[str]) -> bool:
    return actor in names or actor.upper() in names


def _is_person(conn: Connection, person_id: int, actor: str) -> bool:
    """Whether ``actor`` names the resident ``person_id`` by ID number or HOUSEHOLD/NAME."""
    if "/" not in actor and not is_id_number(actor):
        return False
    try:
        return get_person(conn, actor).id == person_id
    except (NotFound, UsageError):
        return False


def _is_volunteer(conn: Connection, earner: Account, actor: str) -> bool:
    """Whether ``actor`` is the earner: a handler code or name of theirs (the team's, or
    any handler the resident is), the resident's name or ID number, or HOUSEHOLD/NAME."""
    clauses = []
    if earner.handler_id is not None:
        clauses.append(handlers.c.id == earner.handler_id)
    if earner.person_id is not None:
        clauses.append(handlers.c.person_id == earner.person_id)
    names: set[str] = set()
    if clauses:
        query = select(handlers.c.code, handlers.c.name).where(or_(*clauses))
        for code, name in conn.execute(query):
            names |= {code, name}
    if earner.person_id is not None:
        person = conn.execute(
            select(persons.c.name, persons.c.id_number).where(persons.c.id == earner.person_id)
        ).one()
        names |= {person.name} | ({person.id_number} if person.id_number else set())
        if _is_person(conn, earner.person_id, actor):
            return True
    return _same(actor, names)


def _check_verifier(
    ctx: Context, settings: TimebankSettings, record: Pending, earner: Account, as_: str
) -> None:
    conn = ctx.connection
    actor = ctx.actor.strip()
    if _is_volunteer(conn, earner, actor):
        raise UsageError("a volunteer does not verify their own hours")
    if as_ == "recipient":
        if record.recipient_id is None:
            raise UsageError(
                f"case {record.case_ref} has no registered recipient: a coordinator signs it off"
            )
        if not _is_person(conn, record.recipient_id, actor):
            raise UsageError(
                f"only the recipient confirms their help: act as their ID number or "
                f"HOUSEHOLD/NAME (--as), not {actor!r}"
            )
    elif as_ == "coordinator":
        if settings.coordinators and actor not in settings.coordinators:
            raise UsageError(
                f"{actor} is not a coordinator (plugins.timebank.coordinators: "
                f"{', '.join(settings.coordinators)})"
            )
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
    if case.status in OPEN_STATUSES:
        raise UsageError(f"case {case_ref} was sent back for rework; verify it once resolved")
    earner = accounts.get(conn, record.volunteer_account)
    _check_verifier(ctx, settings, record, earner, as_)
    minutes = record.minutes
    signed = _signed_minutes(settings, signed_in, signed_out, case.received_at, case.resolved_at)
    if signed is not None:
        if signed <= 0:
            raise UsageError("sign-in and sign-out bracket no time once rounded")
        minutes = min(minutes, signed)
    day = record.served_on or ctx.now.astimezone(ctx.tz).date()
    choice = choose_payer(conn, settings, record.recipient_id, earner, minutes, day)
    if choice.account is None:
        raise UsageError(f"case {case_ref}: nobody pays these hours: {choice.reason}")
    payer = choice.account
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
    conn.execute(
        update(pending)
        .where(pending.c.id == record.id)
        .values(transfer_id=earned.id, payer_account=payer.id)
    )
    return Verified(get_pending(conn, case_ref), earned, surplus)


def reject(ctx: Context, case_ref: str, reason: str) -> Pending:
    """Close the case's pending hours without a transfer; the reason is kept."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason")
    ledger.write_lock(ctx.connection)  # before the first read (SQLite)
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
    record = get_pending(conn, case_ref)
    if record.status == "reversed":
        raise UsageError(f"the earning of case {case_ref} was already reversed")
    if record.status != "verified" or record.transfer_id is None:
        raise UsageError(
            f"the hours of case {case_ref} are {record.status}: only verified hours are reversed"
        )
    made = conn.execute(
        select(transfers.c.id, transfers.c.kind).where(
            transfers.c.case_ref == case_ref, transfers.c.kind.in_(("earn", "surplus"))
        )
    ).all()
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
