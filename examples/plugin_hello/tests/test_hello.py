"""Tests of the hello plugin, run against the installed package like a district runs it.

    pip install -e '.[test]'
    pytest tests

Each test makes a new district on a SQLite file in a temporary directory and drives it
through the ``c365`` command line, in process, with click's test runner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from community365.cli import cli


def c365(root: Path, *args: str, actor: str = "tester") -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", actor, *args])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A new district with one community, and the hello plugin enabled."""
    root = tmp_path / "district"
    made = CliRunner().invoke(cli, ["init", str(root), "--name", "测试区", "--code", "330212"])
    assert made.exit_code == 0, made.output
    assert c365(root, "area", "add", "330212001", "测试街道").exit_code == 0
    enabled = c365(root, "plugins", "enable", "hello")
    assert enabled.exit_code == 0, enabled.output
    return root


def test_offer_is_on_the_board(root: Path) -> None:
    posted = c365(root, "hello", "offer", "330212001", "张阿姨", "借梯子", actor="网格员")
    assert posted.exit_code == 0, posted.output
    board = json.loads(c365(root, "hello", "list", "--json").output)
    assert [(o["neighbour"], o["what"], o["offered_by"]) for o in board] == [
        ("张阿姨", "借梯子", "网格员")
    ]


def test_max_offers_comes_from_the_settings(root: Path) -> None:
    toml = root / "district.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[plugins.hello]\nmax_offers = 1\n")
    assert c365(root, "hello", "offer", "330212001", "张阿姨", "借梯子").exit_code == 0
    second = c365(root, "hello", "offer", "330212001", "张阿姨", "修水管")
    assert second.exit_code == 2
    assert second.output.startswith("error: neighbour: 张阿姨 already has 1 offer(s)")
