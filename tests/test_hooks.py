"""One test per hook of community365.hookspecs, through PluginHost's typed method.

Each test checks what the hook's docstring promises: who is called, in which order, what
is collected or where the calling stops. ``test_every_hook_has_a_test`` keeps this module
complete.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner, Result
from fake_dist import FakeSite, fake_site, install_table_plugin
from sqlalchemy import MetaData, Table, func, insert, select
from sqlalchemy import inspect as sa_inspect

from community365 import (
    SLA,
    AreaView,
    Candidate,
    CaseDraft,
    CaseView,
    ConfigError,
    Context,
    DailyTask,
    Deadlines,
    Metric,
    MigrationBranch,
    Period,
    PluginError,
    Problem,
    Rating,
    ServiceSpec,
    Transition,
    hookspecs,
)
from community365.cli import cli
from community365.cli.init import create_district
from community365.config import set_enabled
from community365.db.schema import areas, audit_log
from community365.district import District
from community365.plugins import PluginHost

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
DRAFT = CaseDraft(channel="hotline", text="楼道灯坏了", received_at=NOW, area_code="330212")
CASE = CaseView(
    ref="C-1",
    service="repair",
    status="received",
    channel="hotline",
    area_code="330212",
    text="楼道灯坏了",
    received_at=NOW,
    reply_by=NOW + dt.timedelta(minutes=5),
    resolve_by=NOW + dt.timedelta(days=3),
)
AREA = AreaView(code="330212", name="鄞州区", level="district", parent_code=None)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    yield from fake_site(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    """One migrated SQLite district for the hooks that run inside a transaction.

    What they promise does not depend on the backend; rollback and migrations, which do,
    are tested on both (test_plugins.py, test_hook_migrations).
    """
    root = tmp_path_factory.mktemp("hooks") / "district"
    create_district(root, name="鄞州区", code="330212", database="sqlite:///d.db", actor="t")
    district = District.open(root, actor="tester")
    yield district
    district.engine.dispose()


def spec(code: str) -> ServiceSpec:
    return ServiceSpec(code, f"{code}服务", code, "general", SLA(reply_minutes=5, resolve=3))


def host_of(*plugins: tuple[str, Any]) -> PluginHost:
    host = PluginHost.load([], {}, extra=plugins)
    assert host.enabled == tuple(name for name, _ in plugins) and not host.broken
    return host


def plug(**hooks: Any) -> Any:
    """An in-process plugin whose hook implementations are the given functions."""
    return type("Plugin", (), {f"c365_{k}": staticmethod(f) for k, f in hooks.items()})


def opened(district: District, *plugins: tuple[str, Any]) -> District:
    """The fixture's district again, with in-process plugins after its enabled ones."""
    return District.open(district.root, actor="tester", clock=lambda: NOW, extra_plugins=plugins)


def audit_actions(district: District) -> list[str]:
    with district.engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars())


def write(ctx: Context, action: str) -> None:
    ctx.connection.execute(insert(audit_log).values(at=ctx.now, actor=ctx.actor, action=action))


