"""`c365 daily`: the 365-day heartbeat, run once a day (by cron) for a local date.

:func:`run_daily` does four steps, all in the caller's unit of work:

1. **催办 escalate** every open case (received, assigned, accepted) that was overdue at
   the start of the day (local midnight in the district's timezone): past its resolve
   deadline, or not yet answered and past its reply deadline. A case escalated on that
   day (or later) is left alone, so it is escalated once per day for as long as it stays
   overdue. Each goes through :meth:`Pipeline.escalate`: an event, and the plugins'
   transition hooks.
2. **自动结案 auto-close** resolved cases whose resolution is at least
   ``sla.auto_close_days`` days before the start of the day, without a rating.
3. **日碰头 huddle sheet**: one ``huddle_items`` row per open case for its assignee, for
   its receiver (首问) until someone accepts, and, once escalated, for the grid leaders of
   the nearest area at or above the case's area (a ``leader`` duty for the case's service
   group or for every group). ``overdue`` is as in step 1. Rows already there stay.
4. **plugin tasks**: each enabled plugin's daily tasks, once per day.

Each step is recorded in ``daily_runs`` (day, task) the first time it runs for a day:
``core.escalate``, ``core.auto_close``, ``core.huddle`` and ``<plugin>.<task>``. A second
run of the same day skips the plugin tasks already recorded and finds nothing left to do
in the core steps (they select only what is still undone), so it changes no table; its
report says when each step already ran. The core steps still run, so a case that became
overdue or was taken in since the first run is handled; ``daily_runs`` keeps the first
run's record.

A plugin task runs in a savepoint: if it raises, its own writes are undone, the report
marks it failed with the plugin and the task named, the core's steps stand, and the next
run of the day tries it again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import attrs
from sqlalchemy import Date, and_, case, exists, func, insert, literal, or_, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from community365.cases.queries import past_deadline
from community365.cases.scope import acting_handler
from community365.cases.stats import local_midnight, plain
from community365.db.engine import claim_writer
from community365.db.schema import areas, cases, daily_runs, duties, handlers, huddle_items
from community365.errors import NotFound, PluginError, UsageError
from community365.values import OPEN_STATUSES, Context

if TYPE_CHECKING:
    from community365.district import District

ESCALATE, AUTO_CLOSE, HUDDLE = "core.escalate", "core.auto_close", "core.huddle"
CORE_STEPS = (ESCALATE, AUTO_CLOSE, HUDDLE)
NOT_ACCEPTED = ("received", "assigned")

# Labels for the CLI: step → (Chinese, English); plugin tasks show their own name.
STEP_LABELS: dict[str, tuple[str, str]] = {
    ESCALATE: ("催办", "escalate overdue cases"),
    AUTO_CLOSE: ("自动结案", "auto-close unrated cases"),
    HUDDLE: ("日碰头", "daily huddle sheet"),
}

StepStatus = Literal["done", "already_ran", "failed"]


@attrs.frozen
class StepReport:
    """One step of a daily run.

    ``status`` is ``done`` when this run did the step's work (possibly none: "nothing
    overdue"), ``already_ran`` when an earlier run of the day had done it and this one
    found nothing more (a plugin task that ran is never run again that day). ``ran_at``
    is when the step's recorded run happened; ``summary`` is this run's outcome, or the
    recorded one for ``already_ran``. ``cases`` are the references this run acted on.
    """

    task: str
    label_zh: str
    label_en: str
    status: StepStatus
    ran_at: dt.datetime
    summary: str
    cases: tuple[str, ...] = ()


@attrs.frozen
class DailyReport:
    """What :func:`run_daily` did for ``day``; ``already_ran`` when nothing at all (a
    repeated run)."""

    day: dt.date
    ran_at: dt.datetime
    steps: list[StepReport]
    escalated: tuple[str, ...]
    closed: tuple[str, ...]
    huddle_added: int
    huddle_total: int

    @property
    def failed(self) -> list[StepReport]:
        return [step for step in self.steps if step.status == "failed"]

    @property
    def already_ran(self) -> bool:
        return all(step.status == "already_ran" for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists; dates and times as ISO strings."""
        data = attrs.asdict(self, value_serializer=plain)
        data["already_ran"] = self.already_ran
        data["failed"] = [step.task for step in self.failed]
        return data


