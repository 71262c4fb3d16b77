"""district.toml: strict reading with errors that say where, and edits that keep every comment."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from community365.cli import cli
from community365.cli.init import create_district
from community365.config import find_root, load, render_new, set_enabled
from community365.db.schema import audit_log
from community365.district import District
from community365.errors import ConfigError
from community365.plugins import installed_plugins

GOOD = render_new("鄞州区", "330212", "sqlite:///district.db")


def write(root: Path, text: str, encoding: str = "utf-8") -> Path:
    path = root / "district.toml"
    path.write_bytes(text.encode(encoding))
    return path


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(root)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_template_loads(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    config = load(tmp_path)
    assert (config.district.name, config.district.code) == ("鄞州区", "330212")
    assert config.district.timezone == "Asia/Shanghai"
    assert config.enabled == ()
    assert [level.key for level in config.areas.levels][:3] == ["district", "street", "community"]


def test_a_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai'))
    line = GOOD.splitlines().index('timezone = "Asia/Shanghai"') + 1
    message = error_of(tmp_path)
    assert message.startswith(f"{path}: ")
    assert f"line {line}" in message


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, encoding="gbk")  # 鄞州区 saved by a GBK editor
    assert error_of(tmp_path).startswith(f"{path}: not UTF-8")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, "\ufeff" + GOOD)
    assert load(tmp_path).district.name == "鄞州区"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[plugins]\nenabled = []\n", "district.toml: missing section [district]"),
        (
            GOOD + "\n[plugin]\nenabled = []\n",
            "district.toml: unknown section [plugin] (known: district, areas, plugins, sla, "
            "services)",
        ),
        (
            GOOD.replace('code = "330212"', "code = 330212"),
            "district.code: expected str, got int 330212",
        ),
        (
            GOOD.replace('name = "鄞州区"', "name = 1.5"),
            "district.name: expected str, got float 1.5",
        ),
        (GOOD.replace('name = "鄞州区"\n', ""), "district.name: required key is missing"),
        (
            GOOD.replace("[district]\n", "[district]\nnmae = 'x'\n"),
            "district.nmae: unknown key (known keys: name, code, timezone, database)",
        ),
        (GOOD.replace("[district]", "district = 3\n[x]"), "district.toml: unknown section [x]"),
        (
            GOOD.replace("enabled = []", 'enabled = "timebank"'),
            "plugins.enabled: expected a list of plugin names",
        ),
        (
            GOOD.replace("enabled = []", 'enabled = ["timebank", "timebank"]'),
            "plugins.enabled: a plugin is listed twice",
        ),
        (
            GOOD.replace("enabled = []", "enabled = []\ntimebank = 8"),
            "plugins.timebank: expected a table of settings",
        ),
        ('sla = "fast"\n' + GOOD, "sla: expected a table"),
        (
            GOOD + '\n[areas]\nlevels = [{key = "district", name = "区", digits = 9}]\n',
            "areas.levels[0].digits: expected 1 to 6, got 9",
        ),
    ],
    ids=[
        "no-district",
        "unknown-section",
        "code-int",
        "name-float",
        "name-missing",
        "unknown-key",
        "district-not-table",
        "enabled-string",
        "enabled-twice",
        "plugin-table-scalar",
        "sla-string",
        "level-digits",
    ],
)
def test_invalid_config_is_one_line_naming_it(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    assert error_of(tmp_path).startswith(expected)


def test_a_bad_config_through_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from community365.cli import cli

    path = write(tmp_path, GOOD.replace('code = "330212"', "code = 330212"))
    result = CliRunner().invoke(cli, ["--district", str(tmp_path), "area", "tree"])
    assert result.exit_code == 2
    assert result.output == "error: district.code: expected str, got int 330212\n"

    path.write_text(GOOD + "\n[[district]]\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--district", str(tmp_path), "db", "status"])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: ") and "line" in result.output
    assert len(result.output.splitlines()) == 1


def test_the_root_is_found_upwards_or_named(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert find_root(inner) == tmp_path.resolve()
    elsewhere = tmp_path / "a"
    (tmp_path / "district.toml").unlink()
    with pytest.raises(ConfigError, match=r"no district\.toml in .* or above; run 'c365 init"):
        find_root(elsewhere)


# -- editing ------------------------------------------------------------------------------

COMMENTED = """\
# 鄞州区 district.toml — edited by hand; 注释必须保留 keep every comment

[district]
name = "鄞州区"          # 区名 the district
code = "330212"
timezone = "Asia/Shanghai"
database = "{database}"   # 数据库

# ---- plugins 插件 ----
[plugins]
# 顺序即调用顺序: the order is the call order
enabled = []   # none yet

  [plugins.timebank]     # an indented table
  daily_cap_hours = 6    # 每日上限

