"""``c365 handler`` and ``c365 duty``: who can take cases, when, and for which areas."""

from __future__ import annotations

from typing import Any

import click

from community365.cli.periods import parse_moment
from community365.cli.personal import audit_reveal, shown_id_number, shown_phone
from community365.cli.state import (
    CliState,
    emit,
    emit_table,
    json_option,
    pass_state,
    reveal_option,
)
from community365.errors import UsageError


def _kind_label(kind: str) -> str:
    from community365.registry.handlers import KIND_NAMES

    return f"{KIND_NAMES[kind]} {kind}"


def _role_label(role: str) -> str:
    from community365.registry.handlers import ROLE_NAMES

    return f"{ROLE_NAMES[role]} {role}"


# -- handler --------------------------------------------------------------------------------


@click.group("handler")
def handler_cli() -> None:
    """Handlers (处置人): staff 工作人员, volunteers 志愿者, teams 队伍, organisations 组织."""


@handler_cli.command("add")
@click.argument("code")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    help="staff 工作人员 | volunteer 志愿者 | team 队伍 | organisation 组织.",
)
@click.option("--phone", help="Mobile or landline.")
@click.option("--person", "id_number", metavar="ID_NUMBER", help="The resident this handler is.")
@click.option("--skill", "skills", multiple=True, help="A skill (repeatable), e.g. 维修.")
@pass_state
def add_cmd(
    state: CliState,
    code: str,
    name: str,
    kind: str,
    phone: str | None,
    id_number: str | None,
    skills: tuple[str, ...],
) -> None:
    """Add handler CODE called NAME.

    Example: ``c365 handler add WGY001 王芳 --kind 网格员 --skill 调解``.
    """
    from community365.registry import handlers

    fields = {"code": code, "name": name, "kind": kind, "phone": phone or ""}
    fields.update(id_number=id_number or "", skills=";".join(skills))
    record = handlers.parse_handler(fields)
    district = state.district()
    with district.begin() as ctx:
        view = handlers.add_handler(ctx.connection, record)
        district.audit(ctx, "handler.add", view.code, f"{view.kind} {view.name}")
    click.echo(f"added {view.kind} {view.code} {view.name}")


def _person(conn: Any, person_id: int | None, reveal: bool) -> dict[str, Any] | None:
    from community365.registry.handlers import person_of

    if person_id is None:
        return None
    name, id_number = person_of(conn, person_id)
    return {"name": name, "id_number": shown_id_number(id_number, reveal)}


@handler_cli.command("show")
@click.argument("code")
@json_option
@reveal_option
@pass_state
def show_cmd(state: CliState, code: str, as_json: bool, reveal: bool) -> None:
    """One handler: kind, phone, the resident it is, skills, leave, shifts and duties."""
    from community365.registry import handlers, schedule

    district = state.district()
    with district.begin() as ctx:
        conn = ctx.connection
        view = handlers.get_handler(conn, code)
        person = _person(conn, view.person_id, reveal)
        leave = schedule.leave_of(conn, code)
        shifts = schedule.shifts_of(conn, code)
        duties = handlers.list_duties(conn, handler=code)
        audit_reveal(district, ctx, reveal, code, "phone and ID number" if person else "phone")
    data = {
        "code": view.code,
        "name": view.name,
        "kind": view.kind,
        "phone": shown_phone(view.phone, reveal),
        "active": view.active,
        "person": person,
        "skills": list(view.skills),
        "leave": [_leave_json(item) for item in leave],
        "shifts": [_shift_json(item) for item in shifts],
        "duties": [_duty_json(item) for item in duties],
    }
    emit(as_json, data, lambda: _show_table(data))


def _leave_json(leave: Any) -> dict[str, str]:
    return {
        "from": leave.starts_on.isoformat(),
        "to": leave.ends_on.isoformat(),
        "reason": leave.reason,
    }


def _shift_json(shift: Any) -> dict[str, Any]:
    from community365.registry.schedule import WEEKDAY_NAMES

    return {
        "weekday": shift.weekday,
        "weekday_name": WEEKDAY_NAMES[shift.weekday - 1],
        "start": f"{shift.starts_at:%H:%M}",
        "end": f"{shift.ends_at:%H:%M}",
    }


def _duty_json(duty: Any) -> dict[str, Any]:
    return {
        "area": duty.area_code,
        "area_name": duty.area_name,
        "handler": duty.handler_code,
        "handler_name": duty.handler_name,
        "role": duty.role,
        "service_group": duty.service_group,
    }