@attrs.frozen
class HuddleLine:
    """One line of a handler's 日碰头 sheet; ``status`` is the case's status now."""

    handler_code: str
    handler_name: str
    ref: str
    service: str
    status: str
    area_code: str
    reply_by: dt.datetime
    resolve_by: dt.datetime
    overdue: bool

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=plain)


# -- the run -------------------------------------------------------------------------------------


def run_daily(district: District, ctx: Context, day: dt.date) -> DailyReport:
    """Run the heartbeat for the local date ``day`` in ``ctx``'s unit of work.

    Idempotent: a second run for the same day, with nothing changed in between, writes
    nothing and reports every step as already run. Runs as office staff: raises
    UsageError when ``ctx.actor`` is a handler's code (a handler acts only on their own
    areas). A plugin task that raises is rolled back on its own and reported as
    ``failed`` (see :attr:`DailyReport.failed`); it is not recorded, so the next run of
    the day tries it again, while the core's steps stand.
    """
    conn = ctx.connection
    claim_writer(conn)
    if acting_handler(conn, ctx.actor) is not None:
        raise UsageError(
            f"the daily run acts on every area: run it as office staff, not as handler "
            f"{ctx.actor} (--as)"
        )
    today = ctx.today
    if day > today:
        raise UsageError(f"the daily run is for today or a past day, not {day} (today is {today})")
    start = local_midnight(day, ctx.tz)
    recorded = {
        row.task: (row.ran_at, row.summary)
        for row in conn.execute(
            select(daily_runs.c.task, daily_runs.c.ran_at, daily_runs.c.summary).where(
                daily_runs.c.day == day
            )
        )
    }
    steps: list[StepReport] = []

    def core_step(task: str, summary: str, refs: tuple[str, ...], did: bool) -> None:
        zh, en = STEP_LABELS[task]
        if task in recorded:
            ran_at, earlier = recorded[task]
            if did:
                steps.append(StepReport(task, zh, en, "done", ctx.now, summary, refs))
            else:
                steps.append(StepReport(task, zh, en, "already_ran", ran_at, earlier))
            return
        _record(conn, day, task, ctx.now, summary)
        steps.append(StepReport(task, zh, en, "done", ctx.now, summary, refs))

    pipeline = district.pipeline(ctx)
    escalated = []
    for row in conn.execute(_to_escalate(day, start)).all():
        pipeline.escalate(row.ref, _overdue_reason(row, day, start, ctx.tz), day)
        escalated.append(row.ref)
    core_step(
        ESCALATE,
        _summary("escalated", escalated, "nothing overdue"),
        tuple(escalated),
        bool(escalated),
    )

    days = district.config.sla.auto_close_days
    closed = []
    for ref in conn.execute(_to_close(start - dt.timedelta(days=days))).scalars().all():
        pipeline.close(ref, note=f"自动结案 auto-closed: no rating {days} days after resolution")
        closed.append(ref)
    core_step(
        AUTO_CLOSE, _summary("closed", closed, "nothing to close"), tuple(closed), bool(closed)
    )

    on_sheet = select(func.count(), func.count(func.distinct(huddle_items.c.handler_id))).where(
        huddle_items.c.day == day
    )
    lines_before = conn.execute(on_sheet).one()[0]
    conn.execute(_huddle_insert(day, start))  # (rowcount is -1 here on psycopg)
    total, people = conn.execute(on_sheet).one()
    added = total - lines_before
    core_step(
        HUDDLE,
        f"{added} lines added; {total} lines on the sheets of {people} handlers",
        (),
        added > 0,
    )

    for plugin, task in district.host.daily_tasks():
        name = f"{plugin}.{task.name}"
        labels = (task.label_zh or name, task.label_en or name)
        if name in recorded:
            ran_at, earlier = recorded[name]
            steps.append(StepReport(name, *labels, "already_ran", ran_at, earlier))
            continue
        try:
            with conn.begin_nested():  # a failing task undoes its own work, not the run
                summary = task.run(ctx, day) or ""
        except Exception as exc:
            error = PluginError(plugin, f"c365_daily_tasks ({task.name})", exc)
            steps.append(StepReport(name, *labels, "failed", ctx.now, str(error)))
            continue
        _record(conn, day, name, ctx.now, summary)
        recorded[name] = (ctx.now, summary)
        steps.append(StepReport(name, *labels, "done", ctx.now, summary))

    return DailyReport(
        day=day,
        ran_at=ctx.now,
        steps=steps,
        escalated=tuple(escalated),
        closed=tuple(closed),
        huddle_added=added,
        huddle_total=total,
    )


