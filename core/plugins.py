"""Finding, loading and calling plugins.

Discovery reads entry-point metadata only; a plugin's code is imported when it is enabled
(or when ``c365 plugins list`` asks what it implements), so start-up stays fast and an
installed plugin is never active just because it is installed.

Ordering rule, enforced here and only here: hooks run in the order of the ``enabled`` list,
first listed first. pluggy calls implementations last-registered first, so
:meth:`PluginHost.load` registers the enabled plugins in reverse.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs
import pluggy

from community365 import hookspecs
from community365.errors import PluginError, UsageError
from community365.hookspecs import HOOK_PREFIX, PROJECT
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

ENTRY_POINT_GROUP = PROJECT
hookimpl = pluggy.HookimplMarker(PROJECT)


@attrs.frozen
class InstalledPlugin:
    """A plugin as its distribution declares it; nothing of it is imported yet."""

    name: str
    target: str
    distribution: str
    version: str
    entry_point: importlib.metadata.EntryPoint = attrs.field(eq=False, repr=False)

    def load(self) -> Any:
        return self.entry_point.load()


@attrs.frozen
class PluginStatus:
    """What ``c365 plugins list`` shows for one installed plugin."""

    name: str
    enabled: bool
    version: str
    distribution: str
    hooks: tuple[str, ...] = ()
    broken: str | None = None


def installed_plugins() -> dict[str, InstalledPlugin]:
    """Every plugin installed in this environment, by entry-point name, sorted by name."""
    found: dict[str, InstalledPlugin] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found.setdefault(
            ep.name,
            InstalledPlugin(
                name=ep.name,
                target=ep.value,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
                entry_point=ep,
            ),
        )
    return dict(sorted(found.items()))


def unknown_plugin_error(name: str, installed: Iterable[str]) -> UsageError:
    names = ", ".join(installed) or "none"
    return UsageError(f"no plugin named {name!r} is installed (installed: {names})")


class _Manager(pluggy.PluginManager):
    """A pluggy manager for which every ``c365_*`` function is a hook implementation.

    The marker stays available for options (``tryfirst``...), but the prefix alone is
    enough, so that a misspelt hook is caught instead of silently ignored.
    """

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(HOOK_PREFIX):
            method = getattr(plugin, name, None)
            if inspect.isroutine(method):
                return {}
        return opts


def _new_manager() -> _Manager:
    pm = _Manager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _implemented_hooks(pm: pluggy.PluginManager, plugin: Any) -> tuple[str, ...]:
    return tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    return sorted(c.name for c in pm.get_hookcallers(plugin) or () if c.spec is None)


def _reordering(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hooks the plugin implements as wrappers or with tryfirst/trylast: each would escape
    the one ordering rule (the enabled list), so such a plugin is refused."""
    return sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or ()
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
        and (impl.wrapper or impl.hookwrapper or impl.tryfirst or impl.trylast)
    )


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def _import_reason(exc: BaseException) -> str:
    return f"cannot be imported: {type(exc).__name__}: {_one_line(exc)}"