def _show_table(data: dict[str, Any]) -> None:
    status = "" if data["active"] else "  (inactive 停用)"
    click.echo(f"{data['code']}  {data['name']}  [{_kind_label(data['kind'])}]{status}")
    click.echo(f"phone 电话: {data['phone'] or '-'}")
    if data["person"]:
        person = data["person"]
        click.echo(f"resident 居民: {person['name']} {person['id_number'] or ''}".rstrip())
    click.echo(f"skills 技能: {'、'.join(data['skills']) or '-'}")
    for leave in data["leave"]:
        click.echo(f"leave 请假: {leave['from']} .. {leave['to']}  {leave['reason']}".rstrip())
    for shift in data["shifts"]:
        click.echo(f"shift 班次: {shift['weekday_name']} {shift['start']}-{shift['end']}")
    for duty in data["duties"]:
        group = duty["service_group"] or "all 全部"
        click.echo(
            f"duty 责任: {duty['area']} {duty['area_name']}  {_role_label(duty['role'])}  {group}"
        )


@handler_cli.command("list")
@click.option("--kind", help="Only this kind (English or Chinese).")
@click.option("--skill", help="Only handlers with this skill.")
@click.option("--area", metavar="CODE", help="Only handlers with a duty in this area's subtree.")
@click.option(
    "--available-at",
    metavar="DATETIME",
    help="Only handlers available then (ISO; without an offset, district time).",
)
@json_option
@reveal_option
@pass_state
def list_cmd(
    state: CliState,
    kind: str | None,
    skill: str | None,
    area: str | None,
    available_at: str | None,
    as_json: bool,
    reveal: bool,
) -> None:
    """Handlers in code order, filtered by kind, skill, area and availability."""
    from community365.registry import handlers

    district = state.district()
    tz = district.tz
    moment = parse_moment(available_at, tz, "--available-at") if available_at else None
    with district.begin() as ctx:
        found = handlers.list_handlers(
            ctx.connection,
            kind=handlers.parse_kind(kind) if kind else None,
            skill=skill.strip() if skill else None,
            area=area,
            available_at=(moment, tz) if moment else None,
        )
        if found:
            codes = ",".join(h.code for h in found)
            audit_reveal(district, ctx, reveal, "handler list", f"phones of {codes}")
    rows = [
        {
            "code": h.code,
            "name": h.name,
            "kind": h.kind,
            "phone": shown_phone(h.phone, reveal),
            "active": h.active,
            "skills": list(h.skills),
        }
        for h in found
    ]

    def table() -> None:
        if moment:
            click.echo(f"available at {moment.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})")
        emit_table(
            ["code", "name", "kind", "phone", "active", "skills"],
            [
                (
                    r["code"],
                    r["name"],
                    _kind_label(r["kind"]),
                    r["phone"],
                    "yes" if r["active"] else "no",
                    "、".join(r["skills"]),
                )
                for r in rows
            ],
        )

    emit(as_json, rows, table)


