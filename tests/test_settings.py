"""Plugin settings: ``[plugins.<name>]`` tables structured strictly, errors naming the key."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from community365.cli import cli
from community365.cli.init import create_district
from community365.config import render_new
from community365.district import District
from community365.errors import ConfigError
from community365.settings import structure
from community365_elder_meals import AgeBand, ElderMealsSettings
from community365_timebank import TimebankSettings

TIMEBANK_KEYS = [a.name for a in attrs.fields(TimebankSettings)]


def problem(data: dict[str, Any], cls: type = TimebankSettings, path: str = "plugins.timebank"):
    with pytest.raises(ConfigError) as info:
        structure(data, cls, path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_tables_are_structured() -> None:
    assert structure({}, TimebankSettings, "plugins.timebank") == TimebankSettings()
    settings = structure(
        {"daily_cap_hours": "7.5", "storage_cap_hours": 1000, "round_to_minutes": 30},
        TimebankSettings,
        "plugins.timebank",
    )
    assert settings.daily_cap_hours == Decimal("7.5")
    assert settings.storage_cap_hours == Decimal("1000")
    assert settings.round_to_minutes == 30
    meals = structure(
        {
            "bands": [{"min_age": 75, "name": "75岁以上", "benefits": ["lunch_subsidy"]}],
            "lunch_price": 9.9,
        },
        ElderMealsSettings,
        "plugins.elder_meals",
    )
    assert meals.bands == (AgeBand(75, "75岁以上", ("lunch_subsidy",)),)
    assert meals.lunch_price == Decimal("9.9")


def test_unknown_key_names_it_and_lists_the_known_ones() -> None:
    message = problem({"daily_cap_hours": 6, "foo": 1})
    assert message == (
        "plugins.timebank.foo: unknown key (known keys: " + ", ".join(TIMEBANK_KEYS) + ")"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"round_to_minutes": "15"},
            "plugins.timebank.round_to_minutes: expected int, got str '15'",
        ),
        ({"round_to_minutes": 7.5}, "plugins.timebank.round_to_minutes: expected int, got float"),
        ({"own_use_min_age": True}, "plugins.timebank.own_use_min_age: expected int, got bool"),
        ({"daily_cap_hours": "eight"}, "plugins.timebank.daily_cap_hours: expected a decimal"),
        ({"daily_cap_hours": "NaN"}, "plugins.timebank.daily_cap_hours: expected a finite"),
        ({"daily_cap_hours": "-Infinity"}, "plugins.timebank.daily_cap_hours: expected a finite"),
        ({"daily_cap_hours": False}, "plugins.timebank.daily_cap_hours: expected a decimal"),
        ({"daily_cap_hours": [8]}, "plugins.timebank.daily_cap_hours: expected a decimal"),
        ({"daily_cap_hours": dt.date(2026, 1, 1)}, "plugins.timebank.daily_cap_hours: expected"),
    ],
)
def test_wrong_type_names_the_key(data: dict[str, Any], expected: str) -> None:
    assert problem(data).startswith(expected)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"open_every_day": 1.0}, "plugins.elder_meals.open_every_day: expected bool"),
        ({"open_every_day": "yes"}, "plugins.elder_meals.open_every_day: expected bool"),
        ({"lunch_price": "12元"}, "plugins.elder_meals.lunch_price: expected a decimal number"),
        ({"bands": "60,70,80"}, "plugins.elder_meals.bands: expected a list, got str"),
        ({"bands": {"min_age": 60}}, "plugins.elder_meals.bands: expected a list, got dict"),
        ({"bands": [60, 70]}, "plugins.elder_meals.bands[0]: expected a table, got int 60"),
    ],
)
def test_wrong_type_in_elder_meals(data: dict[str, Any], expected: str) -> None:
    assert problem(data, ElderMealsSettings, "plugins.elder_meals").startswith(expected)


def test_nested_lists_of_tables_give_the_index() -> None:
    bands = [
        {"min_age": 60, "name": "60岁以上"},
        {"min_age": "70", "name": 70},
        {"min_age": 80, "name": "80岁以上", "benefits": ["gifts", 3]},
        {"min_age": 90, "nmae": "90岁以上"},
    ]
    message = problem({"bands": bands}, ElderMealsSettings, "plugins.elder_meals")
    assert message.split("; ") == [
        "plugins.elder_meals.bands[1].min_age: expected int, got str '70'",
        "plugins.elder_meals.bands[1].name: expected str, got int 70",
        "plugins.elder_meals.bands[2].benefits[1]: expected str, got int 3",
        "plugins.elder_meals.bands[3].name: required key is missing",
        "plugins.elder_meals.bands[3].nmae: unknown key (known keys: min_age, name, benefits)",
    ]


def test_a_missing_required_key_is_named() -> None:
    message = problem({"bands": [{"min_age": 60}]}, ElderMealsSettings, "plugins.elder_meals")
    assert message == "plugins.elder_meals.bands[0].name: required key is missing"


def test_a_table_is_required() -> None:
    not_a_table: Any = 8
    assert problem(not_a_table) == "plugins.timebank: expected a table, got int"


@st.composite
def tables_with_unknown_keys(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    values = st.one_of(
        st.integers(), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False)
    )
    unknown = draw(
        st.sets(
            st.text(min_size=1, max_size=12).filter(lambda k: k not in TIMEBANK_KEYS),
            min_size=1,
            max_size=3,
        )
    )
    known = draw(st.dictionaries(st.sampled_from(TIMEBANK_KEYS), values, max_size=3))
    return {**known, **{key: draw(values) for key in unknown}}, unknown


@given(tables_with_unknown_keys())
def test_any_unknown_key_is_rejected_by_name(case: tuple[dict[str, Any], set[str]]) -> None:
    data, unknown = case
    with pytest.raises(ConfigError) as info:
        structure(data, TimebankSettings, "plugins.timebank")
    message = str(info.value)
    assert "\n" not in message
    for key in unknown:
        shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)
        assert f"plugins.timebank.{shown}: unknown key (known keys: " in message
    assert message.count(": unknown key (known keys: ") == len(unknown)


# -- at start-up and through the CLI ------------------------------------------------------


def write_config(root: Path, enabled: str, tables: str) -> None:
    text = render_new("鄞州区", "330212", "sqlite:///district.db")
    text = text.replace("enabled = []", f"enabled = {enabled}")
    (root / "district.toml").write_text(text + tables, encoding="utf-8")


def test_settings_of_a_plugin_not_enabled_are_not_validated(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '["timebank"]',
        "\n[plugins.timebank]\ndaily_cap_hours = 6\n"
        '\n[plugins.elder_meals]\nlunch_price = "free"\nno_such_key = 1\n',
    )
    district = District.open(tmp_path)
    assert district.settings == {"timebank": TimebankSettings(daily_cap_hours=Decimal("6"))}

    write_config(tmp_path, '["timebank", "elder_meals"]', "\n[plugins.elder_meals]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"^plugins\.elder_meals\.x: unknown key"):
        District.open(tmp_path)


def test_bad_settings_through_the_cli_exit_2_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "district"
    create_district(root, name="鄞州区", code="330212", database="sqlite:///d.db", actor="t")
    text = (root / "district.toml").read_text(encoding="utf-8")
    bad = text.replace("enabled = []", 'enabled = ["timebank"]') + (
        '\n[plugins.timebank]\ndaily_cap_hours = "eight"\n'
    )
    (root / "district.toml").write_text(bad, encoding="utf-8")
    runner = CliRunner()
    for args in (["area", "tree"], ["db", "status"], ["db", "upgrade"]):
        result = runner.invoke(cli, ["--district", str(root), *args])
        assert result.exit_code == 2, result.output
        assert result.output == (
            "error: plugins.timebank.daily_cap_hours: expected a decimal number, got str 'eight'\n"
        )
