"""敬老 6789 Elder services by age band, and the elder canteen (老年食堂).

Bundled plugin, registered under the ``community365`` entry-point group as ``elder_meals``.
This release declares its settings and its migration branch; the services follow.
"""

from __future__ import annotations

from pathlib import Path

from community365 import MigrationBranch, hookimpl
from community365_elder_meals.settings import AgeBand, ElderMealsSettings

__all__ = ["AgeBand", "ElderMealsSettings"]


@hookimpl
def c365_settings_schema() -> type:
    return ElderMealsSettings


@hookimpl
def c365_migrations() -> MigrationBranch:
    return MigrationBranch(
        label="elder_meals", versions=Path(__file__).parent / "migrations" / "versions"
    )
