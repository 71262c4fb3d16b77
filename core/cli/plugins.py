"""``c365 plugins``: what is installed, what is enabled, and switching them."""

from __future__ import annotations

import attrs
import click

from community365.cli.state import CliState, emit, emit_table, json_option, pass_state
from community365.errors import UsageError


@click.group("plugins")
def plugins_cli() -> None:
    """List, enable and disable plugins. Order in the enabled list is the call order."""


@plugins_cli.command("list")
@json_option
@pass_state
def list_cmd(state: CliState, as_json: bool) -> None:
    """Every installed plugin: enabled or not, version, distribution, hooks, or broken."""
    from community365.config import load
    from community365.plugins import plugin_statuses

    enabled = load(state.root()).enabled
    statuses = plugin_statuses(enabled)
    order = {name: i for i, name in enumerate(enabled)}
    statuses.sort(key=lambda s: (order.get(s.name, len(order)), s.name))

    def table() -> None:
        emit_table(
            ["plugin", "state", "version", "distribution", "hooks"],
            [
                (
                    s.name,
                    ("enabled" if s.enabled else "disabled") + (" BROKEN" if s.broken else ""),
                    s.version,
                    s.distribution,
                    s.broken or ", ".join(h.removeprefix("c365_") for h in s.hooks),
                )
                for s in statuses
            ],
        )

    emit(as_json, [attrs.asdict(s) for s in statuses], table)


@plugins_cli.command("enable")
@click.argument("name")
@pass_state
def enable_cmd(state: CliState, name: str) -> None:
    """Enable NAME (appended to the enabled list) and migrate its tables."""
    from community365.config import load, set_enabled
    from community365.district import District
    from community365.plugins import PluginHost, installed_plugins, unknown_plugin_error

    root = state.root()
    config = load(root)
    installed = installed_plugins()
    if name not in installed:
        raise unknown_plugin_error(name, installed)
    if name in config.enabled:
        click.echo(f"plugin {name} is already enabled")
        return
    probe = PluginHost.load([name], installed)
    if name in probe.broken:
        raise UsageError(f"plugin {name!r} {probe.broken[name]}; not enabled")
    enabled = [*config.enabled, name]
    # Validate settings and migrate before touching the file: a failure leaves both as they were.
    district = District(
        attrs.evolve(config, enabled=tuple(enabled)),
        PluginHost.load(enabled, installed),
        installed,
        actor=state.actor,
    )
    district.upgrade()
    with district.begin() as ctx:
        district.audit(ctx, "plugin.enable", name)
        set_enabled(root, enabled)  # last: if writing fails, the audit row rolls back
    district.engine.dispose()
    click.echo(f"enabled {name}; order: {', '.join(enabled)}")


@plugins_cli.command("disable")
@click.argument("name")
@pass_state
def disable_cmd(state: CliState, name: str) -> None:
    """Disable NAME. Its tables and data stay; enabling it again brings them back."""
    from community365.config import load, set_enabled
    from community365.district import District
    from community365.plugins import PluginHost, installed_plugins, unknown_plugin_error

    root = state.root()
    config = load(root)
    installed = installed_plugins()
    if name not in config.enabled:
        if name not in installed:
            raise unknown_plugin_error(name, installed)
        click.echo(f"plugin {name} is not enabled")
        return
    enabled = [n for n in config.enabled if n != name]
    district = District(
        attrs.evolve(config, enabled=tuple(enabled)),
        PluginHost.load(enabled, installed),
        installed,
        actor=state.actor,
    )
    with district.begin() as ctx:
        district.audit(ctx, "plugin.disable", name)
        set_enabled(root, enabled)  # last: if writing fails, the audit row rolls back
    district.engine.dispose()
    click.echo(f"disabled {name}; order: {', '.join(enabled) or '(none)'}")
