"""The out-of-tree example plugin (examples/plugin_hello), installed the way a district would.

A real ``pip install`` into a fresh virtualenv is too slow for the suite, so the fixture
does what the installer leaves behind: a ``*.dist-info`` directory whose METADATA and
entry_points.txt come from the example's own pyproject.toml, and the example's source
directory, both on ``sys.path``. ``importlib.metadata`` then finds the plugin exactly as it
finds an installed one. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from community365.cli import cli
from community365.config import load
from community365.district import District

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin_hello"


@pytest.fixture
def hello(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install the example plugin for this test; return its ``[project]`` table."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path_factory.mktemp("site-packages")
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    monkeypatch.syspath_prepend(str(site))
    return project


@pytest.fixture
def root(hello: Any, make_district: Callable[..., District]) -> Path:
    """A district (root area 330212) with the plugin installed but not enabled."""
    district = make_district()
    district.engine.dispose()
    return district.root


def c365(root: Path, *args: str, actor: str = "tester") -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", actor, *args])


def add_settings(root: Path, text: str) -> None:
    path = root / "district.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def tables(root: Path) -> set[str]:
    district = District.open(root)
    try:
        return set(inspect(district.engine).get_table_names())
    finally:
        district.engine.dispose()


def test_listed_as_installed_not_enabled(root: Path, hello: Any) -> None:
    result = c365(root, "plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["hello"] == {
        "name": "hello",
        "enabled": False,
        "version": hello["version"],
        "distribution": hello["name"],
        "hooks": ["c365_cli_commands", "c365_migrations", "c365_settings_schema"],
        "broken": None,
    }
    # Installed is not active: its command appears only once it is enabled.
    assert c365(root, "hello", "list").exit_code == 2
    assert "hello_offers" not in tables(root)


def test_enable_migrates_its_branch(root: Path) -> None:
    result = c365(root, "plugins", "enable", "hello")
    assert result.exit_code == 0, result.output
    assert load(root).enabled == ("hello",)
    assert "hello_offers" in tables(root)
    status = {s["label"]: s for s in json.loads(c365(root, "db", "status", "--json").output)}
    assert status["hello"]["current"] == status["hello"]["head"] == "hello_0001"
    assert status["hello"]["enabled"] is True
    assert "hello" in c365(root, "--help").output


def test_bad_settings_stop_enable_and_change_nothing(root: Path) -> None:
    add_settings(root, '[plugins.hello]\nmax_offers = "three"\n')
    result = c365(root, "plugins", "enable", "hello")
    assert result.exit_code == 2
    assert result.output == "error: plugins.hello.max_offers: expected int, got str 'three'\n"
    assert load(root).enabled == ()
    assert "hello_offers" not in tables(root)


def test_settings_are_checked_by_every_command(root: Path) -> None:
    assert c365(root, "plugins", "enable", "hello").exit_code == 0
    toml = (root / "district.toml").read_text(encoding="utf-8")
    add_settings(root, "[plugins.hello]\nmax_offer = 2\n")
    result = c365(root, "hello", "list")
    assert result.exit_code == 2
    assert result.output.startswith("error: plugins.hello.max_offer: unknown key (known keys:")
    assert "max_offers" in result.output
    (root / "district.toml").write_text(toml, encoding="utf-8")
    add_settings(root, "[plugins.hello]\nmax_offers = 0\n")  # the class's own validator
    result = c365(root, "area", "tree")
    assert result.exit_code == 2
    assert result.output == "error: plugins.hello: 'max_offers' must be >= 1: 0\n"


def test_offer_and_board(root: Path) -> None:
    add_settings(root, '[plugins.hello]\nmax_offers = 1\nboard_name = "百丈邻里互助"\n')
    assert c365(root, "plugins", "enable", "hello").exit_code == 0
    assert c365(root, "area", "add", "330212001", "百丈街道").exit_code == 0
    assert c365(root, "area", "add", "330212002", "东胜街道").exit_code == 0

    posted = c365(root, "hello", "offer", "330212001", "张阿姨", "借梯子", actor="网格员小王")
    assert posted.exit_code == 0, posted.output
    assert "百丈邻里互助" in posted.output
    board = json.loads(c365(root, "hello", "list", "--json").output)
    assert [(o["area_code"], o["neighbour"], o["what"], o["offered_by"]) for o in board] == [
        ("330212001", "张阿姨", "借梯子", "网格员小王")
    ]
    assert json.loads(c365(root, "hello", "list", "330212002", "--json").output) == []

    again = c365(root, "hello", "offer", "330212001", "张阿姨", "修水管")
    assert again.exit_code == 2
    assert again.output.startswith("error: neighbour: 张阿姨 already has 1 offer(s) in 330212001")
    unknown = c365(root, "hello", "offer", "330299", "李师傅", "修水管")
    assert unknown.output == "error: no area with code '330299'\n" and unknown.exit_code == 2
    assert len(json.loads(c365(root, "hello", "list", "--json").output)) == 1

    audit = json.loads(c365(root, "audit", "list", "--action", "hello.offer", "--json").output)
    assert [(a["actor"], a["subject"]) for a in audit] == [("网格员小王", "330212001")]
