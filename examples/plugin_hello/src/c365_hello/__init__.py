"""邻里互助 Neighbour help: neighbours post small offers of help (lend a ladder, fetch
medicine, sit with a child) on a board their community can read.

A community365 plugin, registered under the ``community365`` entry-point group as
``hello``. Every function here named ``c365_*`` is a hook implementation; the marker
``@hookimpl`` is optional but says so to the reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from c365_hello.settings import HelloSettings
from community365 import MigrationBranch, hookimpl

if TYPE_CHECKING:
    import click

__all__ = ["HelloSettings"]

PLUGIN_NAME = "hello"


@hookimpl
def c365_settings_schema() -> type:
    return HelloSettings


@hookimpl
def c365_migrations() -> MigrationBranch:
    # The label must be the plugin's entry-point name: `c365 db upgrade` asks for it.
    return MigrationBranch(
        label=PLUGIN_NAME, versions=Path(__file__).parent / "migrations" / "versions"
    )


@hookimpl
def c365_cli_commands() -> list[click.Command]:
    from c365_hello.cli import hello_cli  # imported only when the command list is built

    return [hello_cli]
