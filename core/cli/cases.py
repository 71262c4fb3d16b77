"""``c365 services`` and ``c365 case``: the catalogue, and every case from intake to rating."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import click

from community365.cases.labels import CHANNEL_LABELS, RATING_LABELS, STATUS_LABELS, label
from community365.cli.periods import check_day, period_options, resolve_period
from community365.cli.state import CliState, emit, emit_json, emit_table, json_option, pass_state
from community365.errors import UsageError
from community365.values import CHANNELS

RATINGS = {
    "satisfied": "satisfied",
    "满意": "satisfied",
    "fairly_satisfied": "fairly_satisfied",
    "基本满意": "fairly_satisfied",
    "unsatisfied": "unsatisfied",
    "不满意": "unsatisfied",
}
UNIT_NAMES = {
    "hours": "小时 hour",
    "working_days": "工作日 working day",
    "calendar_days": "自然日 day",
}
_PHONE = re.compile(r"1[3-9]\d{9}")


def _local(moment: dt.datetime | None, tz: Any) -> str:
    return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _status(status: str) -> str:
    return label(STATUS_LABELS, status)


def _mask_contact(text: str) -> str:
    from community365.registry.contact import mask_phone

    return _PHONE.sub(lambda m: mask_phone(m.group()) or "", text)


def _json_times(data: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {
        k: v.astimezone(tz).isoformat() if isinstance(v, dt.datetime) else v
        for k, v in data.items()
    }


def case_data(case: Any, district: Any) -> dict[str, Any]:
    """A case as JSON: times in the district's timezone, the contact's phone masked."""
    data = _json_times(attrs.asdict(case), district.tz)
    data["contact"] = _mask_contact(case.contact)
    data["overdue"] = case.is_overdue(district.clock())
    data["replied_on_time"] = case.replied_on_time
    data["resolved_on_time"] = case.resolved_on_time
    return data


def _outcome(at: dt.datetime | None, on_time: bool | None, tz: Any) -> str:
    if at is None:
        return "-"
    return f"{_local(at, tz)}, {'按时 on time' if on_time else '超时 late'}"


# -- services --------------------------------------------------------------------------------


@click.group("services")
def services_cli() -> None:
    """The service catalogue (服务目录): what residents can ask for, and its deadlines."""


@services_cli.command("list")
@json_option
@pass_state
def services_list_cmd(state: CliState, as_json: bool) -> None:
    """Every service: the core's, the enabled plugins', with the district's overrides."""
    district = state.district(current=False)
    entries = list(district.catalogue)
    data = [
        {
            "code": e.spec.code,
            "name_zh": e.spec.name_zh,
            "name_en": e.spec.name_en,
            "group": e.spec.group,
            "reply_minutes": e.spec.sla.reply_minutes,
            "resolve": e.spec.sla.resolve,
            "resolve_unit": e.spec.sla.resolve_unit,
            "keywords": list(e.spec.keywords),
            "provider": e.provider,
        }
        for e in entries
    ]
    emit(
        as_json,
        data,
        lambda: emit_table(
            ["code", "服务", "service", "group", "reply within", "resolve within", "from"],
            [
                (
                    d["code"],
                    d["name_zh"],
                    d["name_en"],
                    d["group"],
                    f"{d['reply_minutes']} min",
                    f"{d['resolve']} {UNIT_NAMES[d['resolve_unit']]}",
                    d["provider"],
                )
                for d in data
            ],
        ),
    )


# -- case ------------------------------------------------------------------------------------


@click.group("case")
def case_cli() -> None:
    """Cases (诉求): submit, route, handle, answer, rate; list, show and count them."""


def _reporter(text: str | None) -> Any:
    from community365.values import PersonRef

    if not text:
        return None
    text = text.strip()
    if "/" in text:
        household, name = (part.strip() for part in text.split("/", 1))
        return PersonRef(name=name, household_code=household)
    digits = re.sub(r"[\s()-]", "", text).removeprefix("+86")
    if digits.isdigit() and len(digits) == 11:
        return PersonRef(phone=digits)
    return PersonRef(id_number=text)


