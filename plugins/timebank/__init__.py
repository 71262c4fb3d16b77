"""时间银行 Time bank: volunteers deposit hours of service and withdraw them when they need help.

Bundled plugin, registered under the ``community365`` entry-point group as ``timebank``.
The hooks below are thin: each imports the module that does the work only when called,
so that ``c365 --help`` stays fast.

- ``c365_services``: the time-bank services (:mod:`.services`);
- ``c365_propose_handlers``: matching requests to volunteers (:mod:`.matching`);
- ``c365_case_transition``: hours recorded as pending on ``resolve``, set aside on
  ``withdraw``, ``duplicate`` and ``reject`` (:mod:`.earning`);
- ``c365_metrics``: hours earned, spent, donated; volunteers; balances (:mod:`.metrics`);
- ``c365_cli_commands``: ``c365 timebank`` (:mod:`.cli`);
- ``c365_daily_tasks``: the ledger's reconciliation every day (:mod:`.checks`);
- ``c365_settings_schema`` and ``c365_migrations``: settings and tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from community365 import (
    AreaView,
    Candidate,
    CaseView,
    Context,
    DailyTask,
    Metric,
    MigrationBranch,
    Period,
    ServiceSpec,
    Transition,
    hookimpl,
)
from community365_timebank.settings import TimebankSettings

if TYPE_CHECKING:
    import click

__all__ = ["PLUGIN_NAME", "TimebankSettings"]

PLUGIN_NAME = "timebank"
_PREFIX = "timebank."  # every service of the plugin: a cheap test before any import
# resolve records hours; withdraw, duplicate and reject set aside hours still pending
_RECORDING_ACTIONS = frozenset({"resolve", "withdraw", "duplicate", "reject"})


@hookimpl
def c365_settings_schema() -> type:
    return TimebankSettings


@hookimpl
def c365_migrations() -> MigrationBranch:
    from community365_timebank.tables import metadata

    return MigrationBranch(
        label=PLUGIN_NAME,
        versions=Path(__file__).parent / "migrations" / "versions",
        metadata=metadata,
    )


@hookimpl
def c365_services() -> list[ServiceSpec]:
    from community365_timebank.services import SERVICES

    return list(SERVICES)


@hookimpl
def c365_propose_handlers(case: CaseView, ctx: Context) -> list[Candidate]:
    if not case.service.startswith(_PREFIX):
        return []
    from community365_timebank.matching import propose

    return propose(case, ctx)


@hookimpl
def c365_case_transition(case: CaseView, transition: Transition, ctx: Context) -> None:
    if transition.action not in _RECORDING_ACTIONS or not case.service.startswith(_PREFIX):
        return
    from community365_timebank.earning import on_transition

    on_transition(case, transition.action, transition.at, ctx)


@hookimpl
def c365_metrics(period: Period, area: AreaView, ctx: Context) -> list[Metric]:
    from community365_timebank.metrics import metrics

    return metrics(period, area, ctx)


@hookimpl
def c365_cli_commands() -> list[click.Command]:
    from community365_timebank.cli import timebank_cli

    return [timebank_cli]


@hookimpl
def c365_daily_tasks() -> list[DailyTask]:
    from community365_timebank.checks import daily_reconcile

    return [
        DailyTask(
            name="reconcile",
            run=daily_reconcile,
            label_zh="时间银行对账",
            label_en="time-bank reconciliation",
        )
    ]
