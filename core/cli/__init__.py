"""``c365``: the command line of a district.

Subcommands live in their own modules and are imported only when used, so that
``c365 --help`` stays fast. Plugins add commands through ``c365_cli_commands``; only
enabled plugins are asked, and only when the command list is needed.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from community365 import __version__
from community365.cli.lazy import Lazy, LazyGroup
from community365.cli.state import C365ClickError, CliState, error_to_click
from community365.errors import C365Error

CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("community365.cli.init", "Create a new district directory (新建辖区)."),
    "demo": ("community365.cli.demo", "Create and show the demo district (示范辖区)."),
    "plugins": ("community365.cli.plugins", "List, enable and disable plugins (插件)."),
    "db": ("community365.cli.db", "Upgrade the database and show its state (数据库)."),
    "area": ("community365.cli.areas", "The area tree: streets, communities, grids (区域)."),
    "household": ("community365.cli.people", "Households (住户)."),
    "person": ("community365.cli.people", "Residents (居民)."),
    "tag": ("community365.cli.people", "Resident tags: 独居, 低保, 党员 ... (标签)."),
    "handler": ("community365.cli.handlers", "Staff, volunteers, teams, organisations (处置人)."),
    "duty": ("community365.cli.handlers", "Who answers for which area: A/B roles (责任)."),
    "services": ("community365.cli.cases", "The service catalogue and its deadlines (服务目录)."),
    "case": ("community365.cli.cases", "Cases: submit, route, handle, answer, rate (诉求)."),
    "daily": (
        "community365.cli.daily",
        "The 365-day heartbeat: escalate, close, huddle (每日例行).",
    ),
    "import": ("community365.cli.imports", "Import CSV ledgers, UTF-8 or GBK (导入台账)."),
    "audit": ("community365.cli.audit", "The audit log: who did what (操作记录)."),
}


class RootGroup(LazyGroup):
    """Core commands by lazy import; plugin commands from enabled plugins; one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self._plugin_commands(ctx))]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands(ctx).get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        plugin_rows = [
            (name, cmd.get_short_help_str(limit=70))
            for name, cmd in sorted(self._plugin_commands(ctx).items())
        ]
        if plugin_rows:
            with formatter.section("Plugin commands"):
                formatter.write_dl(plugin_rows)

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        return cli_state(ctx).plugin_commands(reserved=set(CORE_COMMANDS))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except C365Error as exc:
            raise error_to_click(exc) from None
        except Exception as exc:
            if "database is locked" not in str(exc):
                raise
            busy = "the database stayed busy with another writer; try again in a moment"
            raise C365ClickError(busy, 1) from None


@click.group(
    cls=RootGroup,
    lazy={
        name: Lazy(module, name.replace("-", "_") + "_cli", help_text)
        for name, (module, help_text) in CORE_COMMANDS.items()
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--district",
    "district_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="C365_DISTRICT",
    is_eager=True,  # known to --help, which lists the district's plugin commands
    help="District directory (holds district.toml). Default: this directory or a parent.",
)
@click.option(
    "--as",
    "actor",
    envvar="C365_USER",
    metavar="NAME",
    help="Who is acting; recorded with every write. Default: $C365_USER or your login.",
)
@click.version_option(__version__, prog_name="c365")
@click.pass_context
def cli(ctx: click.Context, district_dir: Path | None, actor: str | None) -> None:
    """社区服务365 community365: every resident demand collected, routed, handled,
    answered and evaluated, 365 days a year."""
    ctx.with_resource(one_line_warnings())
    cli_state(ctx)


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show warnings (a year the holiday calendar does not cover …) as ``warning: …``."""

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        click.echo(f"warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def cli_state(ctx: click.Context) -> CliState:
    """This run's CliState, made from the root's options by whoever needs it first: click
    resolves a subcommand, and prints ``--help``, before the root's callback runs."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(root.params.get("district_dir"), root.params.get("actor"))
        root.call_on_close(root.obj.close)
    return root.obj


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="c365")
    except C365Error as exc:  # raised outside a command, e.g. while listing plugin commands
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