def c365(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--district", str(root), "--as", "tester", *args])


# -- intake -------------------------------------------------------------------------------


def test_hook_services() -> None:
    host = host_of(
        ("lunch", plug(services=lambda: [spec("lunch_order"), spec("lunch_cancel")])),
        ("silent", plug(services=lambda: None)),
        ("fees", plug(services=lambda: [spec("fee_query")])),
    )
    assert [(p, s.code) for p, s in host.services()] == [
        ("lunch", "lunch_order"),
        ("lunch", "lunch_cancel"),
        ("fees", "fee_query"),
    ]
    assert host_of().services() == []


def test_hook_classify() -> None:
    asked: list[str] = []

    def answer(name: str, code: str | None) -> Any:
        def classify(draft: CaseDraft, services: list[ServiceSpec]) -> str | None:
            asked.append(name)
            assert draft is DRAFT and [s.code for s in services] == ["repair", "meal"]
            return code

        return plug(classify=classify)

    catalogue = [spec("repair"), spec("meal")]
    host = host_of(("pass", answer("pass", None)), ("meals", answer("meals", "meal")))
    assert host.classify(DRAFT, catalogue) == "meal"
    assert asked == ["pass", "meals"]

    asked.clear()
    both = host_of(("repairs", answer("repairs", "repair")), ("meals", answer("meals", "meal")))
    assert both.classify(DRAFT, catalogue) == "repair"
    assert asked == ["repairs"], "stops at the first non-None result"

    assert host_of(("pass", answer("pass", None))).classify(DRAFT, catalogue) is None
    assert host_of().classify(DRAFT, catalogue) is None

    wrong = host_of(("pass", answer("pass", None)), ("typo", answer("typo", "repiar")))
    with pytest.raises(PluginError) as info:
        wrong.classify(DRAFT, catalogue)
    assert (info.value.plugin, info.value.hook) == ("typo", "c365_classify")
    assert "repiar" in str(info.value)


def test_hook_validate() -> None:
    def problems(*fields: str) -> Any:
        return plug(
            validate=lambda draft, service: [Problem(f, f"{service.code}: bad") for f in fields]
        )

    host = host_of(
        ("phone", problems("reporter.phone")),
        ("none", plug(validate=lambda draft, service: None)),
        ("clean", problems()),
        ("address", problems("area_code", "household_code")),
    )
    assert host.validate(DRAFT, spec("repair")) == [
        Problem("reporter.phone", "repair: bad"),
        Problem("area_code", "repair: bad"),
        Problem("household_code", "repair: bad"),
    ]
    assert host_of(("clean", problems())).validate(DRAFT, spec("repair")) == []


def test_hook_case_received(shared: District) -> None:
    def note(name: str) -> Any:
        def received(case: CaseView, ctx: Context) -> str:
            write(ctx, f"{name}:{case.ref}")
            return "ignored"

        return plug(case_received=received)

    plugged = opened(shared, ("first", note("first")), ("second", note("second")))
    with plugged.begin() as ctx:
        assert plugged.host.case_received(CASE, ctx) is None
    assert audit_actions(plugged)[-2:] == ["first:C-1", "second:C-1"]
    plugged.engine.dispose()


# -- routing ------------------------------------------------------------------------------


def test_hook_propose_handlers(shared: District) -> None:
    def by_area(case: CaseView, ctx: Context) -> list[Candidate]:
        row = ctx.connection.execute(select(areas).where(areas.c.code == case.area_code)).one()
        return [Candidate(f"grid-{row.code}", 0.9, f"{row.name}网格员")]

    plugged = opened(
        shared,
        ("duty", plug(propose_handlers=by_area)),
        ("nobody", plug(propose_handlers=lambda case, ctx: [])),
        (
            "volunteers",
            plug(
                propose_handlers=lambda case, ctx: [
                    Candidate("v-1", 0.5, "同楼志愿者"),
                    Candidate("v-2", 0.4, "时间银行会员"),
                ]
            ),
        ),
    )
    with plugged.begin() as ctx:
        found = plugged.host.propose_handlers(CASE, ctx)
    assert found == [
        ("duty", Candidate("grid-330212", 0.9, "鄞州区网格员")),
        ("volunteers", Candidate("v-1", 0.5, "同楼志愿者")),
        ("volunteers", Candidate("v-2", 0.4, "时间银行会员")),
    ]
    plugged.engine.dispose()


def test_hook_adjust_deadlines() -> None:
    core = Deadlines(reply_by=CASE.reply_by, resolve_by=CASE.resolve_by)
    sooner = Deadlines(
        reply_by=NOW + dt.timedelta(minutes=1), resolve_by=NOW + dt.timedelta(days=1)
    )
    later = Deadlines(reply_by=NOW + dt.timedelta(hours=1), resolve_by=NOW + dt.timedelta(days=9))
    asked: list[str] = []

    def answer(name: str, result: Deadlines | None) -> Any:
        def adjust(case: CaseView, deadlines: Deadlines) -> Deadlines | None:
            asked.append(name)
            assert deadlines == core
            return result

        return plug(adjust_deadlines=adjust)

    host = host_of(
        ("keep", answer("keep", None)),
        ("urgent", answer("urgent", sooner)),
        ("slow", answer("slow", later)),
    )
    assert host.adjust_deadlines(CASE, core) == sooner
    assert asked == ["keep", "urgent"], "stops at the first non-None result"
    assert host_of(("keep", answer("keep", None))).adjust_deadlines(CASE, core) == core
    assert host_of().adjust_deadlines(CASE, core) == core

    past = Deadlines(reply_by=NOW - dt.timedelta(minutes=1), resolve_by=CASE.resolve_by)
    with pytest.raises(PluginError) as info:
        host_of(("clock", answer("clock", past))).adjust_deadlines(CASE, core)
    assert (info.value.plugin, info.value.hook) == ("clock", "c365_adjust_deadlines")
    assert "before the intake time" in str(info.value)


# -- delivery and evaluation --------------------------------------------------------------


def test_hook_case_transition(shared: District) -> None:
    resolved = Transition("accepted", "resolved", "resolve", "网格员小王", NOW, "灯已换")

    def credit(name: str) -> Any:
        def transition(case: CaseView, transition: Transition, ctx: Context) -> int:
            assert case.status == "resolved", "the case shows the new state"
            write(ctx, f"{name}:{transition.from_status}->{transition.to_status}")
            return 1

        return plug(case_transition=transition)

    plugged = opened(shared, ("hours", credit("hours")), ("notify", credit("notify")))
    with plugged.begin() as ctx:
        result = plugged.host.case_transition(attrs.evolve(CASE, status="resolved"), resolved, ctx)
    assert result is None
    assert audit_actions(plugged)[-2:] == ["hours:accepted->resolved", "notify:accepted->resolved"]
    plugged.engine.dispose()


def test_hook_case_rated(shared: District) -> None:
    rating = Rating(level="unsatisfied", comment="太慢", at=NOW)

    def told(name: str) -> Any:
        return plug(case_rated=lambda case, rating, ctx: write(ctx, f"{name}:{rating.level}"))

    plugged = opened(shared, ("review", told("review")), ("stats", told("stats")))
    with plugged.begin() as ctx:
        assert plugged.host.case_rated(CASE, rating, ctx) is None
    assert audit_actions(plugged)[-2:] == ["review:unsatisfied", "stats:unsatisfied"]
    plugged.engine.dispose()


def test_hook_metrics(shared: District) -> None:
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))

    def area_count(period: Period, area: AreaView, ctx: Context) -> list[Metric]:
        count = ctx.connection.execute(
            select(func.count()).select_from(areas).where(areas.c.code.startswith(area.code))
        ).scalar_one()
        return [Metric("areas", "区域数", "areas", count)]

    plugged = opened(
        shared,
        ("census", plug(metrics=area_count)),
        (
            "meals",
            plug(
                metrics=lambda period, area, ctx: [
                    Metric("lunches", "助餐人次", "lunches served", 31, "人次"),
                    Metric("subsidy", "补贴", "subsidy", Decimal("155.00"), "元"),
                ]
            ),
        ),
        ("empty", plug(metrics=lambda period, area, ctx: None)),
    )
    with plugged.begin() as ctx:
        found = plugged.host.metrics(period, AREA, ctx)
    assert [(p, m.key, m.value) for p, m in found] == [
        ("census", "areas", 1),
        ("meals", "lunches", 31),
        ("meals", "subsidy", Decimal("155.00")),
    ]
    plugged.engine.dispose()


