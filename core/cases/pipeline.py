"""The pipeline: intake, routing and delivery of cases, in one unit of work.

A :class:`Pipeline` is bound to a district and to one :class:`Context` (a transaction,
a clock reading and an actor). Each method checks the action against the lifecycle,
writes the case and its event through :mod:`community365.cases.store`, and tells the
plugins; if anything raises, the caller's transaction rolls the whole step back.

When the actor is a handler's code, the handler acts in person: only on cases in the
areas of their duties (a leader: the whole subtree), assigned to them or taken in by
them; and only the assignee accepts or refuses. Other actors are office staff and may
act on any case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from community365.cases import lifecycle, routing, store
from community365.cases.intake import (
    DraftRejected,
    check_draft,
    classify_by_keywords,
    find_place,
    find_reporter,
    open_repeat,
)
from community365.cases.scope import Actor, acting_handler
from community365.db.engine import claim_writer
from community365.db.schema import case_events, handlers
from community365.deadlines import compute_deadlines, extend_deadline
from community365.errors import InvalidTransition, NotFound, UsageError
from community365.registry.handlers import is_available
from community365.values import (
    CaseDraft,
    CaseView,
    Context,
    Problem,
    Rating,
    RatingLevel,
    Transition,
)

if TYPE_CHECKING:
    from community365.district import District

MAX_EXTENSION = 365  # days or hours, per extension
RATING_LEVELS: tuple[RatingLevel, ...] = ("satisfied", "fairly_satisfied", "unsatisfied")


@attrs.frozen
class Submitted:
    """What intake did: the case, and whether the demand was linked to an open one."""

    case: CaseView
    linked: bool = False


class Pipeline:
    def __init__(self, district: District, ctx: Context) -> None:
        self.district = district
        self.ctx = ctx
        self.conn = ctx.connection
        self.host = district.host
        self.catalogue = district.catalogue
        self.rules = district.config.sla
        claim_writer(self.conn)
        self.actor: Actor | None = acting_handler(self.conn, ctx.actor)

    # -- intake ----------------------------------------------------------------------------

    def submit(self, draft: CaseDraft) -> Submitted:
        """Take a demand in: classify, validate, link a repeat or store and route a case.

        Raises DraftRejected listing every problem; nothing is written then.
        """
        problems = check_draft(draft)
        reporter_id, reporter_household, found = find_reporter(self.conn, draft.reporter)
        problems += found
        place, found = find_place(self.conn, draft, reporter_household)
        problems += found
        spec, found = self._service(draft)
        problems += found
        if spec is not None:  # the plugins' problems are shown with the core's, all at once
            problems += self.host.validate(draft, spec)
        if problems:
            raise DraftRejected(problems)
        assert place is not None and spec is not None
        since = draft.received_at - dt.timedelta(days=self.rules.repeat_window_days)
        contact = draft.contact.strip()
        repeated = open_repeat(
            self.conn,
            reporter_id=reporter_id,
            contact=contact,
            place=place,
            service=spec.code,
            since=since,
        )
        if repeated is not None:
            row = store.view_row(self.conn, repeated)
            return Submitted(
                self._act(row, "repeat", {"repeats": row["repeats"] + 1}, draft.text), True
            )
        local = draft.received_at.astimezone(self.ctx.tz)
        values: dict[str, Any] = {
            "ref": store.next_ref(self.conn, local.year),
            "service": spec.code,
            "service_group": spec.group,
            "channel": draft.channel,
            "status": "received",
            "area_id": place.area_id,
            "household_id": place.household_id,
            "reporter_id": reporter_id,
            "contact": contact,
            "text": draft.text.strip(),
            "fields": dict(draft.fields),
            "received_at": draft.received_at,
            "receiver_id": self.actor.id if self.actor else None,
        }
        deadlines = compute_deadlines(
            spec.sla, draft.received_at, self.ctx.tz, self.district.calendar
        )
        provisional = CaseView(
            ref=values["ref"],
            service=spec.code,
            status="received",
            channel=draft.channel,
            area_code=place.area_code,
            text=values["text"],
            received_at=draft.received_at,
            reply_by=deadlines.reply_by,
            resolve_by=deadlines.resolve_by,
            reporter_id=reporter_id,
            fields=values["fields"],
            service_group=spec.group,
            household_code=place.household_code,
            contact=contact,
            receiver_code=self.actor.code if self.actor else None,
        )
        deadlines = self.host.adjust_deadlines(provisional, deadlines)
        values |= {"reply_by": deadlines.reply_by, "resolve_by": deadlines.resolve_by}
        inserted = store.insert_case(self.ctx, values, note=f"{draft.channel}: {values['text']}")
        row = {
            **inserted,
            "area_code": place.area_code,
            "handler_code": None,
            "receiver_code": provisional.receiver_code,
            "household_code": place.household_code,
            "duplicate_ref": None,
        }
        case = attrs.evolve(
            provisional, reply_by=deadlines.reply_by, resolve_by=deadlines.resolve_by
        )
        self.host.case_received(case, self.ctx)
        return Submitted(self._route(case.ref, view=case, row=row))

    def _service(self, draft: CaseDraft) -> tuple[Any, list[Problem]]:
        if draft.service:
            if draft.service not in self.catalogue:
                known = ", ".join(s.code for s in self.catalogue.specs)
                return None, [Problem("service", f"no service {draft.service!r} (known: {known})")]
            return self.catalogue.get(draft.service), []
        specs = self.catalogue.specs
        code = self.host.classify(draft, specs) or classify_by_keywords(draft.text, specs)
        if code is None:
            return None, [Problem("service", "cannot tell from the text; name the service")]
        return self.catalogue.get(code), []

    # -- routing ---------------------------------------------------------------------------

    def route(self, ref: str, *, exclude: Iterable[int] = (), note: str = "") -> CaseView:
        """Choose a handler for a received or assigned case and assign it; a case nobody
        can take stays received (the daily run escalates it). ``exclude``: handler ids
        that must not get it."""
        return self._route(ref, exclude, note, row=self._row(ref, "assign"))

    def _route(
        self,
        ref: str,
        exclude: Iterable[int] = (),
        note: str = "",
        view: CaseView | None = None,
        row: Mapping[str, Any] | None = None,
    ) -> CaseView:
        """Route the case as the last step left it (``view`` and ``row`` when known)."""
        row = row or store.view_row(self.conn, ref)
        view = view or store.to_view(row)
        proposals = self.host.propose_handlers(view, self.ctx)
        choice = routing.choose(
            self.conn,
            row["area_id"],
            row["service_group"],
            proposals,
            self.ctx.now,
            self.ctx.tz,
            exclude,
        )
        reason = f"{note}; {choice.reason}" if note else choice.reason
        if choice.handler_id is None:
            changes = {"status": "received", "handler_id": None, "accepted_at": None}
            return self._act(row, "assign", _changed(row, changes), reason)
        changes = {"status": "assigned", "handler_id": choice.handler_id, "accepted_at": None}
        return self._act(row, "assign", changes, reason, {"handler_code": choice.handler_code})

    # -- delivery --------------------------------------------------------------------------

    def accept(self, ref: str) -> CaseView:
        row = self._row(ref, "accept", assignee_only=True)
        return self._act(row, "accept", {"status": "accepted", "accepted_at": self.ctx.now})

    def refuse(self, ref: str, reason: str) -> CaseView:
        """退单: the assignee gives the case back; it is routed again, without them."""
        row = self._row(ref, "refuse", reason, assignee_only=True)
        self._act(row, "refuse", {"status": "received", "handler_id": None}, reason)
        return self._route(ref, self._passed_on(row["id"]))

    def transfer(self, ref: str, reason: str, to: str | None = None) -> CaseView:
        """转办: pass the case to the handler ``to`` (a code), or route it again without
        those who already passed it on."""
        row = self._row(ref, "transfer", reason)
        if to is None:
            self._act(row, "transfer", {"status": "received", "handler_id": None}, reason)
            return self._route(ref, self._passed_on(row["id"]))
        target = self.conn.execute(
            select(handlers.c.id, handlers.c.active).where(handlers.c.code == to)
        ).first()
        if target is None:
            raise NotFound(f"no handler with code {to!r}")
        if not target.active:
            raise UsageError(f"handler {to} is inactive")
        if not is_available(self.conn, target.id, self.ctx.now, self.ctx.tz):
            raise UsageError(f"handler {to} is not available now (on leave or off shift)")
        if target.id == row["handler_id"]:
            raise InvalidTransition(f"case {ref} is already with {to}")
        changes = {"status": "assigned", "handler_id": target.id, "accepted_at": None}
        return self._act(row, "transfer", changes, f"{reason} → {to}", {"handler_code": to})

    def reply(self, ref: str, text: str) -> CaseView:
        """回复: answer the resident; the first answer is the one the reply deadline counts."""
        row = self._row(ref, "reply", text)
        changes = {} if row["replied_at"] else {"replied_at": self.ctx.now}
        return self._act(row, "reply", changes, text)

    def note(self, ref: str, text: str) -> CaseView:
        """民情日记: a note on the case's history."""
        return self._act(self._row(ref, "note", text), "note", {}, text)

    def extend(self, ref: str, amount: int, reason: str) -> CaseView:
        """延期: move the resolve deadline by ``amount`` of the service's resolve unit."""
        row = self._row(ref, "extend", reason)
        if not 1 <= amount <= MAX_EXTENSION:
            raise UsageError(
                f"case {ref}: an extension is 1 to {MAX_EXTENSION} days or hours, got {amount}"
            )
        if row["extensions"] >= self.rules.max_extensions:
            raise InvalidTransition(
                f"case {ref} was extended {row['extensions']} times, the most allowed "
                f"(sla.max_extensions = {self.rules.max_extensions})"
            )
        unit = self.catalogue.get(row["service"]).sla.resolve_unit
        resolve_by = extend_deadline(
            row["resolve_by"], amount, unit, self.ctx.tz, self.district.calendar
        )
        changes = {"resolve_by": resolve_by, "extensions": row["extensions"] + 1}
        return self._act(row, "extend", changes, f"+{amount} {unit}: {reason}")

    def resolve(self, ref: str, outcome: str, minutes_spent: int | None = None) -> CaseView:
        """办结: the work is done. The outcome answers the resident if nothing did before."""
        row = self._row(ref, "resolve", outcome)
        if minutes_spent is not None and minutes_spent < 0:
            raise UsageError(f"case {ref}: time spent cannot be negative")
        changes: dict[str, Any] = {
            "status": "resolved",
            "resolved_at": self.ctx.now,
            "outcome": outcome.strip(),
            "minutes_spent": minutes_spent,
        }
        if row["replied_at"] is None:
            changes["replied_at"] = self.ctx.now
        return self._act(row, "resolve", changes, outcome)

    def rate(self, ref: str, level: RatingLevel, comment: str = "") -> CaseView:
        """评价: the resident's rating. Unsatisfied sends the case back to its handler
        (返工) until ``sla.max_reworks`` is reached; otherwise the case closes."""
        if level not in RATING_LEVELS:
            raise UsageError(f"rating: expected one of {', '.join(RATING_LEVELS)}, got {level!r}")
        row = self._row(ref, "rate")
        changes: dict[str, Any] = {"rating": level, "rating_comment": comment.strip()}
        if level == "unsatisfied" and row["reworks"] < self.rules.max_reworks:
            changes |= {"status": "accepted", "reworks": row["reworks"] + 1, "resolved_at": None}
        else:
            changes |= {"status": "closed", "closed_at": self.ctx.now}
        case = self._act(row, "rate", changes, f"{level}: {comment}".rstrip(": "))
        self.host.case_rated(case, Rating(level, comment, self.ctx.now), self.ctx)
        return case

    def close(self, ref: str, note: str = "") -> CaseView:
        """结案 without a rating (the daily run does it after ``sla.auto_close_days``)."""
        row = self._row(ref, "close")
        return self._act(row, "close", {"status": "closed", "closed_at": self.ctx.now}, note)

    def reopen(self, ref: str, reason: str) -> CaseView:
        """返工: send a resolved case back to its handler."""
        row = self._row(ref, "reopen", reason)
        if row["reworks"] >= self.rules.max_reworks:
            raise InvalidTransition(
                f"case {ref} was reworked {row['reworks']} times, the most allowed "
                f"(sla.max_reworks = {self.rules.max_reworks})"
            )
        changes = {"status": "accepted", "reworks": row["reworks"] + 1, "resolved_at": None}
        return self._act(row, "reopen", changes, reason)

    def withdraw(self, ref: str, reason: str) -> CaseView:
        """撤回: the resident no longer needs it."""
        row = self._row(ref, "withdraw", reason)
        return self._act(
            row, "withdraw", {"status": "withdrawn", "closed_at": self.ctx.now}, reason
        )

    def mark_duplicate(self, ref: str, of: str) -> CaseView:
        """重复件: the same demand as case ``of``, which must itself be a live demand (not a
        duplicate, withdrawn or rejected), so that every chain ends at a case answered."""
        row = self._row(ref, "duplicate")
        original = store.view_row(self.conn, of)
        if original["id"] == row["id"]:
            raise UsageError(f"case {ref} cannot duplicate itself")
        if original["status"] in ("duplicate", "withdrawn", "rejected"):
            raise InvalidTransition(
                f"case {of} is {original['status']}: mark {ref} a duplicate of a live case"
            )
        if self.actor is not None and not self.actor.may_act_on(self.conn, original):
            raise InvalidTransition(f"case {of} is outside {self.actor.code}'s areas")
        changes = {"status": "duplicate", "duplicate_of": original["id"], "closed_at": self.ctx.now}
        return self._act(row, "duplicate", changes, f"duplicate of {of}", {"duplicate_ref": of})

    def reject(self, ref: str, reason: str) -> CaseView:
        """不予受理: not a matter for the community; the reason is the answer."""
        row = self._row(ref, "reject", reason)
        changes: dict[str, Any] = {"status": "rejected", "closed_at": self.ctx.now}
        if row["replied_at"] is None:
            changes["replied_at"] = self.ctx.now
        return self._act(row, "reject", changes, reason)

    def escalate(self, ref: str, reason: str, day: dt.date | None = None) -> CaseView:
        """催办: raise the case one level up the area tree, noting the (local) ``day`` it
        happened; a case nobody holds is routed again."""
        row = self._row(ref, "escalate")
        day = day or self.ctx.today
        changes = {"escalation": row["escalation"] + 1, "escalated_on": day}
        case = self._act(row, "escalate", changes, reason)
        if row["status"] == "received":
            case = self._route(ref, self._passed_on(row["id"]), "escalated")
        return case

    # -- the one way a case changes --------------------------------------------------------

    def _row(
        self, ref: str, action: str, note: str = "", *, assignee_only: bool = False
    ) -> RowMapping:
        row = store.view_row(self.conn, ref)
        if self.actor is not None and not self.actor.may_act_on(self.conn, row):
            raise InvalidTransition(f"case {ref} is outside {self.actor.code}'s areas")
        lifecycle.check(ref, row["status"], action, note)
        if self.actor is not None and assignee_only and row["handler_id"] != self.actor.id:
            raise InvalidTransition(f"case {ref} is not assigned to {self.actor.code}")
        return row

    def _act(
        self,
        row: Mapping[str, Any],
        action: str,
        changes: dict[str, Any],
        note: str = "",
        shown: Mapping[str, Any] | None = None,
    ) -> CaseView:
        """Write one step; tell the plugins. ``row`` is the case as :func:`store.view_row`
        reads it; ``shown`` the codes that change with it (a new handler's code)."""
        store.apply(self.ctx, row, action, changes, note)
        after = {**row, **changes, **(shown or {})}
        if "handler_id" in changes and changes["handler_id"] is None:
            after["handler_code"] = None
        case = store.to_view(after)
        transition = Transition(
            from_status=row["status"],
            to_status=case.status,
            action=action,
            actor=self.ctx.actor,
            at=self.ctx.now,
            note=note,
        )
        self.host.case_transition(case, transition, self.ctx)
        return case

    def _passed_on(self, case_id: int) -> set[int]:
        """Handlers who refused or transferred this case away: routing skips them."""
        events = self.conn.execute(
            select(case_events.c.changes, case_events.c.action)
            .where(case_events.c.case_id == case_id)
            .order_by(case_events.c.id)
        ).all()
        holder, passed = None, set()
        for changes, action in events:
            if action in ("refuse", "transfer"):
                passed.add(holder)
            if "handler_id" in changes:
                holder = changes["handler_id"]
        return {h for h in passed if h is not None}


def _changed(row: Mapping[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if row[k] != v}


__all__ = ["RATING_LEVELS", "DraftRejected", "Pipeline", "Submitted"]
