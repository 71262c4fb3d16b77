"""What every command shares: the district (opened once, lazily), the actor, and output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from community365.errors import C365Error


class C365ClickError(click.ClickException):
    """A :class:`C365Error` as click shows it: ``error: <message>`` and its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def error_to_click(exc: C365Error) -> C365ClickError:
    return C365ClickError(str(exc), exc.exit_code)


class CliState:
    def __init__(self, district_dir: Path | None, actor: str | None) -> None:
        self.district_dir = district_dir
        self.actor = actor
        self._district: Any = None
        self._host: Any = None
        self._commands: dict[str, click.Command] | None = None

    def root(self) -> Path:
        from community365.config import DISTRICT_FILE, find_root
        from community365.errors import ConfigError

        if self.district_dir is None:
            return find_root()
        if not (self.district_dir / DISTRICT_FILE).is_file():
            raise ConfigError(f"{self.district_dir}: no {DISTRICT_FILE} here")
        return self.district_dir.resolve()

    def host(self) -> Any:
        """The enabled plugins, loaded without touching the database layer (fast --help)."""
        if self._host is None:
            from community365.config import load
            from community365.plugins import PluginHost, warn_broken

            self._host = PluginHost.load(load(self.root()).enabled)
            warn_broken(self._host)
        return self._host

    def district(self, *, current: bool = True) -> Any:
        """The open district; with ``current``, refuse a database that needs upgrading."""
        if self._district is None:
            from community365.config import load
            from community365.district import District
            from community365.plugins import installed_plugins

            config = load(self.root())
            self._district = District(config, self.host(), installed_plugins(), actor=self.actor)
        if current:
            self._district.require_current()
        return self._district

    def close(self) -> None:
        """Release the database connections (the CLI may run many commands in one process)."""
        if self._district is not None and "engine" in vars(self._district):
            self._district.engine.dispose()

    def plugin_commands(self, reserved: set[str]) -> dict[str, click.Command]:
        """Commands of the enabled plugins; none when there is no district here."""
        if self._commands is None:
            self._commands = {}
            try:
                host = self.host()
            except C365Error:
                return self._commands
            for plugin, command in host.cli_commands():
                name = command.name or ""
                if name in reserved or name in self._commands:
                    click.echo(
                        f"warning: plugin {plugin!r} command {name!r} clashes; skipped", err=True
                    )
                    continue
                self._commands[name] = command
        return self._commands


pass_state = click.make_pass_decorator(CliState)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
reveal_option = click.option(
    "--reveal",
    is_flag=True,
    help="Show ID numbers and phones unmasked (recorded in the audit log).",
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table; CJK characters count as two columns."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(v)) for w, v in zip(widths, row, strict=True)]
    click.echo(_line(headers, widths))
    for row in rows:
        click.echo(_line(row, widths))


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)
    ).rstrip()


def emit(as_json: bool, data: Any, table: Callable[[], None]) -> None:
    if as_json:
        emit_json(data)
    else:
        table()
