"""Spending, gifts and donations: hours leaving a member's account by their own choice.

- **Spend** (支取): a member old enough (``own_use_min_age``) pays for help for
  themselves, to the member or team who gave it, or to the pool.
- **Gift** (转赠): a member gives hours to a spouse, parent or grandparent (a tie recorded
  in :mod:`community365_timebank.family`) aged ``family_min_age`` or more.
- **Donate** (捐赠): a member or a team gives hours to the pool of its bank; this is the
  only way hours leave a team's account.

Between two banks of the district the hours go through the banks' clearing accounts
(通存通兑, :func:`ledger.transfer_across`), so each bank still sums to zero; both legs keep
the kind (spend, gift). Every rule is checked before anything is written; the ledger
checks floors and frozen accounts. Each function takes SQLite's write lock
(:func:`ledger.write_lock`) before its first read, so that concurrent writers queue.
"""

from __future__ import annotations

from community365 import Context
from community365.registry.people import age_on
from community365_timebank import accounts, ledger, permits
from community365_timebank.accounts import Account
from community365_timebank.earning import cap_surplus, may_use_own_hours
from community365_timebank.family import RELATION_NAMES, relation_of
from community365_timebank.settings import TimebankSettings


def _move(
    ctx: Context,
    settings: TimebankSettings,
    kind: str,
    payer: Account,
    payee: Account,
    minutes: int,
    memo: str,
) -> list[ledger.Transfer]:
    """One transfer in a bank, or the two legs through the clearing accounts; what takes
    a member or team above the storage cap goes on to the payee's pool (surplus). Only a
    spend (help for oneself) may use the payer's overdraft."""
    no_overdraft = kind != "spend"
    pool = ledger.pool_of(ctx.connection, payee.bank_id)
    if payer.bank_id == payee.bank_id:
        ledger.lock(ctx.connection, [payer.id, payee.id, pool])  # all at once, in id order
        made = [
            ledger.transfer(
                ctx, kind, payer.id, payee.id, minutes, memo=memo, no_overdraft=no_overdraft
            )
        ]
    else:
        memo = f"{kind}: {memo}".rstrip(": ")
        legs = ledger.transfer_across(
            ctx,
            payer.id,
            payee.id,
            minutes,
            kind=kind,
            memo=memo,
            lock_also=[pool],
            no_overdraft=no_overdraft,
        )
        made = list(legs)
    surplus = cap_surplus(ctx, settings, payee.id, minutes, None)
    return made if surplus is None else [*made, surplus]


def _paying(ctx: Context, ref: str, action: str) -> Account:
    """The account ``ref`` names, once its kind may ``action`` and the actor may act for
    it; SQLite's write lock is taken before the first read."""
    ledger.write_lock(ctx.connection)
    account = accounts.find(ctx.connection, ref)
    accounts.require(account, action)
    permits.require_holder_or_coordinator(ctx, account, f"{action} from")
    return account


def spend(
    ctx: Context,
    settings: TimebankSettings,
    payer_ref: str,
    payee_ref: str,
    minutes: int,
    memo: str = "",
) -> list[ledger.Transfer]:
    """``payer_ref`` pays ``minutes`` for help given to them by ``payee_ref`` (a member
    or a team), or to their bank's pool when ``payee_ref`` is ``pool``."""
    conn = ctx.connection
    payer = _paying(ctx, payer_ref, "spend")
    if not may_use_own_hours(payer, settings, ctx.today):
        age = "unknown" if payer.birth_date is None else age_on(payer.birth_date, ctx.today)
        raise ledger.LedgerError(
            f"{payer.person_name} (age {age}) may use their own hours from "
            f"{settings.own_use_min_age} (plugins.timebank.own_use_min_age)"
        )
    if payee_ref.strip().lower() == "pool":
        payee = accounts.pool_account(conn, payer.bank_id)
    else:
        payee = accounts.find(conn, payee_ref)
        if payee.kind not in ("member", "team"):
            raise ledger.LedgerError(f"account #{payee.id} is a {payee.kind} account")
    memo = memo.strip() or "支取 help received"
    return _move(ctx, settings, "spend", payer, payee, minutes, memo)


def gift(
    ctx: Context,
    settings: TimebankSettings,
    giver_ref: str,
    relative_ref: str,
    minutes: int,
    memo: str = "",
) -> list[ledger.Transfer]:
    """``giver_ref`` gives ``minutes`` to a relative who qualifies (see the module doc)."""
    conn = ctx.connection
    giver = _paying(ctx, giver_ref, "gift")
    relative = accounts.find(conn, relative_ref)
    accounts.require(relative, "receive")
    assert giver.person_id is not None and relative.person_id is not None
    relation = relation_of(conn, giver.person_id, relative.person_id)
    if relation is None:
        raise ledger.LedgerError(
            f"{relative.person_name} is not recorded as {giver.person_name}'s spouse, parent "
            "or grandparent (c365 timebank family add)"
        )
    age = None if relative.birth_date is None else age_on(relative.birth_date, ctx.today)
    if age is None or age < settings.family_min_age:
        raise ledger.LedgerError(
            f"{relative.person_name} (age {age if age is not None else 'unknown'}) may receive "
            f"gifts from {settings.family_min_age} (plugins.timebank.family_min_age)"
        )
    default = f"赠{RELATION_NAMES[relation]} gift to {relation}"
    return _move(ctx, settings, "gift", giver, relative, minutes, memo.strip() or default)


def donate(ctx: Context, ref: str, minutes: int, memo: str = "") -> ledger.Transfer:
    """A member or a team gives ``minutes`` to the pool of its bank."""
    donor = _paying(ctx, ref, "donate")
    pool = ledger.pool_of(ctx.connection, donor.bank_id)
    memo = memo.strip() or "捐赠"
    return ledger.transfer(ctx, "donate", donor.id, pool, minutes, memo=memo, no_overdraft=True)
