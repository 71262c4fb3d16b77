"""The plugin platform: discovery, call order, broken plugins, blame and rollback."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_dist import FakeSite, fake_site
from sqlalchemy import func, insert, select

from community365 import SLA, CaseDraft, CaseView, Context, PluginError, Problem, ServiceSpec
from community365.cli import cli
from community365.cli.init import create_district
from community365.config import render_new, set_enabled
from community365.db.schema import audit_log
from community365.district import District
from community365.plugins import PluginHost, hookimpl, installed_plugins, warn_broken
from community365_elder_meals import ElderMealsSettings
from community365_red_property import RedPropertySettings
from community365_timebank import TimebankSettings

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
BUNDLED = ("timebank", "elder_meals", "red_property")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    yield from fake_site(tmp_path, monkeypatch)


def spec(code: str) -> ServiceSpec:
    return ServiceSpec(code, f"{code}服务", code, "general", SLA(reply_minutes=5, resolve=3))


DRAFT = CaseDraft(channel="hotline", text="楼道灯坏了", received_at=NOW)
CASE = CaseView(
    ref="C-1",
    service="help",
    status="received",
    channel="hotline",
    area_code="330212",
    text="楼道灯坏了",
    received_at=NOW,
    reply_by=NOW + dt.timedelta(minutes=5),
    resolve_by=NOW + dt.timedelta(days=3),
)


class Recorder:
    """An in-process plugin: logs each call in a shared list and answers with its name."""

    def __init__(self, name: str, log: list[tuple[str, str]], *, classify: bool = True) -> None:
        self.name = name
        self.log = log
        self.answers_classify = classify

    def c365_services(self) -> list[ServiceSpec]:
        self.log.append((self.name, "services"))
        return [spec(f"{self.name}_help")]

    def c365_classify(self, draft: CaseDraft, services: list[ServiceSpec]) -> str | None:
        self.log.append((self.name, "classify"))
        return f"{self.name}_help" if self.answers_classify else None

    def c365_validate(self, draft: CaseDraft, service: ServiceSpec) -> list[Problem]:
        self.log.append((self.name, "validate"))
        return [Problem(field=self.name, message="checked")]


def write_district(root: Path, enabled: list[str]) -> Path:
    """A district directory with only its district.toml: enough for District.open."""
    root.mkdir(parents=True)
    (root / "district.toml").write_text(
        render_new("鄞州区", "330212", "sqlite:///district.db"), encoding="utf-8"
    )
    set_enabled(root, enabled)
    return root


def c365(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", "tester", *args])


# -- order --------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")])
def test_hooks_run_in_enabled_order(order: tuple[str, ...]) -> None:
    log: list[tuple[str, str]] = []
    plugins = {name: Recorder(name, log) for name in order}
    host = PluginHost.load([], {}, extra=[(name, plugins[name]) for name in order])
    catalogue = [s for _, s in host.services()]

    assert host.enabled == order
    assert [plugin for plugin, _ in host.services()] == list(order)
    assert [p.field for p in host.validate(DRAFT, catalogue[0])] == list(order)
    log.clear()
    assert host.classify(DRAFT, catalogue) == f"{order[0]}_help"
    assert log == [(order[0], "classify")], "a firstresult hook stops at the first answer"


def test_firstresult_passes_over_plugins_that_return_none() -> None:
    log: list[tuple[str, str]] = []
    host = PluginHost.load(
        [],
        {},
        extra=[
            ("quiet", Recorder("quiet", log, classify=False)),
            ("second", Recorder("second", log)),
            ("third", Recorder("third", log)),
        ],
    )
    catalogue = [s for _, s in host.services()]
    log.clear()
    assert host.classify(DRAFT, catalogue) == "second_help"
    assert log == [("quiet", "classify"), ("second", "classify")]


SERVICE_PLUGIN = """
    from community365 import SLA, ServiceSpec, hookimpl


    @hookimpl
    def c365_services():
        return [ServiceSpec("{name}_help", "{name}", "{name}", "general", SLA(5, 3))]


    @hookimpl
    def c365_classify(draft, services):
        return "{name}_help"
