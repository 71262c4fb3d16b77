"""The extension contract: every hook a community365 plugin can implement.

A plugin is a module (or object) registered under the ``community365`` entry-point group.
Every function in it whose name starts with ``c365_`` is a hook implementation; a name with
that prefix that is not specified here is a misspelling, and the plugin is reported broken
at start-up, naming the hook, while the rest of the district keeps working.

Order: hooks are called in the order of ``[plugins] enabled`` in district.toml, first
listed first. A ``firstresult`` hook therefore gives the earliest enabled plugin the first
word. The order is enforced in :mod:`community365.plugins` and nowhere else.

A plugin that raises inside a hook aborts the unit of work it was given: the transaction
rolls back and the user sees one line naming the plugin and the hook.

Arguments and results are the attrs classes of :mod:`community365.values`. Hooks that take
``ctx`` run inside the core's transaction and may write the plugin's own tables through
``ctx.connection``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from community365.values import (
    AreaView,
    Candidate,
    CaseDraft,
    CaseView,
    Context,
    DailyTask,
    Deadlines,
    Metric,
    MigrationBranch,
    Period,
    Problem,
    Rating,
    ServiceSpec,
    Transition,
)

if TYPE_CHECKING:
    import click

PROJECT = "community365"
HOOK_PREFIX = "c365_"

hookspec = pluggy.HookspecMarker(PROJECT)


# =============================================================================================
# intake (收集): a demand comes in, is classified to a service, checked and stored
# =============================================================================================


@hookspec
def c365_services() -> list[ServiceSpec]:
    """Declare the services this plugin adds to the catalogue.

    Called once when the catalogue is built (start of any command that needs it).
    Return the plugin's services; codes must be unique across core and plugins, and a
    district may override names and SLAs in district.toml. All results are collected.
    """


@hookspec(firstresult=True)
def c365_classify(draft: CaseDraft, services: list[ServiceSpec]) -> str | None:
    """Choose the service for a draft that arrived without one.

    Called at intake, before the core's keyword rules, with the whole catalogue.
    Return a service code, or None to let the next plugin (then the core) decide.
    Stops at the first non-None result.
    """


@hookspec
def c365_validate(draft: CaseDraft, service: ServiceSpec) -> list[Problem]:
    """Check a classified draft before it is stored.

    Called at intake after classification. Return every problem found (empty when none);
    problems of all plugins are collected and shown to the user together, and any problem
    stops the intake.
    """


@hookspec
def c365_case_received(case: CaseView, ctx: Context) -> None:
    """Be told that a case was stored.

    Called once per new case, inside the intake transaction (so a raise undoes the intake).
    The return value is ignored; all plugins are called.
    """


# =============================================================================================
# routing (分析): who should handle it, and by when
# =============================================================================================


@hookspec
def c365_propose_handlers(case: CaseView, ctx: Context) -> list[Candidate]:
    """Propose handlers for a case beside those of the duty table.

    Called whenever a case is routed or re-routed (transfer, refusal, escalation).
    Return candidates with a score and a reason (the reason is written to the case's
    history when the candidate is chosen). All results are collected.

    Scores are on the scale of the duty roles: A 3, B 2, grid leader 1. The duty
    candidates of the nearest area with a duty for the case's group compete with every
    proposal; the highest score wins, ties go to the least loaded handler. So a proposal
    above 3 takes the case from the grid's A; one below 1 only wins when the area has
    no one available. Proposals naming an unknown or unavailable handler are dropped,
    and the history says so.
    """


@hookspec(firstresult=True)
def c365_adjust_deadlines(case: CaseView, deadlines: Deadlines) -> Deadlines | None:
    """Change the deadlines the core computed from the service's SLA.

    Called once at intake. Return new deadlines, or None to keep them. Deadlines may not
    lie before the intake time. Stops at the first non-None result.
    """


# =============================================================================================
# delivery (处置, 反馈): the case moves through its states
# =============================================================================================


@hookspec
def c365_case_transition(case: CaseView, transition: Transition, ctx: Context) -> None:
    """Act on a step of a case: assign, accept, refuse, transfer, reply, note, extend,
    resolve, rate, close, reopen, withdraw, duplicate, reject, escalate, repeat.

    Called after every step but the intake itself (see ``c365_case_received``), once the
    change and its event are written, in the same transaction; ``transition.action``
    names the step (the status may be unchanged, e.g. for ``reply``) and ``case`` shows
    the new state. The return value is ignored; all plugins are called.
    """


# =============================================================================================
# evaluation (评议): ratings and figures
# =============================================================================================


@hookspec
def c365_case_rated(case: CaseView, rating: Rating, ctx: Context) -> None:
    """Be told that a resident rated a case.

    Called once per rating, inside its transaction. The return value is ignored.
    """


@hookspec
def c365_metrics(period: Period, area: AreaView, ctx: Context) -> list[Metric]:
    """Contribute figures to the report for a period and an area subtree.

    Called by the statistics and report commands. Return the plugin's metrics; all results
    are collected, each shown under the plugin's name. Read only: do not write.
    """


# =============================================================================================
# platform: commands, settings, tables and the daily heartbeat
# =============================================================================================


@hookspec
def c365_cli_commands() -> list[click.Command]:
    """Add commands to ``c365``.

    Called when the CLI lists or runs commands, for enabled plugins only. Return click
    commands or groups; a name that clashes with a core command or an earlier plugin's is
    reported and skipped. All results are collected.
    """


@hookspec
def c365_settings_schema() -> type | None:
    """Declare the attrs class that holds this plugin's settings.

    Called at start-up for each enabled plugin. The ``[plugins.<name>]`` table of
    district.toml is structured into the class; an unknown key or a wrong type is an error
    naming ``plugins.<name>.<key>``. Return None when the plugin has no settings. Called
    per plugin: each result belongs to the plugin that returned it.
    """


@hookspec
def c365_migrations() -> MigrationBranch | None:
    """Declare the plugin's own tables as an Alembic branch.

    Called by ``c365 db`` and when the plugin is enabled (which migrates its branch).
    Return None when the plugin keeps no tables. Called per plugin.
    """


@hookspec
def c365_daily_tasks() -> list[DailyTask]:
    """Declare work for the 365-day heartbeat, ``c365 daily``.

    Called once per run of ``c365 daily``, after the core's steps; each task then runs
    once per day, in plugin order, in a savepoint of the run: a task that raises is
    undone alone, reported as failed and tried again by the next run. All results are
    collected.
    """