# -- platform -----------------------------------------------------------------------------

GREETER = """
    import click

    from community365.cli.state import pass_state


    @click.command("{command}")
    @click.argument("who")
    @pass_state
    def greet(state, who):
        \"\"\"Greet a resident (问候).\"\"\"
        name = state.district().config.district.name
        click.echo(f"{{name}} {plugin} greets {{who}}")


    @click.command("area")
    def area():
        \"\"\"A clash with the core.\"\"\"
        click.echo("plugin area")


    def c365_cli_commands():
        return [greet, area]
"""


def test_hook_cli_commands(site: FakeSite, tmp_path: Path) -> None:
    site.install("greeter", GREETER.format(command="greet", plugin="greeter"))
    site.install("copycat", GREETER.format(command="greet", plugin="copycat"))
    root = tmp_path / "district"
    create_district(root, name="鄞州区", code="330212", database="sqlite:///d.db", actor="t")
    set_enabled(root, ["greeter", "copycat"])

    host = District.open(root).host
    assert [(p, c.name) for p, c in host.cli_commands()] == [
        ("greeter", "greet"),
        ("greeter", "area"),
        ("copycat", "greet"),
        ("copycat", "area"),
    ]
    assert all(isinstance(c, click.Command) for _, c in host.cli_commands())

    helped = c365(root, "--help")
    assert helped.exit_code == 0, helped.output
    core, plugin_part = helped.stdout.split("Plugin commands:")
    assert "greet  Greet a resident (问候)." in plugin_part
    assert "area" not in plugin_part
    assert "The area tree" in core
    assert sorted(helped.stderr.splitlines()) == [
        "warning: plugin 'copycat' command 'area' clashes; skipped",
        "warning: plugin 'copycat' command 'greet' clashes; skipped",
        "warning: plugin 'greeter' command 'area' clashes; skipped",
    ]

    greeted = c365(root, "greet", "王阿姨")
    assert greeted.exit_code == 0, greeted.output
    assert greeted.stdout == "鄞州区 greeter greets 王阿姨\n"
    tree = c365(root, "area", "tree")
    assert tree.exit_code == 0 and "plugin area" not in tree.stdout and "鄞州区" in tree.stdout

    set_enabled(root, [])
    assert "Plugin commands" not in c365(root, "--help").stdout
    assert c365(root, "greet", "王阿姨").exit_code == 2