def _fields(pairs: Sequence[str]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--field: expected KEY=VALUE, got {pair!r}")
        fields[key.strip()] = value.strip()
    return fields


@case_cli.command("submit")
@click.option(
    "--channel",
    required=True,
    type=click.Choice(CHANNELS),
    help="hotline 365热线 | sms 短信 | web 网上 | walk_in 来访 | visit 走访 | patrol 巡查.",
)
@click.option("--text", required=True, help="What the resident asks for, in their words.")
@click.option("--service", help="Service code; without it the text is classified.")
@click.option(
    "--reporter",
    metavar="WHO",
    help="The resident: an ID number, an 11-digit phone, or HOUSEHOLD/NAME.",
)
@click.option("--contact", default="", help="A reporter outside the register: name and phone.")
@click.option("--household", help="Household code of the place.")
@click.option("--area", help="Area (building, grid …) code of the place.")
@click.option("--field", "field_pairs", multiple=True, metavar="KEY=VALUE", help="Extra field.")
@json_option
@pass_state
def submit_cmd(
    state: CliState,
    channel: str,
    text: str,
    service: str | None,
    reporter: str | None,
    contact: str,
    household: str | None,
    area: str | None,
    field_pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Take in a demand (受理): it gets a reference such as 2026-000123 and is routed."""
    from community365.values import CaseDraft

    if household and area:
        raise UsageError("give the place as --household or --area, not both")
    district = state.district()
    fields = _fields(field_pairs)
    with district.begin() as ctx:
        draft = CaseDraft(
            channel=channel,  # type: ignore[arg-type]
            text=text,
            received_at=ctx.now,
            service=service,
            reporter=_reporter(reporter),
            area_code=area,
            household_code=household,
            fields=fields,
            contact=contact,
        )
        submitted = district.pipeline(ctx).submit(draft)
    case, tz = submitted.case, district.tz
    if as_json:
        emit_json({**case_data(case, district), "linked": submitted.linked})
        return
    if submitted.linked:
        click.echo(
            f"{case.ref}: the same demand as this open case (重复诉求并单), "
            f"now {case.repeats + 1} times; {_status(case.status)}"
        )
        return
    spec = district.catalogue.get(case.service)
    who = case.handler_code or "nobody yet (待派单)"
    click.echo(f"{case.ref}: {spec.name_zh} {spec.code} at {case.area_code} → {who}")
    click.echo(f"reply by {_local(case.reply_by, tz)}, resolve by {_local(case.resolve_by, tz)}")


def _dates(start: dt.date | None, end: dt.date | None, tz: Any) -> tuple[Any, Any]:
    def instant(day: dt.date | None) -> dt.datetime | None:
        return None if day is None else dt.datetime.combine(day, dt.time(), tz)

    if start and end and end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    return instant(start), instant(end + dt.timedelta(days=1) if end else None)


@case_cli.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(list(STATUS_LABELS)))
@click.option("--open", "only_open", is_flag=True, help="Only received, assigned or accepted.")
@click.option("--overdue", is_flag=True, help="Only open cases past a deadline (超期).")
@click.option("--area", help="Only cases in the subtree of this area code.")
@click.option("--handler", help="Only cases assigned to this handler code.")
@click.option("--service", help="Only cases of this service code.")
@click.option("--channel", type=click.Choice(CHANNELS))
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@pass_state
def list_cmd(
    state: CliState,
    statuses: tuple[str, ...],
    only_open: bool,
    overdue: bool,
    area: str | None,
    handler: str | None,
    service: str | None,
    channel: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Cases, newest first; acting as a handler (--as CODE), only those of one's areas."""
    from community365.cases.queries import CaseQuery, list_cases
    from community365.cases.scope import acting_handler
    from community365.values import OPEN_STATUSES

    district = state.district()
    tz = district.tz
    first = check_day(start and start.date(), "--from")
    last = check_day(end and end.date(), "--to")
    received_from, received_to = _dates(first, last, tz)
    with district.begin() as ctx:
        query = CaseQuery(
            statuses=statuses or (OPEN_STATUSES if only_open else ()),
            area=area,
            handler=handler,
            service=service,
            channel=channel,
            received_from=received_from,
            received_to=received_to,
            overdue_at=ctx.now if overdue else None,
            limit=limit,
        )
        found = list_cases(ctx.connection, query, acting_handler(ctx.connection, ctx.actor))
        now = ctx.now
    emit(
        as_json,
        [case_data(c, district) for c in found],
        lambda: emit_table(
            ["ref", "received", "service", "channel", "area", "status", "handler", "resolve by"],
            [
                (
                    c.ref,
                    _local(c.received_at, tz),
                    c.service,
                    c.channel,
                    c.area_code,
                    _status(c.status),
                    c.handler_code or "-",
                    _local(c.resolve_by, tz) + (" 超期" if c.is_overdue(now) else ""),
                )
                for c in found
            ],
        ),
    )


@case_cli.command("show")
@click.argument("ref")
@json_option
@pass_state
def show_cmd(state: CliState, ref: str, as_json: bool) -> None:
    """One case and its whole history (民情日记)."""
    from community365.cases.queries import case_history
    from community365.cases.scope import acting_handler

    district = state.district()
    tz = district.tz
    with district.begin() as ctx:
        case, events = case_history(ctx.connection, ref, acting_handler(ctx.connection, ctx.actor))
    if as_json:
        history = [
            {**_json_times(attrs.asdict(e), tz), "changes": _json_times(e.changes, tz)}
            for e in events
        ]
        emit_json({**case_data(case, district), "events": history})
        return
    spec = district.catalogue.get(case.service)
    click.echo(f"{case.ref}  {spec.name_zh} {spec.name_en}  {_status(case.status)}")
    click.echo(f"{label(CHANNEL_LABELS, case.channel)}, {_local(case.received_at, tz)}")
    click.echo(f"place: {case.household_code or case.area_code}")
    if case.contact:
        click.echo(f"contact: {_mask_contact(case.contact)}")
    click.echo(f"text: {case.text}")
    click.echo(
        f"handler: {case.handler_code or '-'}   first contact 首问: {case.receiver_code or '-'}"
    )
    replied = _outcome(case.replied_at, case.replied_on_time, tz)
    resolved = _outcome(case.resolved_at, case.resolved_on_time, tz)
    click.echo(f"reply by {_local(case.reply_by, tz)}: replied {replied}")
    click.echo(f"resolve by {_local(case.resolve_by, tz)}: resolved {resolved}")
    if case.rating:
        click.echo(f"rating: {label(RATING_LABELS, case.rating)} {case.rating_comment}")
    click.echo("")
    emit_table(
        ["at", "who", "action", "status", "note"],
        [
            (
                _local(e.at, tz),
                e.actor,
                e.action,
                e.to_status
                if e.from_status in (None, e.to_status)
                else f"{e.from_status}→{e.to_status}",
                e.note,
            )
            for e in events
        ],
    )


# -- delivery actions: one small command each ------------------------------------------------


def _act(state: CliState, ref: str, step: Callable[[Any], Any], as_json: bool) -> None:
    district = state.district()
    with district.begin() as ctx:
        case = step(district.pipeline(ctx))
    if as_json:
        emit_json(case_data(case, district))
        return
    who = f" → {case.handler_code}" if case.handler_code else ""
    click.echo(f"{case.ref}: {_status(case.status)}{who}")


def _action(name: str, doc: str, *params: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Register ``case NAME REF [params]``: ``func(ref, **options)`` gives the pipeline step."""

    def decorate(func: Callable[..., Callable[[Any], Any]]) -> click.Command:
        @json_option
        @pass_state
        def command(state: CliState, ref: str, as_json: bool, **options: Any) -> None:
            _act(state, ref, func(ref, **options), as_json)

        command.__doc__ = doc
        for param in reversed(params):
            command = param(command)
        return case_cli.command(name)(click.argument("ref")(command))

    return decorate


_reason = click.option("--reason", required=True, help="Why (recorded in the history).")


@_action("accept", "Accept a case assigned to you (接单).")
def _accept(ref: str) -> Callable[[Any], Any]:
    return lambda p: p.accept(ref)


@_action("refuse", "Give an assigned case back (退单); it is routed again without you.", _reason)
def _refuse(ref: str, reason: str) -> Callable[[Any], Any]:
    return lambda p: p.refuse(ref, reason)


@_action(
    "transfer",
    "Pass a case on (转办): to --to CODE, or routed again.",
    _reason,
    click.option("--to", "to", help="Handler code to pass it to."),
)
def _transfer(ref: str, reason: str, to: str | None) -> Callable[[Any], Any]:
    return lambda p: p.transfer(ref, reason, to)


@_action(
    "reply",
    "Answer the resident (回复); the first answer stops the reply clock.",
    click.argument("text"),
)
def _reply(ref: str, text: str) -> Callable[[Any], Any]:
    return lambda p: p.reply(ref, text)


@_action("note", "Add a note to the case's history (民情日记).", click.argument("text"))
def _note(ref: str, text: str) -> Callable[[Any], Any]:
    return lambda p: p.note(ref, text)


@_action(
    "extend",
    "Extend the resolve deadline (延期), in the service's unit; limited in number.",
    _reason,
    click.option(
        "--by",
        "amount",
        type=click.IntRange(1, 365),
        required=True,
        help="How many days/hours more (1-365).",
    ),
)
def _extend(ref: str, reason: str, amount: int) -> Callable[[Any], Any]:
    return lambda p: p.extend(ref, amount, reason)


@_action(
    "resolve",
    "Mark a case done (办结) with its outcome.",
    click.option("--outcome", required=True, help="What was done."),
    click.option("--minutes", type=click.IntRange(min=0), help="Time spent, in minutes."),
)
def _resolve(ref: str, outcome: str, minutes: int | None) -> Callable[[Any], Any]:
    return lambda p: p.resolve(ref, outcome, minutes)


@_action(
    "rate",
    "Record the resident's rating (评价): satisfied 满意 | fairly_satisfied 基本满意 | "
    "unsatisfied 不满意 (sends it back for rework, 返工).",
    click.argument("level", type=click.Choice(list(RATINGS))),
    click.option("--comment", default="", help="The resident's words."),
)
def _rate(ref: str, level: str, comment: str) -> Callable[[Any], Any]:
    return lambda p: p.rate(ref, RATINGS[level], comment)


@_action(
    "close",
    "Close a resolved case without a rating (结案).",
    click.option("--note", default="", help="Why."),
)
def _close(ref: str, note: str) -> Callable[[Any], Any]:
    return lambda p: p.close(ref, note)


@_action("reopen", "Send a resolved case back to its handler (返工).", _reason)
def _reopen(ref: str, reason: str) -> Callable[[Any], Any]:
    return lambda p: p.reopen(ref, reason)


@_action("withdraw", "Withdraw a case the resident no longer needs (撤回).", _reason)
def _withdraw(ref: str, reason: str) -> Callable[[Any], Any]:
    return lambda p: p.withdraw(ref, reason)


@_action(
    "duplicate",
    "Mark a case as the same demand as another (重复件).",
    click.option("--of", "of", required=True, help="The reference of the case it repeats."),
)
def _duplicate(ref: str, of: str) -> Callable[[Any], Any]:
    return lambda p: p.mark_duplicate(ref, of)


@_action("reject", "Refuse a case outside the community's remit (不予受理).", _reason)
def _reject(ref: str, reason: str) -> Callable[[Any], Any]:
    return lambda p: p.reject(ref, reason)


# -- figures -----------------------------------------------------------------------------------


@case_cli.command("stats")
@period_options
@click.option("--area", help="Only the subtree of this area code (default: the whole district).")
@json_option
@pass_state
def stats_cmd(
    state: CliState,
    start: dt.datetime | None,
    end: dt.datetime | None,
    month: str | None,
    area: str | None,
    as_json: bool,
) -> None:
    """The figures of the cases received in a period (评议): 响应率, 解决率, 满意率,
    on-time rates, counts by service and channel, and the plugins' metrics."""
    from community365.cases.scope import acting_handler
    from community365.cases.stats import case_stats

    district = state.district()
    with district.begin() as ctx:
        today = ctx.today
        period = resolve_period(start, end, month, today)
        stats = case_stats(district, ctx, period, area, acting_handler(ctx.connection, ctx.actor))
    if as_json:
        emit_json(stats.to_json())
        return
    show_stats(stats, district)


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def show_stats(stats: Any, district: Any) -> None:
    """The figures as a short report (also printed by ``c365 demo``)."""
    from community365.cases.stats import LABELS

    last = stats.period.end - dt.timedelta(days=1)
    scope = f", {stats.scope}'s cases" if stats.scope else ""
    click.echo(
        f"{stats.area.name} {stats.area.code}: cases received {stats.period.start} to {last}{scope}"
    )
    rows = [
        (LABELS[k][0], LABELS[k][1], _percent(getattr(stats, k)))
        for k in (
            "response_rate",
            "resolution_rate",
            "satisfaction_rate",
            "reply_on_time_rate",
            "resolve_on_time_rate",
        )
    ]
    rows += [
        (LABELS[k][0], LABELS[k][1], getattr(stats, k))
        for k in ("received", "counted", "open", "overdue_open")
    ]
    emit_table(["指标", "figure", "value"], rows)
    for title, counts in (
        ("by service 按服务", stats.by_service),
        ("by channel 按渠道", stats.by_channel),
        ("by status 按状态", stats.by_status),
    ):
        shown = [c for c in counts if c.count]
        if shown:
            click.echo(f"\n{title}: " + ", ".join(f"{c.label_zh} {c.count}" for c in shown))
    if stats.metrics:
        click.echo("")
        emit_table(
            ["plugin", "指标", "figure", "value"],
            [
                (m.plugin, m.label_zh, m.label_en, f"{m.value} {m.unit}".strip())
                for m in stats.metrics
            ],
        )


@case_cli.command("huddle")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--handler", help="Only this handler's sheet.")
@json_option
@pass_state
def huddle_cmd(
    state: CliState, day: dt.datetime | None, handler: str | None, as_json: bool
) -> None:
    """The daily huddle sheet (日碰头) that `c365 daily` wrote: each handler's open and
    overdue cases."""
    from community365.cases.daily import huddle_sheet, huddle_written
    from community365.cases.scope import acting_handler

    district = state.district()
    tz = district.tz
    with district.begin() as ctx:
        on = check_day(day.date(), "--date") if day else ctx.today
        me = acting_handler(ctx.connection, ctx.actor)
        if me is not None and handler not in (None, me.code):
            raise UsageError(f"acting as {me.code}, you see your own sheet only")
        lines = huddle_sheet(ctx.connection, on, me.code if me else handler)
        if not lines and not huddle_written(ctx.connection, on):
            raise UsageError(f"no huddle sheet for {on}: `c365 daily --date {on}` writes it")
    emit(
        as_json,
        [line.to_json() for line in lines],
        lambda: emit_table(
            ["handler", "name", "ref", "service", "status", "area", "resolve by", "超期"],
            [
                (
                    x.handler_code,
                    x.handler_name,
                    x.ref,
                    x.service,
                    _status(x.status),
                    x.area_code,
                    _local(x.resolve_by, tz),
                    "超期 overdue" if x.overdue else "",
                )
                for x in lines
            ],
        ),
    )
