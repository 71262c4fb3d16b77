"""How fast ``c365 --help`` starts, and what it imports.

    python benchmarks/startup.py [--runs 20]

Measures the wall time of ``c365 --help`` (median of ``--runs`` fresh processes) in the
demo district (three plugins enabled), in a district with one plugin enabled, and outside
any district, against ``python -c pass`` in the same run. The target is 0.3 s.

Then it lists what ``--help`` imports (``python -X importtime``, self time summed by top
package) and exits 1 if ``--help`` imports SQLAlchemy, Alembic, or a plugin that is not
enabled where it runs: ``--help`` must not touch the database layer, and a plugin must
cost nothing until a district enables it. It is a benchmark, not a test: timings are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_SECONDS = 0.3
PLUGIN_PACKAGES = {
    "timebank": "community365_timebank",
    "elder_meals": "community365_elder_meals",
    "red_property": "community365_red_property",
}
FORBIDDEN = ("sqlalchemy", "alembic")
_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(\S.*)$")


def c365_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m community365``."""
    script = Path(sys.executable).with_name("c365")
    return [str(script)] if script.exists() else [sys.executable, "-m", "community365"]


def median_seconds(
    commands: dict[str, tuple[list[str], Path]], runs: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each (command, cwd).

    Runs are interleaved, so that a busy machine slows every command alike; the CPU time
    (user + system of the child) shows the cost itself when other work inflates the wall.
    """
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, cwd) in commands.items():
            before = _children_cpu()
            start = time.perf_counter()
            subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(_children_cpu() - before)
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def imported_modules(cwd: Path) -> dict[str, int]:
    """Module name → self import time in microseconds, for one ``c365 --help``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "community365", "--help"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, int] = {}
    for line in result.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            found[match.group(3).strip()] = int(match.group(1))
    return found


def by_package(modules: dict[str, int]) -> list[tuple[str, int, int]]:
    """(top package, modules, self time in µs), slowest first."""
    totals: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for name, micros in modules.items():
        entry = totals[name.split(".")[0]]
        entry[0] += 1
        entry[1] += micros
    return sorted(((p, n, us) for p, (n, us) in totals.items()), key=lambda t: -t[2])


def make_places(root: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Where to run ``--help``: name → (directory, plugins enabled there)."""
    demo = root / "demo-district"
    subprocess.run([*c365_command(), "demo", str(demo)], check=True, stdout=subprocess.DEVNULL)
    one = root / "one-plugin"
    one.mkdir()
    text = (demo / "district.toml").read_text(encoding="utf-8")
    enabled = 'enabled = ["timebank", "elder_meals", "red_property"]'
    if enabled not in text:
        raise SystemExit(f"error: no '{enabled}' in the demo district.toml; update this script")
    (one / "district.toml").write_text(
        text.replace(enabled, 'enabled = ["timebank"]'), encoding="utf-8"
    )
    outside = root / "outside"
    outside.mkdir()
    return {
        "demo district (3 plugins)": (demo, tuple(PLUGIN_PACKAGES)),
        "district with 1 plugin": (one, ("timebank",)),
        "outside any district": (outside, ()),
    }


def check_imports(place: str, modules: dict[str, int], enabled: Sequence[str]) -> list[str]:
    """What ``--help`` imported that it must not have, as failure lines."""
    tops = {name.split(".")[0] for name in modules}
    failures = [f"{place}: --help imports {pkg}" for pkg in FORBIDDEN if pkg in tops]
    for plugin, package in PLUGIN_PACKAGES.items():
        if plugin not in enabled and package in tops:
            failures.append(f"{place}: --help imports {package}, but {plugin} is not enabled")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per measurement (median)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="c365-startup-"))
    try:
        places = make_places(root)
        commands = {"python -c pass": ([sys.executable, "-c", "pass"], root)}
        for place, (cwd, _) in places.items():
            commands[place] = ([*c365_command(), "--help"], cwd)
        medians = median_seconds(commands, args.runs)
        bare, bare_cpu = medians.pop("python -c pass")
        print(f"c365 --help, median of {args.runs} runs (target: under {TARGET_SECONDS} s wall)")
        print(f"  {'':<28}{'wall':>7}    {'cpu':>7}")
        print(f"  {'python -c pass':<28}{bare:7.3f} s  {bare_cpu:7.3f} s")
        failures: list[str] = []
        for place, (seconds, cpu) in medians.items():
            verdict = "ok" if seconds < TARGET_SECONDS else "OVER TARGET"
            print(
                f"  {place:<28}{seconds:7.3f} s  {cpu:7.3f} s  ({seconds / bare:4.1f}x bare"
                f" python, +{seconds - bare:.3f} s)  {verdict}"
            )
        for place, (cwd, enabled) in places.items():
            modules = imported_modules(cwd)
            print(f"\nimports of c365 --help, {place}: {len(modules)} modules")
            for package, count, micros in by_package(modules)[:12]:
                print(f"  {package:<28}{count:4d} modules {micros / 1000:8.1f} ms self")
            failures += check_imports(place, modules, enabled)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("\nFAIL:")
        for line in failures:
            print(f"  {line}")
        return 1
    print("\nno database layer and no disabled plugin imported by --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