def huddle_written(conn: Connection, day: dt.date) -> bool:
    """Whether a daily run wrote the huddle sheets of ``day``."""
    query = select(daily_runs.c.day).where(daily_runs.c.day == day, daily_runs.c.task == HUDDLE)
    return conn.execute(query).first() is not None


def _record(conn: Connection, day: dt.date, task: str, at: dt.datetime, summary: str) -> None:
    conn.execute(insert(daily_runs).values(day=day, task=task, ran_at=at, summary=summary))


def _summary(verb: str, refs: list[str], nothing: str) -> str:
    if not refs:
        return nothing
    shown = ", ".join(refs[:10]) + (f" and {len(refs) - 10} more" if len(refs) > 10 else "")
    return f"{verb} {len(refs)}: {shown}"


# -- the queries ---------------------------------------------------------------------------------


def _to_escalate(day: dt.date, start: dt.datetime) -> Any:
    return (
        select(cases.c.ref, cases.c.reply_by, cases.c.resolve_by, cases.c.replied_at)
        .where(
            cases.c.status.in_(OPEN_STATUSES),
            past_deadline(start),
            or_(cases.c.escalated_on.is_(None), cases.c.escalated_on < day),
        )
        .order_by(cases.c.id)
    )


def _to_close(cutoff: dt.datetime) -> Any:
    return (
        select(cases.c.ref)
        .where(cases.c.status == "resolved", cases.c.resolved_at <= cutoff)
        .order_by(cases.c.id)
    )


def _overdue_reason(row: Any, day: dt.date, start: dt.datetime, tz: dt.tzinfo) -> str:
    """催办 note: which deadline passed, when, and by how long at the start of ``day``."""
    late = []
    if row.resolve_by < start:
        late.append(
            f"resolve by {_local(row.resolve_by, tz)}, {_span(start - row.resolve_by)} late"
        )
    if row.replied_at is None and row.reply_by < start:
        late.append(f"reply by {_local(row.reply_by, tz)}, {_span(start - row.reply_by)} late")
    return f"催办 overdue on {day.isoformat()}: " + "; ".join(late)