[sla]
# nothing yet
"""

ENABLED = re.compile(r"^enabled = \[[^\]]*\]", re.M)


def outside_array(text: str) -> tuple[str, str]:
    match = ENABLED.search(text)
    assert match, text
    return text[: match.start()], text[match.end() :]


def enabled_in(path: Path) -> list[str]:
    return tomllib.loads(path.read_text(encoding="utf-8-sig"))["plugins"]["enabled"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "bom"])
def test_set_enabled_keeps_everything_outside_the_array(
    tmp_path: Path, newline: str, bom: str
) -> None:
    text = bom + COMMENTED.format(database="sqlite:///district.db").replace("\n", newline)
    path = tmp_path / "district.toml"
    path.write_bytes(text.encode("utf-8"))
    for names in (["timebank"], ["elder_meals", "timebank"], ["timebank", "elder_meals"], []):
        set_enabled(tmp_path, names)
        after = path.read_bytes().decode("utf-8")
        assert outside_array(after) == outside_array(text)
        assert enabled_in(path) == names
        assert load(tmp_path).enabled == tuple(names)


def test_set_enabled_adds_a_missing_plugins_table(tmp_path: Path) -> None:
    text = '[district]\nname = "鄞州区"\ncode = "330212"  # 代码\n'
    path = write(tmp_path, text)
    set_enabled(tmp_path, ["timebank"])
    after = path.read_text(encoding="utf-8")
    assert after.startswith(text)
    assert load(tmp_path).enabled == ("timebank",)


def commented_district(root: Path, database: str = "sqlite:///district.db") -> Path:
    path = root / "district.toml"
    path.write_text(COMMENTED.format(database=database), encoding="utf-8")
    return path


def c365(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", "俞书记", *args])


def test_enable_and_disable_keep_the_layout_migrate_and_keep_the_branch(
    run: Callable[..., Result], district: District
) -> None:
    path = commented_district(district.root, load(district.root).district.database)
    original = path.read_text(encoding="utf-8")

    def timebank() -> dict[str, object]:
        rows = json.loads(run("db", "status", "--json").stdout)
        return next(r for r in rows if r["label"] == "timebank")

    assert timebank()["current"] is None
    steps = [
        ("enable", "timebank", ["timebank"]),
        ("enable", "elder_meals", ["timebank", "elder_meals"]),
        ("disable", "timebank", ["elder_meals"]),
        ("enable", "timebank", ["elder_meals", "timebank"]),
        ("disable", "elder_meals", ["timebank"]),
    ]
    for action, name, expected in steps:
        result = run("plugins", action, name, actor="俞书记")
        assert result.exit_code == 0, result.output
        assert result.output == f"{action}d {name}; order: {', '.join(expected)}\n"
        assert enabled_in(path) == expected
        assert outside_array(path.read_text(encoding="utf-8")) == outside_array(original)
        status = timebank()
        assert (status["current"], status["head"]) == ("timebank_0003", "timebank_0003")
        assert status["enabled"] is ("timebank" in expected)
        assert run("area", "tree").exit_code == 0  # current for what is enabled

    assert run("plugins", "enable", "timebank").output == "plugin timebank is already enabled\n"
    assert path.read_text(encoding="utf-8").count("timebank") == original.count("timebank") + 1
    with district.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.subject, audit_log.c.actor)
            .where(audit_log.c.action.like("plugin.%"))
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [(f"plugin.{a}", n, "俞书记") for a, n, _ in steps]


def test_enabling_an_unknown_plugin_lists_the_installed_ones(tmp_path: Path) -> None:
    path = commented_district(tmp_path)
    before = path.read_bytes()
    installed = ", ".join(installed_plugins())

    result = c365(tmp_path, "plugins", "enable", "timebnak")
    assert result.exit_code == 2
    assert result.output == (
        f"error: no plugin named 'timebnak' is installed (installed: {installed})\n"
    )
    assert path.read_bytes() == before

    disabled = c365(tmp_path, "plugins", "disable", "timebnak")
    assert disabled.exit_code == 2 and "installed: " in disabled.output
    not_enabled = c365(tmp_path, "plugins", "disable", "red_property")
    assert not_enabled.exit_code == 0
    assert not_enabled.output == "plugin red_property is not enabled\n"
    assert path.read_bytes() == before
    assert not (tmp_path / "district.db").exists()


def test_enabling_a_plugin_with_bad_settings_changes_nothing(tmp_path: Path) -> None:
    path = commented_district(tmp_path)
    text = path.read_text(encoding="utf-8").replace("daily_cap_hours = 6", 'daily_cap_hours = "6h"')
    path.write_text(text, encoding="utf-8")

    result = c365(tmp_path, "plugins", "enable", "timebank")
    assert result.exit_code == 2
    assert result.output == (
        "error: plugins.timebank.daily_cap_hours: expected a decimal number, got str '6h'\n"
    )
    assert path.read_text(encoding="utf-8") == text
    assert not (tmp_path / "district.db").exists(), "settings are checked before migrating"


def test_unknown_timezone_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "district.toml").write_text(
        '[district]\nname = "x"\ncode = "330212"\ntimezone = "Mars/Base"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"^district.timezone: unknown time zone 'Mars/Base'"):
        load(tmp_path)


def test_district_code_must_be_six_digits(tmp_path: Path) -> None:
    (tmp_path / "district.toml").write_text(
        '[district]\nname = "x"\ncode = "33021"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"^district.code: expected a 6-digit"):
        load(tmp_path)


def test_settings_table_of_a_plugin_not_installed_is_an_error(tmp_path: Path) -> None:
    """A misspelt plugin table would otherwise be ignored without a word."""
    root = tmp_path / "d"
    create_district(root, name="x", code="330212", database="sqlite:///d.db", actor="t")
    with (root / "district.toml").open("a", encoding="utf-8") as f:
        f.write("\n[plugins.timbank]\ndaily_cap_hours = 4\n")
    result = CliRunner().invoke(cli, ["--district", str(root), "area", "tree"])
    assert result.exit_code == 2
    assert result.output.startswith("error: plugins.timbank: no plugin named 'timbank'")