"""


def test_order_follows_district_toml_and_swaps_with_it(site: FakeSite, tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        site.install(name, SERVICE_PLUGIN.format(name=name))
    root = write_district(tmp_path / "district", ["alpha", "beta"])

    first = District.open(root)
    codes = [s.code for _, s in first.host.services()]
    assert codes == ["alpha_help", "beta_help"]
    assert first.host.classify(DRAFT, [s for _, s in first.host.services()]) == "alpha_help"

    set_enabled(root, ["beta", "alpha"])
    second = District.open(root)
    assert [s.code for _, s in second.host.services()] == ["beta_help", "alpha_help"]
    assert second.host.classify(DRAFT, [s for _, s in second.host.services()]) == "beta_help"


def test_extra_plugins_come_after_the_enabled_ones(site: FakeSite, tmp_path: Path) -> None:
    site.install("alpha", SERVICE_PLUGIN.format(name="alpha"))
    root = write_district(tmp_path / "district", ["alpha"])
    log: list[tuple[str, str]] = []
    district = District.open(root, extra_plugins=[("zeta", Recorder("zeta", log))])
    assert district.host.enabled == ("alpha", "zeta")
    assert [p for p, _ in district.host.services()] == ["alpha", "zeta"]


@pytest.mark.parametrize(
    "order",
    [list(BUNDLED), list(reversed(BUNDLED)), ["elder_meals", "timebank"]],
    ids=["listed", "reversed", "two"],
)
def test_bundled_plugins_load_through_entry_points_in_order(
    tmp_path: Path, order: list[str]
) -> None:
    installed = installed_plugins()
    for name in BUNDLED:
        assert installed[name].distribution == "community365"
        assert installed[name].target == f"community365_{name}"
    district = District.open(write_district(tmp_path / "district", order))

    assert district.host.enabled == tuple(order)
    assert list(district.host.settings_schemas()) == order
    assert list(district.host.migration_branches()) == order
    assert list(district.settings) == order
    expected = {
        "timebank": TimebankSettings,
        "elder_meals": ElderMealsSettings,
        "red_property": RedPropertySettings,
    }
    for name in order:
        assert type(district.settings[name]) is expected[name]

    listed = json.loads(c365(district.root, "plugins", "list", "--json").stdout)
    rest = sorted(set(installed) - set(order))
    assert [p["name"] for p in listed] == [*order, *rest]
    assert [p["enabled"] for p in listed] == [True] * len(order) + [False] * len(rest)


def test_installed_plugins_are_not_imported_until_enabled() -> None:
    probe = (
        "import json, sys\n"
        "from community365.plugins import installed_plugins\n"
        "found = installed_plugins()\n"
        "targets = {p.target.split(':')[0] for p in found.values()}\n"
        "print(json.dumps([sorted(found), sorted(targets & set(sys.modules))]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    names, imported = json.loads(out)
    assert set(BUNDLED) <= set(names)
    assert imported == []


# -- broken plugins -----------------------------------------------------------------------


def install_broken(site: FakeSite) -> None:
    site.install("badimport", "import no_such_module_c365\n")
    site.install("typo", "def c365_servics():\n    return []\n")


def test_broken_plugins_are_reported_by_name_and_the_rest_works(site: FakeSite) -> None:
    install_broken(site)
    site.install("alpha", SERVICE_PLUGIN.format(name="alpha"))
    site.install("badsig", "def c365_services(shop):\n    return []\n")
    host = PluginHost.load(["badimport", "typo", "ghost", "alpha", "badsig"])

    assert host.enabled == ("alpha",)
    assert list(host.broken) == ["badimport", "typo", "ghost", "badsig"]
    assert host.broken["badimport"] == (
        "cannot be imported: ModuleNotFoundError: No module named 'no_such_module_c365'"
    )
    assert host.broken["typo"] == "implements unknown hook c365_servics (misspelt?)"
    assert host.broken["ghost"] == "is enabled but not installed"
    assert host.broken["badsig"].startswith("cannot be registered:")
    assert "shop" in host.broken["badsig"]
    assert [s.code for _, s in host.services()] == ["alpha_help"]

    stream = io.StringIO()
    warn_broken(host, stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    for line, name in zip(lines, host.broken, strict=True):
        assert line.startswith(f"warning: plugin {name!r} ") and line.endswith("it is not active")


def test_hook_wrappers_are_refused() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def c365_services(self) -> Iterator[None]:
            return (yield)

    host = PluginHost.load([], {}, extra=[("wrapper", Wrapper())])
    assert host.enabled == ()
    assert host.broken["wrapper"].startswith("reorders c365_services (wrapper, tryfirst")


@pytest.mark.parametrize("option", ["tryfirst", "trylast"])
def test_tryfirst_and_trylast_are_refused(option: str) -> None:
    """The enabled list is the only ordering rule; a plugin may not jump the queue."""

    class Eager:
        @hookimpl(**{option: True})
        def c365_services(self) -> list[ServiceSpec]:
            return []

    class Plain:
        def c365_services(self) -> list[ServiceSpec]:
            return []

    host = PluginHost.load([], {}, extra=[("plain", Plain()), ("eager", Eager())])
    assert host.enabled == ("plain",)
    assert "order is the enabled list" in host.broken["eager"]


@pytest.fixture
def sqlite_district(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "district"
    create_district(root, name="鄞州区", code="330212", database="sqlite:///d.db", actor="t")
    yield root


def test_broken_plugins_in_the_cli(site: FakeSite, sqlite_district: Path) -> None:
    install_broken(site)
    root = sqlite_district
    set_enabled(root, ["badimport", "typo", "ghost", "timebank"])

    upgraded = c365(root, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "timebank: empty -> timebank_0003" in upgraded.stdout
    warnings = upgraded.stderr.splitlines()
    assert warnings == [
        "warning: plugin 'badimport' cannot be imported: ModuleNotFoundError: "
        "No module named 'no_such_module_c365'; it is not active",
        "warning: plugin 'typo' implements unknown hook c365_servics (misspelt?); it is not active",
        "warning: plugin 'ghost' is enabled but not installed; it is not active",
    ]

    tree = c365(root, "area", "tree")
    assert tree.exit_code == 0, tree.output
    assert "鄞州区" in tree.stdout
    assert tree.stderr.splitlines() == warnings

    table = c365(root, "plugins", "list")
    assert table.exit_code == 0, table.output
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "enabled BROKEN" in rows["badimport"] and "no_such_module_c365" in rows["badimport"]
    assert "enabled BROKEN" in rows["typo"] and "c365_servics" in rows["typo"]
    assert "enabled BROKEN" in rows["ghost"] and "not installed" in rows["ghost"]
    assert "BROKEN" not in rows["timebank"] and "settings_schema" in rows["timebank"]
    assert "disabled" in rows["elder_meals"]

    listed = {p["name"]: p for p in json.loads(c365(root, "plugins", "list", "--json").stdout)}
    assert listed["typo"]["broken"] == "implements unknown hook c365_servics (misspelt?)"
    assert listed["badimport"]["broken"].startswith("cannot be imported: ModuleNotFoundError")
    assert listed["ghost"] == {
        "name": "ghost",
        "enabled": True,
        "version": "-",
        "distribution": "-",
        "hooks": [],
        "broken": "is enabled but not installed",
    }
    assert listed["timebank"]["broken"] is None
    assert listed["timebank"]["hooks"] == [
        "c365_case_transition",
        "c365_cli_commands",
        "c365_daily_tasks",
        "c365_metrics",
        "c365_migrations",
        "c365_propose_handlers",
        "c365_services",
        "c365_settings_schema",
    ]


def test_a_broken_plugin_is_not_enabled(site: FakeSite, sqlite_district: Path) -> None:
    install_broken(site)
    before = (sqlite_district / "district.toml").read_bytes()
    for name, reason in [("typo", "c365_servics"), ("badimport", "no_such_module_c365")]:
        result = c365(sqlite_district, "plugins", "enable", name)
        assert result.exit_code == 2
        assert result.output.startswith(f"error: plugin {name!r} ")
        assert reason in result.output and result.output.strip().endswith("not enabled")
        assert len(result.output.splitlines()) == 1
    assert (sqlite_district / "district.toml").read_bytes() == before


# -- a plugin that raises -----------------------------------------------------------------


class Raiser:
    def c365_services(self) -> list[ServiceSpec]:
        raise RuntimeError("boom")

    def c365_validate(self, draft: CaseDraft, service: ServiceSpec) -> list[Problem]:
        raise RuntimeError("boom")

    def c365_case_received(self, case: CaseView, ctx: object) -> None:
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("hook", "call"),
    [
        ("c365_services", lambda host: host.services()),
        ("c365_validate", lambda host: host.validate(DRAFT, spec("help"))),
        ("c365_case_received", lambda host: host.case_received(CASE, None)),
    ],
)
def test_a_raise_names_the_plugin_and_the_hook(
    hook: str, call: Callable[[PluginHost], object]
) -> None:
    log: list[tuple[str, str]] = []
    host = PluginHost.load([], {}, extra=[("first", Recorder("first", log)), ("bad", Raiser())])
    with pytest.raises(PluginError) as info:
        call(host)
    assert str(info.value) == f"plugin 'bad' failed in {hook}: RuntimeError: boom"
    assert (info.value.plugin, info.value.hook) == ("bad", hook)
    assert isinstance(info.value.__cause__, RuntimeError)


class Flaky:
    """Two instances of one class: blame must tell them apart."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def c365_case_received(self, case: CaseView, ctx: object) -> None:
        if self.fails:
            raise ValueError("no")


