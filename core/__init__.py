"""community365: a plugin framework for community services (社区服务365).

The public API. Plugins need :data:`hookimpl`, the value classes and the errors; tools
that drive a district from Python use :class:`District` and the registry functions.
Heavy parts (the database layer) are imported on first use, so that a plugin importing
``hookimpl`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from community365.errors import (
    C365Error,
    ConfigError,
    DatabaseError,
    ImportRowsError,
    NotFound,
    PluginError,
    UsageError,
)
from community365.plugins import hookimpl
from community365.values import (
    CHANNELS,
    SLA,
    AreaView,
    Candidate,
    CaseDraft,
    CaseView,
    Channel,
    Context,
    DailyTask,
    Deadlines,
    Metric,
    MigrationBranch,
    Period,
    PersonRef,
    Problem,
    Rating,
    ServiceSpec,
    Transition,
)

if TYPE_CHECKING:
    from community365.district import District

__version__ = "0.1.0"

_LAZY = {"District": "community365.district"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'community365' has no attribute {name!r}")


__all__ = [
    "CHANNELS",
    "SLA",
    "AreaView",
    "C365Error",
    "Candidate",
    "CaseDraft",
    "CaseView",
    "Channel",
    "ConfigError",
    "Context",
    "DailyTask",
    "DatabaseError",
    "Deadlines",
    "District",
    "ImportRowsError",
    "Metric",
    "MigrationBranch",
    "NotFound",
    "Period",
    "PersonRef",
    "PluginError",
    "Problem",
    "Rating",
    "ServiceSpec",
    "Transition",
    "UsageError",
    "__version__",
    "hookimpl",
]
