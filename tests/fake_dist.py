"""Plugin distributions written to disk the way pip writes them, for tests of discovery.

A distribution is a ``<name>-<version>.dist-info`` directory (``METADATA`` and an
``entry_points.txt`` with a ``[community365]`` section) beside the plugin's module, in a
directory put on ``sys.path``; ``importlib.metadata`` then finds it like any installed
package. Module names get a unique suffix so that ``sys.modules`` never serves one test's
plugin to another.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

_serial = itertools.count()


class FakeSite:
    """A site-packages directory on ``sys.path`` for the duration of one test."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.modules: list[str] = []
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(path))

    def install(
        self,
        name: str,
        source: str = "",
        *,
        files: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> str:
        """Install plugin ``name`` whose module is ``source``; return the module's name.

        ``files`` are more files of the plugin, as a package: paths relative to it.
        """
        module = f"c365_test_{name}_{next(_serial)}"
        if files:
            package = self.path / module
            package.mkdir()
            (package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
            for relative, text in files.items():
                target = package / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(textwrap.dedent(text), encoding="utf-8")
        else:
            (self.path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = self.path / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: {version}\n",
            encoding="utf-8",
        )
        (info / "entry_points.txt").write_text(
            f"[community365]\n{name} = {module}\n", encoding="utf-8"
        )
        self.modules.append(module)
        return module

    def forget_modules(self) -> None:
        for module in self.modules:
            for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
                del sys.modules[loaded]


def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """Body of a ``site`` fixture: a fresh site directory on ``sys.path``, whose plugin
    modules are unloaded afterwards."""
    fake = FakeSite(tmp_path / "site-packages", monkeypatch)
    yield fake
    fake.forget_modules()


# A plugin with a real table in its own Alembic branch, as an outside developer writes it.
TABLE_PLUGIN_INIT = """
    from pathlib import Path

    from community365 import MigrationBranch


    def c365_migrations():
        return MigrationBranch(label="{label}", versions=Path(__file__).parent / "versions")
"""

TABLE_PLUGIN_REVISION = """
    import sqlalchemy as sa
    from alembic import op

    revision = "{label}_0001"
    down_revision = None
    branch_labels = ("{label}",)
    depends_on = "c365_0001"


    def upgrade():
        op.create_table(
            "{label}_notes",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("text", sa.String(100), nullable=False),
        )
        {fail}


    def downgrade():
        op.drop_table("{label}_notes")
"""


def install_table_plugin(site: FakeSite, label: str, *, fails: bool = False) -> str:
    """Install plugin ``label`` whose branch ``label`` creates the table ``<label>_notes``;
    with ``fails``, its revision raises after creating the table."""
    fail = 'raise RuntimeError("boom")' if fails else ""
    revision = TABLE_PLUGIN_REVISION.format(label=label, fail=fail)
    return site.install(
        label,
        TABLE_PLUGIN_INIT.format(label=label),
        files={f"versions/{label}_0001.py": revision},
    )