@pytest.mark.parametrize("failing", ["one", "two"])
def test_blame_tells_instances_of_one_class_apart(failing: str) -> None:
    plugins = [(name, Flaky(fails=name == failing)) for name in ("one", "two")]
    host = PluginHost.load([], {}, extra=plugins)
    with pytest.raises(PluginError) as info:
        host.case_received(CASE, None)
    assert info.value.plugin == failing


class Writer:
    def c365_case_received(self, case: CaseView, ctx: Context) -> None:
        ctx.connection.execute(
            insert(audit_log).values(at=ctx.now, actor=ctx.actor, action="writer.saw")
        )


class RaisesOnReceipt:
    def c365_case_received(self, case: CaseView, ctx: object) -> None:
        raise RuntimeError("boom")


def test_a_district_with_a_failing_catalogue_does_not_open(district: District) -> None:
    with pytest.raises(PluginError) as info:
        District.open(district.root, extra_plugins=[("bad", Raiser())])
    assert (info.value.plugin, info.value.hook) == ("bad", "c365_services")


def test_a_raise_inside_begin_rolls_back_the_unit_of_work(district: District) -> None:
    plugged = District.open(
        district.root,
        actor="tester",
        clock=lambda: NOW,
        extra_plugins=[("writer", Writer()), ("bad", RaisesOnReceipt())],
    )
    count = select(func.count()).select_from(audit_log)
    with plugged.engine.connect() as conn:
        before = conn.execute(count).scalar_one()

    with pytest.raises(PluginError) as info, plugged.begin() as ctx:
        plugged.audit(ctx, "case.intake", "C-1")
        plugged.host.case_received(CASE, ctx)
        ctx.connection.execute(count)  # the transaction is still usable up to the raise
    assert (info.value.plugin, info.value.hook) == ("bad", "c365_case_received")

    with plugged.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before
        actions = set(conn.execute(select(audit_log.c.action)).scalars())
    assert not actions & {"case.intake", "writer.saw"}

    with plugged.begin() as ctx:  # without the raiser, the same work commits
        plugged.audit(ctx, "case.intake", "C-2")
    with plugged.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before + 1
    plugged.engine.dispose()
