"""What each importable entity's CSV looks like: its columns, their Chinese headers and aliases.

A column is known by its canonical English name (``id_number``) and by the Chinese headers
offices actually use (身份证号, 身份证号码, 公民身份号码). Matching ignores case, spaces,
underscores, dashes and a byte-order mark, so ``ID Number`` and ``id_number`` are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from community365.errors import UsageError

# Aliases shared by every entity that has the column; an entity may add its own.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("编码", "代码", "编号"),
    "name": ("姓名", "名称"),
    "level": ("层级", "级别"),
    "parent": ("上级编码", "上级区域编码", "父级编码"),
    "area": ("区域编码", "网格编码", "所属网格", "所属区域", "区域", "网格"),
    "address": ("地址", "住址", "家庭住址"),
    "phone": ("联系电话", "电话", "手机号", "手机号码", "手机", "联系方式"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "身份证"),
    "gender": ("性别",),
    "birth_date": ("出生日期", "出生年月日", "生日"),
    "household": ("户号", "户编号", "户编码", "所属户"),
    "tags": ("标签", "人员类别", "人员类型"),
    "kind": ("类型", "类别"),
    "skills": ("技能", "特长"),
    "handler": ("处置人编码", "处置人"),
    "role": ("角色", "AB角"),
    "service_group": ("服务类别", "服务分组"),
}


@attrs.frozen
class Column:
    """One column: canonical name, the Chinese header a template shows, extra aliases."""

    field: str
    zh: str
    required: bool = False
    extra: tuple[str, ...] = ()

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.field, self.zh, *ALIASES.get(self.field, ()), *self.extra)

    @property
    def label(self) -> str:
        return f"{self.zh} {self.field}" + ("*" if self.required else "")


def normalise(header: str) -> str:
    """A header as matched: no BOM, whitespace, underscores or dashes; case-folded."""
    kept = header.replace("\ufeff", "").replace("_", "").replace("-", "")
    return "".join(kept.split()).casefold()


def describe(columns: Sequence[Column]) -> str:
    """``姓名 name*, 身份证号 id_number, ...`` (* marks a required column)."""
    return ", ".join(c.label for c in columns)


def match_headers(columns: Sequence[Column], headers: Sequence[str], where: str) -> list[str]:
    """The canonical field of each header, in file order; UsageError naming any header
    that is unknown, used twice, or a required column that is missing."""
    lookup = {normalise(alias): c.field for c in columns for alias in c.aliases}
    fields: list[str] = []
    unknown: list[str] = []
    for index, header in enumerate(headers, start=1):
        field = lookup.get(normalise(header))
        if field is None:
            unknown.append(repr(header) if header.strip() else f"(column {index} has no header)")
        fields.append(field or "")
    expected = f"expected: {describe(columns)}"
    if unknown:
        raise UsageError(f"{where}: unknown column(s) {', '.join(unknown)}; {expected}")
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        shown = ", ".join(h for h, f in zip(headers, fields, strict=True) if f in twice)
        raise UsageError(f"{where}: columns {shown} are the same field ({', '.join(twice)})")
    missing = [c.label for c in columns if c.required and c.field not in fields]
    if missing:
        raise UsageError(f"{where}: missing column(s) {', '.join(missing)}; {expected}")
    return fields