def test_hook_settings_schema(tmp_path: Path) -> None:
    @attrs.frozen
    class MealSettings:
        price: Decimal = Decimal("12.00")
        open_every_day: bool = True

    root = tmp_path / "district"
    root.mkdir()
    (root / "district.toml").write_text(
        '[district]\nname = "鄞州区"\ncode = "330212"\n\n[plugins.meals]\nprice = "10.50"\n',
        encoding="utf-8",
    )
    meals = ("meals", plug(settings_schema=lambda: MealSettings))
    bare = ("bare", plug(settings_schema=lambda: None))
    assert host_of(meals, bare).settings_schemas() == {"meals": MealSettings}

    district = District.open(root, extra_plugins=[meals, bare])
    assert district.settings == {"meals": MealSettings(price=Decimal("10.50"))}
    with district.begin() as ctx:
        assert ctx.settings["meals"].price == Decimal("10.50")

    text = (root / "district.toml").read_text(encoding="utf-8")
    (root / "district.toml").write_text(text + "\n[plugins.bare]\nx = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^plugins\.bare: this plugin takes no settings$"):
        District.open(root, extra_plugins=[meals, bare])
    (root / "district.toml").write_text(text.replace('"10.50"', "true"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^plugins\.meals\.price: expected a decimal number"):
        District.open(root, extra_plugins=[meals])
    district.engine.dispose()


def test_hook_migrations(site: FakeSite, district: District) -> None:
    install_table_plugin(site, "notes")
    probe = PluginHost.load(["notes"])
    branch = probe.migration_branches()["notes"]
    assert isinstance(branch, MigrationBranch) and branch.label == "notes"
    assert (branch.versions / "notes_0001.py").is_file()
    assert host_of(("bare", plug(migrations=lambda: None))).migration_branches() == {}

    def status() -> dict[str, dict[str, Any]]:
        result = c365(district.root, "db", "status", "--json")
        assert result.exit_code == 0, result.output
        return {row["label"]: row for row in json.loads(result.stdout)}

    assert status()["notes"]["current"] is None and not status()["notes"]["enabled"]
    enabled = c365(district.root, "plugins", "enable", "notes")
    assert enabled.exit_code == 0, enabled.output
    notes = status()["notes"]
    assert (notes["current"], notes["head"], notes["pending"], notes["enabled"]) == (
        "notes_0001",
        "notes_0001",
        [],
        True,
    )
    assert "notes_notes" in sa_inspect(district.engine).get_table_names()
    table = Table("notes_notes", MetaData(), autoload_with=district.engine)
    with district.engine.begin() as conn:
        conn.execute(insert(table).values(text="楼道堆物已清理"))

    assert c365(district.root, "plugins", "disable", "notes").exit_code == 0
    assert status()["notes"]["enabled"] is False
    assert status()["notes"]["current"] == "notes_0001"
    with district.engine.connect() as conn:
        assert conn.execute(select(table.c.text)).scalars().all() == ["楼道堆物已清理"]


def test_hook_daily_tasks(shared: District) -> None:
    def task(name: str, line: str | None) -> DailyTask:
        def run(ctx: Context, day: dt.date) -> str | None:
            write(ctx, f"{name}:{day.isoformat()}")
            return line

        return DailyTask(name=name, run=run)

    plugged = opened(
        shared,
        ("meals", plug(daily_tasks=lambda: [task("rota", "rota ok"), task("birthdays", None)])),
        ("none", plug(daily_tasks=lambda: None)),
        ("fees", plug(daily_tasks=lambda: [task("reminders", "3 reminders")])),
    )
    tasks = plugged.host.daily_tasks()
    assert [(p, t.name) for p, t in tasks] == [
        ("meals", "rota"),
        ("meals", "birthdays"),
        ("fees", "reminders"),
    ]
    lines = []
    for _, daily in tasks:
        with plugged.begin() as ctx:
            lines.append(daily.run(ctx, dt.date(2026, 11, 25)))
    assert lines == ["rota ok", None, "3 reminders"]
    assert audit_actions(plugged)[-3:] == [
        "rota:2026-11-25",
        "birthdays:2026-11-25",
        "reminders:2026-11-25",
    ]
    plugged.engine.dispose()


# -- completeness -------------------------------------------------------------------------


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith(hookspecs.HOOK_PREFIX)
    ]


def test_every_hook_has_a_test() -> None:
    names = hook_names()
    assert len(names) >= 13
    tests = set(dir(sys.modules[__name__]))
    missing = [
        n for n in names if f"test_hook_{n.removeprefix(hookspecs.HOOK_PREFIX)}" not in tests
    ]
    assert not missing, f"hooks without a test_hook_<name> in {__name__}: {missing}"


def test_every_hook_has_a_typed_host_method() -> None:
    called = inspect.getsource(PluginHost)
    for name in hook_names():
        assert f'"{name}"' in called, f"PluginHost has no typed method calling {name}"