def _local(at: dt.datetime, tz: dt.tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _span(delta: dt.timedelta) -> str:
    """``2 d 3 h 5 min`` to the nearest minute, leaving out zero parts; at least
    ``1 min`` (a resolve deadline is 23:59:59, so a case is late from midnight on)."""
    minutes = max(1, round(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts)


def _huddle_insert(day: dt.date, start: dt.datetime) -> Any:
    """INSERT … SELECT of the day's missing huddle rows (one statement, set-based)."""
    is_open = cases.c.status.in_(OPEN_STATUSES)
    assignees = select(cases.c.handler_id.label("handler_id"), cases.c.id.label("case_id")).where(
        is_open, cases.c.handler_id.is_not(None)
    )
    receivers = select(cases.c.receiver_id, cases.c.id).where(
        cases.c.status.in_(NOT_ACCEPTED), cases.c.receiver_id.is_not(None)
    )
    case_area = aliased(areas, name="case_area")
    duty_area = aliased(areas, name="duty_area")
    inner_duties = aliased(duties, name="inner_duties")
    inner_area = aliased(areas, name="inner_area")

    def covers(duty: Any, area: Any) -> ColumnElement[bool]:
        return and_(
            duty.c.role == "leader",
            or_(duty.c.service_group == cases.c.service_group, duty.c.service_group == ""),
            case_area.c.code.startswith(area.c.code),
        )

    def leader_levels(nearer_than: Any = None) -> Any:
        """How many levels of the tree above the case have a leader for it (only those
        below ``nearer_than``'s code length, when given)."""
        query = (
            select(func.count(func.distinct(func.length(inner_area.c.code))))
            .select_from(inner_duties.join(inner_area, inner_area.c.id == inner_duties.c.area_id))
            .where(covers(inner_duties, inner_area))
        )
        if nearer_than is not None:
            query = query.where(func.length(inner_area.c.code) > nearer_than)
        return query.scalar_subquery()

    # Escalation n goes to the n-th leader up the tree (网格长, then the community's ...),
    # and stays with the topmost one once the tree runs out.
    levels = leader_levels()
    wanted_level = case((cases.c.escalation > levels, levels), else_=cases.c.escalation)
    leaders = (
        select(duties.c.handler_id, cases.c.id)
        .select_from(
            cases.join(case_area, case_area.c.id == cases.c.area_id)
            .join(duties, duties.c.role == "leader")
            .join(duty_area, duty_area.c.id == duties.c.area_id)
        )
        .where(is_open, cases.c.escalation > 0, covers(duties, duty_area))
        .where(leader_levels(func.length(duty_area.c.code)) == wanted_level - 1)
    )
    wanted = union(assignees, receivers, leaders).subquery("wanted")
    present = exists().where(
        huddle_items.c.day == day,
        huddle_items.c.handler_id == wanted.c.handler_id,
        huddle_items.c.case_id == wanted.c.case_id,
    )
    rows = (
        select(
            literal(day, Date).label("day"),
            wanted.c.handler_id,
            wanted.c.case_id,
            past_deadline(start).label("overdue"),
        )
        .select_from(wanted.join(cases, cases.c.id == wanted.c.case_id))
        .where(~present)
    )
    return insert(huddle_items).from_select(["day", "handler_id", "case_id", "overdue"], rows)


# -- the sheet -----------------------------------------------------------------------------------


def huddle_sheet(
    conn: Connection, day: dt.date, handler_code: str | None = None
) -> list[HuddleLine]:
    """The 日碰头 sheet of ``day`` as the daily run wrote it, for one handler or all:
    by handler code, overdue cases first, then by resolve deadline and reference.

    Raises NotFound for an unknown handler code.
    """
    query = (
        select(
            handlers.c.code,
            handlers.c.name,
            cases.c.ref,
            cases.c.service,
            cases.c.status,
            areas.c.code.label("area_code"),
            cases.c.reply_by,
            cases.c.resolve_by,
            huddle_items.c.overdue,
        )
        .select_from(
            huddle_items.join(handlers, handlers.c.id == huddle_items.c.handler_id)
            .join(cases, cases.c.id == huddle_items.c.case_id)
            .join(areas, areas.c.id == cases.c.area_id)
        )
        .where(huddle_items.c.day == day)
        .order_by(handlers.c.code, huddle_items.c.overdue.desc(), cases.c.resolve_by, cases.c.ref)
    )
    if handler_code is not None:
        found = conn.execute(select(handlers.c.id).where(handlers.c.code == handler_code))
        if found.first() is None:
            raise NotFound(f"no handler with code {handler_code!r}")
        query = query.where(handlers.c.code == handler_code)
    return [HuddleLine(*row[:-1], overdue=bool(row[-1])) for row in conn.execute(query)]
