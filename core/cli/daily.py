"""``c365 daily``: the 365-day heartbeat, meant for cron (每日例行)."""

from __future__ import annotations

import datetime as dt

import click

from community365.cli.state import C365ClickError, CliState, emit, json_option, pass_state


@click.command("daily")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The day to run for (default: today in the district's timezone).",
)
@json_option
@pass_state
def daily_cli(state: CliState, day: dt.datetime | None, as_json: bool) -> None:
    """Escalate overdue cases (催办), close resolved cases left unrated, write each
    handler's huddle sheet (日碰头) and run the plugins' daily tasks. Running it again
    for the same day changes nothing. Cron example: 30 0 * * * c365 daily"""
    from community365.cases.daily import run_daily
    from community365.cli.periods import check_day

    district = state.district()
    with district.begin() as ctx:
        on = day.date() if day else ctx.today
        check_day(on, "--date")
        report = run_daily(district, ctx, on)

    def text() -> None:
        click.echo(f"daily run for {report.day}" + (" (already ran)" if report.already_ran else ""))
        for step in report.steps:
            mark = {"already_ran": "=", "done": "✓", "failed": "✗"}[step.status]
            click.echo(f"{mark} {step.label_zh} {step.label_en}: {step.summary}")

    emit(as_json, report.to_json(), text)
    if report.failed:
        names = ", ".join(step.task for step in report.failed)
        raise C365ClickError(f"daily tasks failed: {names}; the rest of the run stands", 1)
