"""红色物业 Red property management: a community-led property service for old compounds.

Bundled plugin, registered under the ``community365`` entry-point group as ``red_property``.
This release declares its settings and its migration branch; fees and repairs follow.
"""

from __future__ import annotations

from pathlib import Path

from community365 import MigrationBranch, hookimpl
from community365_red_property.settings import FeeItem, RedPropertySettings

__all__ = ["FeeItem", "RedPropertySettings"]


@hookimpl
def c365_settings_schema() -> type:
    return RedPropertySettings


@hookimpl
def c365_migrations() -> MigrationBranch:
    return MigrationBranch(
        label="red_property", versions=Path(__file__).parent / "migrations" / "versions"
    )
