"""The service catalogue (服务目录): what residents can ask for, and how fast it is done.

The core ships one service per group (consult, appointment, help, repair, complaint,
dispute, suggestion); enabled plugins add theirs through ``c365_services``; the district
overrides names, deadlines and keywords in ``[services.<code>]`` of district.toml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from community365.config import ServiceOverride
from community365.errors import ConfigError, NotFound, PluginError
from community365.values import RESOLVE_UNITS, SLA, ServiceSpec

CORE_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "consult",
        "咨询",
        "Consultation",
        "consult",
        SLA(5, 1, "working_days"),
        keywords=("咨询", "请问", "怎么办理", "如何办理", "政策", "需要什么材料"),
    ),
    ServiceSpec(
        "appointment",
        "预约",
        "Appointment",
        "appointment",
        SLA(5, 3, "working_days"),
        keywords=("预约", "约个时间", "上门办理", "挂号"),
    ),
    ServiceSpec(
        "help",
        "求助",
        "Help",
        "help",
        SLA(30, 2, "calendar_days"),
        keywords=("求助", "帮忙", "帮助", "摔倒", "独居", "没人照顾", "行动不便", "送医"),
    ),
    ServiceSpec(
        "repair",
        "报修",
        "Repair",
        "repair",
        SLA(60, 3, "calendar_days"),
        keywords=("报修", "维修", "坏了", "漏水", "堵塞", "堵了", "路灯", "停电", "电梯", "破损"),
    ),
    ServiceSpec(
        "complaint",
        "投诉",
        "Complaint",
        "complaint",
        SLA(120, 5, "working_days"),
        keywords=("投诉", "噪音", "扰民", "乱停", "乱扔", "不作为", "态度"),
    ),
    ServiceSpec(
        "dispute",
        "纠纷调解",
        "Dispute mediation",
        "dispute",
        SLA(240, 10, "working_days"),
        keywords=("纠纷", "矛盾", "调解", "吵架", "邻里", "争执"),
    ),
    ServiceSpec(
        "suggestion",
        "建议",
        "Suggestion",
        "suggestion",
        SLA(1440, 15, "working_days"),
        keywords=("建议", "意见", "希望", "能不能"),
    ),
)


@attrs.frozen
class CatalogueEntry:
    """A service as the district has it, and who provides it (``core`` or a plugin)."""

    spec: ServiceSpec
    provider: str


class Catalogue:
    """The district's services by code, in order: the core's, then each plugin's."""

    def __init__(self, entries: Iterable[CatalogueEntry]) -> None:
        self._entries = {e.spec.code: e for e in entries}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, code: object) -> bool:
        return code in self._entries

    @property
    def specs(self) -> list[ServiceSpec]:
        return [e.spec for e in self._entries.values()]

    def get(self, code: str) -> ServiceSpec:
        try:
            return self._entries[code].spec
        except KeyError:
            raise NotFound(
                f"no service {code!r}; choose one of: {', '.join(self._entries)}"
            ) from None

    def groups(self) -> list[str]:
        return list(dict.fromkeys(e.spec.group for e in self._entries.values()))


def build_catalogue(
    plugin_services: Iterable[tuple[str, ServiceSpec]],
    overrides: Mapping[str, ServiceOverride],
) -> Catalogue:
    """The core services, then the plugins' in plugin order, then the district's overrides.

    A plugin may not redefine a code already taken (the core's or an earlier plugin's);
    an override of an unknown code is a configuration error naming it.
    """
    entries = {s.code: CatalogueEntry(s, "core") for s in CORE_SERVICES}
    for plugin, spec in plugin_services:
        if spec.code in entries:
            taken = entries[spec.code].provider
            raise PluginError(
                plugin, "c365_services", ValueError(f"service {spec.code!r} is already {taken}'s")
            )
        entries[spec.code] = CatalogueEntry(spec, plugin)
    for code, override in overrides.items():
        if code not in entries:
            raise ConfigError(f"services.{code}: no such service (known: {', '.join(entries)})")
        entries[code] = attrs.evolve(entries[code], spec=_apply(entries[code].spec, override, code))
    return Catalogue(entries.values())


def _apply(spec: ServiceSpec, override: ServiceOverride, code: str) -> ServiceSpec:
    if override.resolve_unit is not None and override.resolve_unit not in RESOLVE_UNITS:
        raise ConfigError(
            f"services.{code}.resolve_unit: expected one of {', '.join(RESOLVE_UNITS)}, "
            f"got {override.resolve_unit!r}"
        )
    if override.reply_minutes is not None and override.reply_minutes < 1:
        raise ConfigError(
            f"services.{code}.reply_minutes: expected 1 or more, got {override.reply_minutes}"
        )
    if override.resolve is not None and override.resolve < 0:
        raise ConfigError(f"services.{code}.resolve: expected 0 or more, got {override.resolve}")
    sla = attrs.evolve(
        spec.sla,
        **{
            k: v
            for k in ("reply_minutes", "resolve", "resolve_unit")
            if (v := getattr(override, k)) is not None
        },
    )
    changes = {
        k: v for k in ("name_zh", "name_en", "keywords") if (v := getattr(override, k)) is not None
    }
    return attrs.evolve(spec, sla=sla, **changes)
