"""A district: its config, its enabled plugins, their settings and its database.

This is the object every command works on. Opening it validates district.toml and every
enabled plugin's settings; the database is touched only when first needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from community365 import config as config_mod
from community365.config import DistrictConfig
from community365.db import migrate
from community365.db.engine import check_connection, make_engine
from community365.db.schema import audit_log
from community365.errors import ConfigError, DatabaseError, UsageError
from community365.plugins import InstalledPlugin, PluginHost, installed_plugins
from community365.settings import structure
from community365.values import Context, MigrationBranch

if TYPE_CHECKING:
    from community365.cases.catalogue import Catalogue
    from community365.cases.pipeline import Pipeline
    from community365.workdays import WorkCalendar

ACTOR_LENGTH = 100  # audit_log.actor, case_events.actor
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_actor() -> str:
    """Who is acting when ``--as`` is not given: ``C365_USER``, else the login name."""
    try:
        return os.environ.get("C365_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class District:
    def __init__(
        self,
        config: DistrictConfig,
        host: PluginHost,
        installed: dict[str, InstalledPlugin],
        *,
        clock: Clock = system_clock,
        actor: str | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.installed = installed
        self.clock = clock
        self.actor = actor or default_actor()
        if len(self.actor) > ACTOR_LENGTH:
            raise UsageError(f"--as: a name of at most {ACTOR_LENGTH} characters, please")
        self.settings = self._validate_settings()
        self.catalogue  # noqa: B018 -- [services] overrides are checked at start-up too

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        clock: Clock = system_clock,
        actor: str | None = None,
        extra_plugins: Sequence[tuple[str, Any]] = (),
    ) -> District:
        config = config_mod.load(root)
        installed = installed_plugins()
        host = PluginHost.load(config.enabled, installed, extra=extra_plugins)
        return cls(config, host, installed, clock=clock, actor=actor)

    @property
    def root(self) -> Path:
        return self.config.root

    def _validate_settings(self) -> dict[str, Any]:
        schemas = self.host.settings_schemas()
        settings: dict[str, Any] = {}
        for name in self.config.plugin_tables:
            if name not in self.installed and name not in self.host.enabled:
                raise ConfigError(
                    f"plugins.{name}: no plugin named {name!r} is installed "
                    f"(installed: {', '.join(self.installed) or 'none'})"
                )
        for name in self.host.enabled:
            table = self.config.plugin_tables.get(name, {})
            if name in schemas:
                settings[name] = structure(table, schemas[name], f"plugins.{name}")
            elif table:
                raise ConfigError(f"plugins.{name}: this plugin takes no settings")
        return settings

    # -- storage ------------------------------------------------------------------------

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.config.district.database, self.root)
        check_connection(engine)
        return engine

    def migration_branches(self) -> dict[str, MigrationBranch]:
        """Branches of every installed plugin that loads, enabled or not (see migrate)."""
        branches = dict(self.host.migration_branches())
        for name in self.installed:
            if name in branches or name in self.host.enabled:
                continue
            probe = PluginHost.load([name], self.installed)
            branches.update(probe.migration_branches())
        return branches

    def upgrade(self, extra_labels: Sequence[str] = ()) -> list[migrate.BranchStatus]:
        labels = [*self.host.migration_branches(), *extra_labels]
        return migrate.upgrade(self.engine, self.migration_branches(), labels)

    def require_current(self) -> None:
        """Refuse to work on a database that is behind its enabled branches."""
        labels = list(self.host.migration_branches())
        if not migrate.is_current(self.engine, self.migration_branches(), labels):
            raise DatabaseError("database is not up to date; run 'c365 db upgrade'")

    @contextlib.contextmanager
    def begin(self) -> Iterator[Context]:
        """One unit of work: a transaction that commits on success and rolls back on error."""
        with self.engine.begin() as conn:
            yield self.context(conn)

    def context(self, conn: Connection) -> Context:
        return Context(
            connection=conn, now=self.clock(), actor=self.actor, tz=self.tz, settings=self.settings
        )

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.district.timezone)

    def today(self) -> dt.date:
        """The district's local date now, by its clock."""
        return self.clock().astimezone(self.tz).date()

    # -- cases --------------------------------------------------------------------------------

    @cached_property
    def catalogue(self) -> Catalogue:
        """The core's services, the enabled plugins' and the district's overrides."""
        from community365.cases.catalogue import build_catalogue

        return build_catalogue(self.host.services(), self.config.services)

    @cached_property
    def calendar(self) -> WorkCalendar:
        """Working days: the national calendar with the district's own exceptions."""
        from community365.workdays import WorkCalendar

        sla = self.config.sla
        return WorkCalendar(
            extra_holidays=set(sla.extra_holidays), extra_working_days=set(sla.extra_working_days)
        )

    def pipeline(self, ctx: Context) -> Pipeline:
        """The case pipeline working in ``ctx``'s unit of work."""
        from community365.cases.pipeline import Pipeline

        return Pipeline(self, ctx)

    def audit(self, ctx: Context, action: str, subject: str = "", detail: str = "") -> None:
        audit(ctx, action, subject, detail)


def audit(ctx: Context, action: str, subject: str = "", detail: str = "") -> None:
    """Record in the audit log, in ``ctx``'s unit of work, that ``ctx.actor`` did ``action``
    (plugins call it for their own writes)."""
    ctx.connection.execute(
        insert(audit_log).values(
            at=ctx.now, actor=ctx.actor, action=action, subject=subject, detail=detail
        )
    )
