"""The values that cross the hook boundary.

Hook arguments and results are attrs classes, frozen where they are values, never live ORM
rows or connections a plugin could write through by accident. The one exception is
:class:`Context`, the unit of work a hook is handed on purpose: plugins that keep tables of
their own write through ``ctx.connection``, inside the same transaction as the core, so a
failing plugin rolls everything back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Channel = Literal["hotline", "sms", "web", "walk_in", "visit", "patrol"]
CHANNELS: tuple[Channel, ...] = ("hotline", "sms", "web", "walk_in", "visit", "patrol")

ResolveUnit = Literal["hours", "working_days", "calendar_days"]
RESOLVE_UNITS: tuple[ResolveUnit, ...] = ("hours", "working_days", "calendar_days")
Role = Literal["A", "B", "leader"]
RatingLevel = Literal["satisfied", "fairly_satisfied", "unsatisfied"]


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(mapping or {})


# -- intake -------------------------------------------------------------------------------


@attrs.frozen
class SLA:
    """How fast a service must be answered and finished.

    ``reply_minutes`` is the time to the first answer (五分钟限时答复 is 5);
    ``resolve`` counts ``resolve_unit`` from intake to resolution (限时办结).
    """

    reply_minutes: int
    resolve: int
    resolve_unit: ResolveUnit = "working_days"


@attrs.frozen
class ServiceSpec:
    """One entry of the service catalogue: what a resident can ask for."""

    code: str
    name_zh: str
    name_en: str
    group: str
    sla: SLA
    keywords: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@attrs.frozen
class PersonRef:
    """How a reporter was identified: any one of ID number, phone, or name with household."""

    id_number: str | None = None
    phone: str | None = None
    name: str | None = None
    household_code: str | None = None


@attrs.frozen
class CaseDraft:
    """A demand as taken in, before it is stored: what intake hooks classify and validate."""

    channel: Channel
    text: str
    received_at: dt.datetime
    service: str | None = None
    reporter: PersonRef | None = None
    area_code: str | None = None
    household_code: str | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    contact: str = ""  # a reporter who is not in the register: name and phone as given


@attrs.frozen
class Problem:
    """One thing wrong with a draft; ``field`` names where."""

    field: str
    message: str


@attrs.frozen
class CaseView:
    """A stored case as plugins see it: a snapshot, not a row.

    ``receiver_code`` is the handler who took the demand in (首问), accountable until
    ``handler_code`` accepts; ``*_at`` are None until that step happened.
    """

    ref: str
    service: str
    status: str
    channel: Channel
    area_code: str
    text: str
    received_at: dt.datetime
    reply_by: dt.datetime
    resolve_by: dt.datetime
    handler_code: str | None = None
    reporter_id: int | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    service_group: str = ""
    household_code: str | None = None
    contact: str = ""
    receiver_code: str | None = None
    accepted_at: dt.datetime | None = None
    replied_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    outcome: str = ""
    minutes_spent: int | None = None
    rating: RatingLevel | None = None
    rating_comment: str = ""
    extensions: int = 0
    reworks: int = 0
    repeats: int = 0
    escalation: int = 0
    escalated_on: dt.date | None = None
    duplicate_of: str | None = None

    @property
    def is_open(self) -> bool:
        """Work remains for a handler: received, assigned or accepted."""
        return self.status in OPEN_STATUSES

    def is_overdue(self, now: dt.datetime) -> bool:
        """Open and, at ``now``, past the resolve deadline or unanswered past the reply one."""
        if not self.is_open:
            return False
        return self.resolve_by < now or (self.replied_at is None and self.reply_by < now)

    @property
    def replied_on_time(self) -> bool | None:
        """The SLA outcome of the answer: None until answered."""
        return None if self.replied_at is None else self.replied_at <= self.reply_by

    @property
    def resolved_on_time(self) -> bool | None:
        """The SLA outcome of the work: None until resolved."""
        return None if self.resolved_at is None else self.resolved_at <= self.resolve_by


OPEN_STATUSES = ("received", "assigned", "accepted")
FINAL_STATUSES = ("closed", "withdrawn", "duplicate", "rejected")


# -- routing --------------------------------------------------------------------------------


@attrs.frozen
class Candidate:
    """A handler a plugin proposes for a case; higher scores win, ``reason`` is kept."""

    handler_code: str
    score: float
    reason: str


@attrs.frozen
class Deadlines:
    reply_by: dt.datetime
    resolve_by: dt.datetime


# -- delivery and evaluation ------------------------------------------------------------------


@attrs.frozen
class Transition:
    """A case moved from one status to another; ``actor`` is who did it."""

    from_status: str
    to_status: str
    action: str
    actor: str
    at: dt.datetime
    note: str = ""


@attrs.frozen
class Rating:
    level: RatingLevel
    comment: str
    at: dt.datetime


@attrs.frozen
class Period:
    """A half-open range of dates ``[start, end)`` in the district's timezone."""

    start: dt.date
    end: dt.date


@attrs.frozen
class AreaView:
    code: str
    name: str
    level: str
    parent_code: str | None


@attrs.frozen
class Metric:
    """One figure a plugin contributes to a report; ``key`` is unique per plugin."""

    key: str
    label_zh: str
    label_en: str
    value: int | Decimal
    unit: str = ""


# -- platform ---------------------------------------------------------------------------------


@attrs.frozen
class DailyTask:
    """Work run once per date by ``c365 daily``; ``run`` returns a line for the log or None.

    ``run`` must be idempotent for a date: the heartbeat may run twice on the same day.
    ``label_zh`` and ``label_en`` name it in the heartbeat's log (default: its ``name``);
    it is recorded as ``<plugin>.<name>``.
    """

    name: str
    run: Callable[[Context, dt.date], str | None]
    label_zh: str = ""
    label_en: str = ""


@attrs.frozen
class MigrationBranch:
    """A plugin's own Alembic history.

    ``versions`` is the directory of its revision files; the first of them carries
    ``branch_labels = (label,)`` and ``depends_on`` the core revision it builds on.
    ``metadata`` (optional) describes the plugin's tables, for autogenerate.
    """

    label: str
    versions: Path
    metadata: Any = None


@attrs.define
class Context:
    """The unit of work a hook runs in: one transaction, one clock, one acting user.

    ``now`` is aware UTC; ``tz`` is the district's timezone, for turning dates (a
    :class:`Period`, a deadline's day) into instants. ``settings`` maps each enabled
    plugin's name to its validated settings object.
    """

    connection: Connection
    now: dt.datetime
    actor: str
    tz: dt.tzinfo = dt.UTC
    settings: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def today(self) -> dt.date:
        """The district's local date at ``now`` (days and ages turn over at local midnight)."""
        return self.now.astimezone(self.tz).date()