@handler_cli.command("skill")
@click.argument("code")
@click.option("--add", "added", multiple=True, help="A skill to add (repeatable).")
@click.option("--remove", "removed", multiple=True, help="A skill to remove (repeatable).")
@pass_state
def skill_cmd(state: CliState, code: str, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Add and remove skills of handler CODE."""
    from community365.registry import handlers

    add = handlers.parse_skills(";".join(added))
    remove = handlers.parse_skills(";".join(removed))
    if not add and not remove:
        raise UsageError("give --add SKILL and/or --remove SKILL")
    district = state.district()
    with district.begin() as ctx:
        view = handlers.change_skills(ctx.connection, code, add, remove)
        detail = " ".join([*(f"+{s}" for s in add), *(f"-{s}" for s in remove)])
        district.audit(ctx, "handler.skill", code, detail)
    click.echo(f"{code} skills: {'、'.join(view.skills) or '-'}")


@handler_cli.command("leave")
@click.argument("code")
@click.argument("start", metavar="FROM")
@click.argument("end", metavar="TO")
@click.option("--reason", default="", help="Why, e.g. 病假.")
@click.option("--remove", is_flag=True, help="Cancel the leave with exactly these dates.")
@pass_state
def leave_cmd(state: CliState, code: str, start: str, end: str, reason: str, remove: bool) -> None:
    """Put handler CODE on leave from FROM to TO (dates, both included)."""
    from community365.registry import schedule
    from community365.registry.fields import parse_date

    starts_on = parse_date("from", start)
    ends_on = parse_date("to", end)
    district = state.district()
    with district.begin() as ctx:
        if remove:
            schedule.remove_leave(ctx.connection, code, starts_on, ends_on)
        else:
            schedule.add_leave(ctx.connection, code, starts_on, ends_on, reason.strip())
        action = "handler.leave.remove" if remove else "handler.leave"
        district.audit(ctx, action, code, f"{starts_on} .. {ends_on} {reason}".rstrip())
    done = "cancelled leave of" if remove else "leave for"
    click.echo(f"{done} {code}: {starts_on} .. {ends_on}")


@handler_cli.command("shift")
@click.argument("code")
@click.argument("weekday")
@click.argument("start")
@click.argument("end")
@click.option("--remove", is_flag=True, help="Remove exactly this shift.")
@pass_state
def shift_cmd(state: CliState, code: str, weekday: str, start: str, end: str, remove: bool) -> None:
    """Add a weekly shift: CODE works every WEEKDAY (1-7, 周一..周日, mon..sun) START-END."""
    from community365.registry import schedule

    shift = schedule.ShiftView(
        schedule.parse_weekday(weekday),
        schedule.parse_time("start", start),
        schedule.parse_time("end", end),
    )
    district = state.district()
    with district.begin() as ctx:
        if remove:
            schedule.remove_shift(ctx.connection, code, shift)
        else:
            schedule.add_shift(ctx.connection, code, shift)
        day = schedule.WEEKDAY_NAMES[shift.weekday - 1]
        described = f"{day} {shift.starts_at:%H:%M}-{shift.ends_at:%H:%M}"
        district.audit(ctx, "handler.shift.remove" if remove else "handler.shift", code, described)
    click.echo(f"{'removed' if remove else 'added'} shift of {code}: {described}")


def _set_active(state: CliState, code: str, active: bool) -> None:
    from community365.registry import handlers

    action = "activate" if active else "deactivate"
    district = state.district()
    with district.begin() as ctx:
        changed = handlers.set_active(ctx.connection, code, active)
        if changed:
            district.audit(ctx, f"handler.{action}", code)
    click.echo(f"{action}d {code}" if changed else f"{code} was already {action}d")


@handler_cli.command("deactivate")
@click.argument("code")
@pass_state
def deactivate_cmd(state: CliState, code: str) -> None:
    """Stop routing work to handler CODE (its history stays)."""
    _set_active(state, code, False)


@handler_cli.command("activate")
@click.argument("code")
@pass_state
def activate_cmd(state: CliState, code: str) -> None:
    """Route work to handler CODE again."""
    _set_active(state, code, True)


# -- duty -----------------------------------------------------------------------------------


@click.group("duty")
def duty_cli() -> None:
    """Duties (责任): which handler answers for which area, as A角, B角 or 网格长."""


_DUTY_PARAMS = (
    click.argument("handler"),
    click.argument("area"),
    click.option("--role", required=True, help="A (A角), B (B角) or leader (网格长)."),
    click.option("--group", default="", help="The service group it is for (default: all)."),
)


def _duty_options(command: Any) -> Any:
    """HANDLER AREA --role [--group], shared by duty add and duty remove."""
    for decorate in reversed(_DUTY_PARAMS):
        command = decorate(command)
    return command


def _duty_record(handler: str, area: str, role: str, group: str) -> Any:
    from community365.registry import handlers

    fields = {"handler": handler, "area": area, "role": role, "service_group": group}
    return handlers.parse_duty(fields)


def _write_duty(state: CliState, record: Any, remove: bool) -> None:
    from community365.registry import handlers

    district = state.district()
    with district.begin() as ctx:
        if remove:
            handlers.remove_duty(ctx.connection, record)
        else:
            handlers.add_duty(ctx.connection, record)
        detail = f"{record.role} {record.service_group or '*'}"
        subject = f"{record.handler_code} {record.area_code}"
        district.audit(ctx, "duty.remove" if remove else "duty.add", subject, detail)
    group = record.service_group or "all groups"
    verb = "removed" if remove else "added"
    role = _role_label(record.role)
    click.echo(f"{verb} duty: {record.handler_code} {role} of {record.area_code} ({group})")


@duty_cli.command("add")
@_duty_options
@pass_state
def duty_add_cmd(state: CliState, handler: str, area: str, role: str, group: str) -> None:
    """Make HANDLER answer for AREA as --role.

    Example: ``c365 duty add WGY001 33021200100101 --role A角``.
    """
    _write_duty(state, _duty_record(handler, area, role, group), remove=False)


@duty_cli.command("remove")
@_duty_options
@pass_state
def duty_remove_cmd(state: CliState, handler: str, area: str, role: str, group: str) -> None:
    """HANDLER no longer answers for AREA as --role (same arguments as add)."""
    _write_duty(state, _duty_record(handler, area, role, group), remove=True)


@duty_cli.command("list")
@click.option("--area", metavar="CODE", help="Only duties in this area's subtree.")
@click.option("--handler", metavar="CODE", help="Only this handler's duties.")
@json_option
@pass_state
def duty_list_cmd(state: CliState, area: str | None, handler: str | None, as_json: bool) -> None:
    """Duties by area, then role (A, B, leader)."""
    from community365.registry import handlers

    district = state.district()
    with district.engine.connect() as conn:
        found = handlers.list_duties(conn, area=area, handler=handler)
    rows = [_duty_json(d) for d in found]
    emit(
        as_json,
        rows,
        lambda: emit_table(
            ["area", "area name", "handler", "name", "role", "group"],
            [
                (
                    r["area"],
                    r["area_name"],
                    r["handler"],
                    r["handler_name"],
                    _role_label(r["role"]),
                    r["service_group"] or "*",
                )
                for r in rows
            ],
        ),
    )