class PluginHost:
    """The enabled plugins of a district, and a typed call for every hook.

    Nothing else in community365 touches ``pm.hook``: a stage calls a method here, which
    gives typed results and turns a plugin's exception into a :class:`PluginError` that
    names the plugin and the hook.
    """

    def __init__(self) -> None:
        self.pm = _new_manager()
        self.enabled: tuple[str, ...] = ()
        self.broken: dict[str, str] = {}
        self._modules: dict[str, Any] = {}

    @classmethod
    def load(
        cls,
        enabled: Sequence[str],
        installed: dict[str, InstalledPlugin] | None = None,
        extra: Sequence[tuple[str, Any]] = (),
    ) -> PluginHost:
        """Load and register the enabled plugins; ``extra`` adds (name, object) pairs
        (tests, in-process plugins) after them, in the same order rule."""
        host = cls()
        installed = installed_plugins() if installed is None else installed
        objects: list[tuple[str, Any]] = []
        for name in enabled:
            if name not in installed:
                host.broken[name] = "is enabled but not installed"
                continue
            try:
                objects.append((name, installed[name].load()))
            except Exception as exc:
                host.broken[name] = _import_reason(exc)
        objects.extend(extra)
        for name, obj in reversed(objects):
            host._register(name, obj)
        host.enabled = tuple(n for n, obj in objects if host._modules.get(n) is obj)
        order = dict.fromkeys([*enabled, *(n for n, _ in extra)])
        host.broken = {n: host.broken[n] for n in order if n in host.broken}
        return host

    def _register(self, name: str, obj: Any) -> None:
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # pluggy validation: bad signature, unknown hook options
            self.broken[name] = f"cannot be registered: {_one_line(exc)}"
            return
        unknown = _unknown_hooks(self.pm, obj)
        reordering = _reordering(self.pm, obj)
        if unknown or reordering:
            self.pm.unregister(obj)
            self.broken[name] = (
                "implements unknown hook " + ", ".join(unknown) + " (misspelt?)"
                if unknown
                else "reorders "
                + ", ".join(reordering)
                + " (wrapper, tryfirst and trylast are not supported: order is the enabled list)"
            )
            return
        self._modules[name] = obj

    def plugin(self, name: str) -> Any:
        return self._modules[name]

    def hooks_of(self, name: str) -> tuple[str, ...]:
        return _implemented_hooks(self.pm, self._modules[name])

    # -- calling -------------------------------------------------------------------------

    def _each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call the implementations one by one, in plugin order, yielding who returned what.

        pluggy keeps implementations last-registered last and calls them in reverse; reading
        its list backwards is that same order. Calling them here rather than through
        ``pm.hook`` lets a failure name the very plugin that raised.
        """
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                raise PluginError(impl.plugin_name, hook, exc) from exc
            yield impl.plugin_name, result

    def _per_plugin(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        return list(self._each(hook, **kwargs))

    def _call(self, hook: str, **kwargs: Any) -> list[Any]:
        return [result for _, result in self._each(hook, **kwargs)]

    def _first(self, hook: str, **kwargs: Any) -> tuple[str, Any] | None:
        """The first non-None result and its plugin; later plugins are not called."""
        return next(((p, r) for p, r in self._each(hook, **kwargs) if r is not None), None)

    # intake
    def services(self) -> list[tuple[str, ServiceSpec]]:
        return [(p, s) for p, specs in self._per_plugin("c365_services") for s in specs or ()]

    def classify(self, draft: CaseDraft, services: list[ServiceSpec]) -> str | None:
        found = self._first("c365_classify", draft=draft, services=services)
        if found is None:
            return None
        plugin, code = found
        if code not in {s.code for s in services}:
            raise PluginError(plugin, "c365_classify", ValueError(f"unknown service {code!r}"))
        return code

    def validate(self, draft: CaseDraft, service: ServiceSpec) -> list[Problem]:
        found = self._call("c365_validate", draft=draft, service=service)
        return [problem for problems in found for problem in problems or ()]

    def case_received(self, case: CaseView, ctx: Context) -> None:
        self._call("c365_case_received", case=case, ctx=ctx)

    # routing
    def propose_handlers(self, case: CaseView, ctx: Context) -> list[tuple[str, Candidate]]:
        """Every plugin's proposals, with the plugin's name (routing says whose won)."""
        found = self._per_plugin("c365_propose_handlers", case=case, ctx=ctx)
        return [(p, c) for p, candidates in found for c in candidates or ()]

    def adjust_deadlines(self, case: CaseView, deadlines: Deadlines) -> Deadlines:
        found = self._first("c365_adjust_deadlines", case=case, deadlines=deadlines)
        if found is None:
            return deadlines
        plugin, adjusted = found
        if min(adjusted.reply_by, adjusted.resolve_by) < case.received_at:
            problem = ValueError("a deadline lies before the intake time")
            raise PluginError(plugin, "c365_adjust_deadlines", problem)
        return adjusted

    # delivery and evaluation
    def case_transition(self, case: CaseView, transition: Transition, ctx: Context) -> None:
        self._call("c365_case_transition", case=case, transition=transition, ctx=ctx)

    def case_rated(self, case: CaseView, rating: Rating, ctx: Context) -> None:
        self._call("c365_case_rated", case=case, rating=rating, ctx=ctx)

    def metrics(self, period: Period, area: AreaView, ctx: Context) -> list[tuple[str, Metric]]:
        found = self._per_plugin("c365_metrics", period=period, area=area, ctx=ctx)
        return [(p, m) for p, metrics in found for m in metrics or ()]

    # platform
    def cli_commands(self) -> list[tuple[str, Any]]:
        return [(p, c) for p, cmds in self._per_plugin("c365_cli_commands") for c in cmds or ()]

    def settings_schemas(self) -> dict[str, type]:
        return {p: s for p, s in self._per_plugin("c365_settings_schema") if s is not None}

    def migration_branches(self) -> dict[str, MigrationBranch]:
        return {p: b for p, b in self._per_plugin("c365_migrations") if b is not None}

    def daily_tasks(self) -> list[tuple[str, DailyTask]]:
        return [(p, t) for p, tasks in self._per_plugin("c365_daily_tasks") for t in tasks or ()]


def plugin_statuses(
    enabled: Sequence[str], installed: dict[str, InstalledPlugin] | None = None
) -> list[PluginStatus]:
    """Load every installed plugin on its own to report what it implements or why it is
    broken; one plugin's failure never hides the others."""
    installed = installed_plugins() if installed is None else installed
    statuses = []
    for name, info in installed.items():
        probe = PluginHost.load([name], installed)
        statuses.append(
            PluginStatus(
                name=name,
                enabled=name in enabled,
                version=info.version,
                distribution=info.distribution,
                hooks=probe.hooks_of(name) if name in probe.enabled else (),
                broken=probe.broken.get(name),
            )
        )
    for name in enabled:
        if name not in installed:
            statuses.append(
                PluginStatus(name, True, "-", "-", broken="is enabled but not installed")
            )
    return statuses


def warn_broken(host: PluginHost, stream: Any = None) -> None:
    """Say once, on stderr, which enabled plugins are off because they are broken."""
    out = stream or sys.stderr
    for name, reason in host.broken.items():
        print(f"warning: plugin {name!r} {reason}; it is not active", file=out)


__all__ = [
    "ENTRY_POINT_GROUP",
    "InstalledPlugin",
    "PluginHost",
    "PluginStatus",
    "hookimpl",
    "installed_plugins",
    "plugin_statuses",
    "warn_broken",
]
