"""district.toml: reading it strictly, and editing it without losing a comment.

Reading uses the standard library's tomllib (fast, at every start-up); editing uses tomlkit,
which round-trips comments, order and layout, and writes atomically so a failed edit leaves
the old file in place.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import os
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from community365.errors import ConfigError
from community365.settings import structure

DISTRICT_FILE = "district.toml"
CORE_SECTIONS = ("district", "areas", "plugins", "sla", "services")


@attrs.frozen
class AreaLevel:
    """One level of the area tree: its key, its Chinese name, and the digits it adds to codes."""

    key: str
    name: str
    digits: int


DEFAULT_LEVELS: tuple[AreaLevel, ...] = (
    AreaLevel("district", "区县", 6),
    AreaLevel("street", "街道", 3),
    AreaLevel("community", "社区", 3),
    AreaLevel("grid", "网格", 2),
    AreaLevel("small_grid", "微网格", 2),
    AreaLevel("building", "楼栋", 3),
)


@attrs.frozen
class DistrictSection:
    name: str
    code: str
    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///district.db"


@attrs.frozen
class AreasSection:
    levels: tuple[AreaLevel, ...] = DEFAULT_LEVELS


@attrs.frozen
class SlaSection:
    """The pipeline's rules beside each service's own deadlines (see docs/cases.md)."""

    repeat_window_days: int = 7
    auto_close_days: int = 7
    max_extensions: int = 2
    max_reworks: int = 2
    extra_holidays: tuple[dt.date, ...] = ()
    extra_working_days: tuple[dt.date, ...] = ()


@attrs.frozen
class ServiceOverride:
    """A district's change to one service of the catalogue; unset keys keep the default."""

    name_zh: str | None = None
    name_en: str | None = None
    reply_minutes: int | None = None
    resolve: int | None = None
    resolve_unit: str | None = None
    keywords: tuple[str, ...] | None = None


@attrs.frozen
class DistrictConfig:
    """The validated district.toml. Plugin tables stay raw here: they are structured by
    the plugin's own settings class once the plugin is loaded."""

    root: Path
    district: DistrictSection
    areas: AreasSection
    enabled: tuple[str, ...]
    plugin_tables: dict[str, dict[str, Any]]
    sla: SlaSection
    services: dict[str, ServiceOverride]

    @property
    def path(self) -> Path:
        return self.root / DISTRICT_FILE


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding district.toml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / DISTRICT_FILE).is_file():
            return candidate
    raise ConfigError(
        f"no {DISTRICT_FILE} in {here} or above; run 'c365 init DIR' or pass --district DIR"
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load(root: Path) -> DistrictConfig:
    path = root / DISTRICT_FILE
    data = read_toml(path)
    where = path.name
    unknown = sorted(set(data) - set(CORE_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown section [{unknown[0]}] (known: {', '.join(CORE_SECTIONS)})"
        )
    if "district" not in data:
        raise ConfigError(f"{where}: missing section [district]")
    district = structure(data["district"], DistrictSection, "district")
    _check_district(district)
    areas = structure(data.get("areas", {}), AreasSection, "areas")
    _check_levels(areas.levels)
    plugins = dict(data.get("plugins", {}))
    enabled = plugins.pop("enabled", [])
    if not isinstance(enabled, list) or not all(isinstance(n, str) for n in enabled):
        raise ConfigError("plugins.enabled: expected a list of plugin names")
    if len(set(enabled)) != len(enabled):
        raise ConfigError("plugins.enabled: a plugin is listed twice")
    for name, table in plugins.items():
        if not isinstance(table, dict):
            raise ConfigError(f"plugins.{name}: expected a table of settings")
    sla = structure(data.get("sla", {}), SlaSection, "sla")
    _check_sla(sla)
    services = structure(data.get("services", {}), dict[str, ServiceOverride], "services")
    return DistrictConfig(
        root=root,
        district=district,
        areas=areas,
        enabled=tuple(enabled),
        plugin_tables=plugins,
        sla=sla,
        services=services,
    )


def _check_district(section: DistrictSection) -> None:
    import zoneinfo

    if not (len(section.code) == 6 and section.code.isascii() and section.code.isdigit()):
        raise ConfigError(
            f"district.code: expected a 6-digit administrative code, got {section.code!r}"
        )
    try:
        zoneinfo.ZoneInfo(section.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"district.timezone: unknown time zone {section.timezone!r} (e.g. 'Asia/Shanghai')"
        ) from None


def _check_sla(sla: SlaSection) -> None:
    for key in ("repeat_window_days", "auto_close_days", "max_extensions", "max_reworks"):
        if getattr(sla, key) < 0:
            raise ConfigError(f"sla.{key}: expected 0 or more, got {getattr(sla, key)}")
    both = sorted(set(sla.extra_holidays) & set(sla.extra_working_days))
    if both:
        raise ConfigError(
            f"sla.extra_holidays: {both[0].isoformat()} is also in sla.extra_working_days"
        )


def _check_levels(levels: tuple[AreaLevel, ...]) -> None:
    if not levels:
        raise ConfigError("areas.levels: at least one level is needed")
    seen: set[str] = set()
    for i, level in enumerate(levels):
        if level.key in seen:
            raise ConfigError(f"areas.levels[{i}].key: {level.key!r} is used twice")
        if not 1 <= level.digits <= 6:
            raise ConfigError(f"areas.levels[{i}].digits: expected 1 to 6, got {level.digits}")
        seen.add(level.key)


# -- editing ------------------------------------------------------------------------------------


@contextlib.contextmanager
def edit(root: Path) -> Iterator[Any]:
    """Yield district.toml as a tomlkit document; write it back (atomically) on success."""
    import tomlkit

    path = root / DISTRICT_FILE
    try:
        raw = path.read_bytes()
        # Decoded by hand, not read_text(): universal newlines would turn CRLF into LF.
        doc = tomlkit.parse(raw.decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except Exception as exc:
        raise ConfigError(f"{path}: {exc}") from None
    yield doc
    bom = "\ufeff" if raw.startswith(codecs.BOM_UTF8) else ""
    write_atomically(path, bom + tomlkit.dumps(doc))


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def set_enabled(root: Path, names: list[str]) -> None:
    """Rewrite ``[plugins] enabled`` keeping every comment and the table's layout."""
    import tomlkit

    with edit(root) as doc:
        if "plugins" not in doc:
            doc.add(tomlkit.nl())
            doc.add("plugins", tomlkit.table())
        plugins = doc["plugins"]
        if "enabled" in plugins:
            array = plugins["enabled"]
            while len(array):
                array.pop()
            for name in names:
                array.append(name)
        else:
            array = tomlkit.array()
            array.extend(names)
            plugins["enabled"] = array


DISTRICT_TEMPLATE = """\
# district.toml — the truth about this district. `c365` edits it and keeps your comments.

[district]
name = {name}
code = {code}            # 6-digit administrative code of the county/district
timezone = "Asia/Shanghai"
# SQLite file beside this file; for PostgreSQL use "postgresql+psycopg://user@host/db"
database = {database}

[plugins]
# Active plugins, in the order their hooks are called.
enabled = []
"""


def render_new(name: str, code: str, database: str) -> str:
    import json

    return DISTRICT_TEMPLATE.format(
        name=json.dumps(name, ensure_ascii=False),
        code=json.dumps(code),
        database=json.dumps(database),
    )
