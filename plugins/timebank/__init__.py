"""时间银行 Time bank: volunteers deposit hours of service and withdraw them when they need help.

Bundled plugin, registered under the ``community365`` entry-point group as ``timebank``.
This release declares its settings and its migration branch; the ledger follows.
"""

from __future__ import annotations

from pathlib import Path

from community365 import MigrationBranch, hookimpl
from community365_timebank.settings import TimebankSettings

__all__ = ["TimebankSettings"]


@hookimpl
def c365_settings_schema() -> type:
    return TimebankSettings


@hookimpl
def c365_migrations() -> MigrationBranch:
    return MigrationBranch(
        label="timebank", versions=Path(__file__).parent / "migrations" / "versions"
    )
