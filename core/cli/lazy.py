"""A click group whose subcommands are imported only when used.

``c365 --help`` asks every enabled plugin for its commands; a plugin whose commands
import SQLAlchemy at the top would make every ``--help`` slow. A :class:`LazyGroup`
knows its subcommands by name, module and a one-line help, and imports a module only
when one of its commands runs (or its own ``--help`` is shown).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import attrs
import click


@attrs.frozen
class Lazy:
    """Where a subcommand lives: ``module.attribute``, and its one-line help."""

    module: str
    attribute: str
    help: str


class LazyGroup(click.Group):
    def __init__(self, *args: object, lazy: Mapping[str, Lazy], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *sorted(set(self.commands) - set(self.lazy))]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            where = self.lazy[name]
            return getattr(importlib.import_module(where.module), where.attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, where.help) for name, where in self.lazy.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
