"""The ``c365`` shell: help, version, init, and errors that are one line, never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from community365 import __version__
from community365.cli import CORE_COMMANDS, cli
from community365.cli.init import create_district
from community365.cli.periods import parse_moment
from community365.config import load, set_enabled
from community365.db.schema import audit_log
from community365.district import District
from community365.errors import UsageError


@pytest.fixture(autouse=True)
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test from an empty directory, with no district chosen by the environment."""
    monkeypatch.delenv("C365_DISTRICT", raising=False)
    monkeypatch.setenv("C365_USER", "tester")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def c365(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="c365")


def one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    return result.output.removeprefix("error: ").rstrip("\n")


def test_help_lists_every_core_command() -> None:
    result = c365("--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: c365 [OPTIONS] COMMAND [ARGS]...")
    listed = result.output.split("Commands:")[1].split()
    for name in CORE_COMMANDS:
        assert name in listed, name
    assert "Plugin commands" not in result.output
    assert c365("-h").output == result.output


def test_version() -> None:
    result = c365("--version")
    assert result.exit_code == 0
    assert result.output == f"c365, version {__version__}\n"


def test_unknown_option_and_command_exit_2_with_usage() -> None:
    option = c365("--colour")
    assert option.exit_code == 2
    assert "Usage: c365 [OPTIONS] COMMAND [ARGS]..." in option.output
    assert "No such option" in option.output and "--colour" in option.output
    command = c365("hepl")
    assert command.exit_code == 2 and "No such command 'hepl'" in command.output
    sub = c365("init", "d", "--nmae", "x")
    assert sub.exit_code == 2 and "No such option" in sub.output and "--nmae" in sub.output


def test_a_command_outside_a_district_says_how_to_make_one(nowhere: Path) -> None:
    message = one_line_error(c365("area", "tree"))
    assert message == (
        f"no district.toml in {nowhere.resolve()} or above; "
        "run 'c365 init DIR' or pass --district DIR"
    )
    missing = one_line_error(c365("--district", "elsewhere", "db", "status"))
    assert missing == "elsewhere: no district.toml here"


def test_init_creates_a_district_and_refuses_a_second(nowhere: Path) -> None:
    made = c365("--as", "俞书记", "init", "yz", "--name", "鄞州区", "--code", "330212")
    assert made.exit_code == 0, made.output
    assert made.output == "created district 鄞州区 (330212) in yz\n"
    config = load(nowhere / "yz")
    assert (config.district.name, config.district.code) == ("鄞州区", "330212")
    assert config.enabled == ()
    files = {p.name for p in (nowhere / "yz").iterdir()}
    assert "district.toml" in files and "district.db" in files

    tree = c365("--district", "yz", "area", "tree")
    assert tree.exit_code == 0 and "330212" in tree.output and "鄞州区" in tree.output
    district = District.open(nowhere / "yz")
    with district.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.subject, audit_log.c.actor))
        assert [tuple(r) for r in rows] == [("district.init", "330212", "俞书记")]
    district.engine.dispose()

    before = (nowhere / "yz" / "district.toml").read_bytes()
    again = one_line_error(c365("init", "yz", "--name", "别的区", "--code", "330203"))
    assert again == f"{Path('yz') / 'district.toml'}: a district already exists here"
    assert (nowhere / "yz" / "district.toml").read_bytes() == before


@pytest.mark.parametrize("code", ["3302", "33021x", "3302120", ""])
def test_init_with_a_bad_code_leaves_nothing(nowhere: Path, code: str) -> None:
    message = one_line_error(c365("init", "new", "--name", "鄞州区", "--code", code))
    assert message == f"--code: expected a 6-digit administrative code, got {code!r}"
    assert not (nowhere / "new").exists()


def test_init_that_fails_leaves_the_directory_as_found(nowhere: Path) -> None:
    kept = nowhere / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("台账", encoding="utf-8")
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
    result = c365("init", "kept", "--name", "鄞州区", "--code", "330212", "--database", url)
    assert one_line_error(result, code=1).startswith(f"cannot open database {url}: ")
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]

    fresh = c365("init", "fresh", "--name", "鄞州区", "--code", "330212", "--database", url)
    assert fresh.exit_code == 1
    assert not (nowhere / "fresh").exists()

    bad_url = c365("init", "fresh", "--name", "x", "--code", "330212", "--database", "mysql://x")
    assert one_line_error(bad_url).startswith("district.database: unsupported database 'mysql'")
    assert not (nowhere / "fresh").exists()


def test_python_dash_m_runs_the_cli(nowhere: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("C365_DISTRICT", None)
    done = subprocess.run(
        [sys.executable, "-m", "community365", "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=nowhere,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: c365 [OPTIONS] COMMAND [ARGS]...")
    assert "init" in done.stdout and "plugins" in done.stdout

    failed = subprocess.run(
        [sys.executable, "-m", "community365", "area", "tree"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=nowhere,
        env=env,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith("error: no district.toml in ")
    assert "Traceback" not in failed.stderr and failed.stderr.count("\n") == 1


def test_help_in_a_district_with_every_bundled_plugin_stays_light(tmp_path: Path) -> None:
    """`c365 --help` lists the plugins' commands without importing the database layer
    (the time bank's commands are imported only when one runs)."""
    root = tmp_path / "d"
    create_district(root, name="鄞州区", code="330212", database="sqlite:///d.db", actor="t")
    set_enabled(root, ["timebank", "elder_meals", "red_property"])
    probe = (
        "import sys\n"
        "from community365.cli import main\n"
        "try:\n"
        f"    main(['--district', {str(root)!r}, '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "timebank" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_one_reading_of_a_moment_on_the_command_line() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    local = dt.datetime(2026, 11, 25, 9, 30, tzinfo=tz)
    for text in ("2026-11-25 09:30", "2026-11-25T09:30", " 2026-11-25T01:30:00+00:00 "):
        assert parse_moment(text, tz, "--signed-in") == local
    with pytest.raises(UsageError, match="--signed-out: not a date and time"):
        parse_moment("25/11/2026 9:30", tz, "--signed-out")
    with pytest.raises(UsageError, match="--signed-in: 2101-01-01 is outside 2000-2100"):
        parse_moment("2101-01-01 08:00", tz, "--signed-in")
