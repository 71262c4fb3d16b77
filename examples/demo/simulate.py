"""Run weeks of invented demands through the demo district's pipeline (模拟运行).

A discrete-event simulation with a fixed seed: each day residents bring 6 to 12 demands
by hotline, SMS, web, walk-in, and grid workers' visits and patrols; the handler the
pipeline chooses accepts (or, now and then, gives it back), answers, does the work and
records the time; the 365 hotline calls the resident back for a rating; a few demands
are withdrawn or repeated; every night ``run_daily`` is the heartbeat. Each step runs in
its own transaction at its own simulated time, as the handler (``--as``) it belongs to.

An enabled plugin may have a part of its own in these weeks (:data:`PLUGIN_PARTS`: the
time bank's is :mod:`.timebank`). A part schedules its steps on the same clock and draws
from its own seeded generator, so the demands above are the same with or without it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib
import itertools
import random
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from sqlalchemy import select

from community365.cases.pipeline import Pipeline
from community365.db.schema import households, persons
from community365.district import District
from community365.errors import InvalidTransition
from community365.values import CaseDraft, PersonRef

HOTLINE = "365热线"

DEMANDS: dict[str, tuple[str, ...]] = {
    "consult": (
        "请问居住证怎么办理？需要什么材料",
        "咨询一下高龄津贴怎么申请",
        "请问城乡居民医保在哪里缴费",
        "咨询孩子入学需要准备哪些证明",
        "请问老年优待证如何办理",
    ),
    "appointment": (
        "预约下周二上门办理老年卡",
        "想预约社区的免费理发服务",
        "预约社区卫生服务站上门体检",
    ),
    "help": (
        "独居老人家里灯泡坏了，需要帮忙更换",
        "老人行动不便，求助代买药品",
        "老伴住院了，求助有人帮忙照看家里",
        "腿脚不方便，求助帮忙取快递",
    ),
    "repair": (
        "楼道路灯坏了，晚上很黑",
        "厨房下水管漏水，楼下也渗水了",
        "单元门门禁坏了，关不上",
        "小区路面破损，老人容易绊倒",
        "楼顶漏水，雨天家里墙面发霉",
    ),
    "complaint": (
        "楼下饭店油烟扰民，投诉多次",
        "晚上广场舞噪音太大，影响休息",
        "小区乱停车堵住消防通道",
    ),
    "dispute": (
        "和邻居因为楼道堆物发生纠纷，请求调解",
        "楼上漏水到我家，和邻居协商不成，需要调解",
        "邻里之间因为养狗吵架，希望社区调解",
    ),
    "suggestion": (
        "建议在小区增加电动车充电桩",
        "建议社区食堂增加晚餐供应",
        "建议在健身广场加装座椅",
    ),
}
# How often each service is asked for, and by which channel demands arrive.
SERVICE_WEIGHTS = {
    "consult": 24,
    "appointment": 8,
    "help": 18,
    "repair": 26,
    "complaint": 10,
    "dispute": 6,
    "suggestion": 8,
}
CHANNEL_WEIGHTS = {"hotline": 40, "walk_in": 15, "visit": 20, "patrol": 10, "sms": 8, "web": 7}
#: The demo's parts for plugins: plugin name → the module whose ``part(simulation)``
#: plays that plugin's practice in the weeks. Imported only when the district enables
#: the plugin, so the simulation runs without it.
PLUGIN_PARTS = {"timebank": "community365.demo_district.timebank"}


class Part(Protocol):
    """A plugin's part of the weeks: ``begin`` schedules its steps (``Simulation.at``)."""

    def begin(self, start: dt.date, days: int) -> None: ...


@attrs.frozen
class SimulationSummary:
    days: int
    submitted: int
    linked: int
    steps: int
    refused_steps: int


class Simulation:
    """The demo's invented weeks. ``clock`` is the district's clock: each step sets it."""

    def __init__(self, district: District, clock: MutableClock, seed: int = 365) -> None:
        self.district = district
        self.clock = clock
        self.random = random.Random(seed)
        self._queue: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.submitted = self.linked = self.steps = self.refused = 0
        self.parts: list[Part] = []
        with district.engine.connect() as conn:
            self.residents = conn.execute(
                select(persons.c.id_number, households.c.code)
                .join(households, households.c.id == persons.c.household_id)
                .where(persons.c.id_number.is_not(None))
            ).all()

    # -- the clockwork ------------------------------------------------------------------

    def at(self, moment: dt.datetime, step: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (moment, next(self._order), step))

    def run(self, start: dt.date, days: int) -> SimulationSummary:
        tz = self.district.tz
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            self.at(dt.datetime.combine(day, dt.time(0, 30), tz), lambda d=day: self.daily(d))
            for _ in range(self.random.randint(6, 12)):
                hour = self.random.choices(range(7, 21), k=1)[0]
                moment = dt.datetime.combine(day, dt.time(hour, self.random.randrange(60)), tz)
                self.at(moment, self.new_demand)
        for part in self.parts:
            part.begin(start, days)
        end = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(), tz)
        while self._queue and self._queue[0][0] < end:
            moment, _, step = heapq.heappop(self._queue)
            self.clock.now = moment.astimezone(dt.UTC)
            step()
        return SimulationSummary(days, self.submitted, self.linked, self.steps, self.refused)

    def act(self, actor: str, step: Callable[[Pipeline], Any]) -> Any:
        """One step in its own transaction, as ``actor``; a step the case no longer allows
        (it was withdrawn meanwhile, say) is skipped, as a real handler would."""
        try:
            with self.district.begin() as ctx:
                ctx.actor = actor
                result = step(Pipeline(self.district, ctx))
        except InvalidTransition:
            return None
        self.steps += 1
        return result

    def later(self, minutes: float, step: Callable[[], None]) -> None:
        self.at(self.clock.now + dt.timedelta(minutes=minutes), step)

    # -- what people do -------------------------------------------------------------------

    def daily(self, day: dt.date) -> None:
        from community365.cases.daily import run_daily

        with self.district.begin() as ctx:
            ctx.actor = "c365 daily"
            run_daily(self.district, ctx, day)

    def new_demand(self) -> None:
        rnd = self.random
        service = rnd.choices(list(SERVICE_WEIGHTS), weights=list(SERVICE_WEIGHTS.values()))[0]
        channel = rnd.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
        id_number, household = rnd.choice(self.residents)
        reporter = PersonRef(id_number=id_number)
        draft = CaseDraft(
            channel=channel,
            text=rnd.choice(DEMANDS[service]),
            received_at=self.clock.now,
            service=service if channel in ("visit", "patrol") else None,
            reporter=reporter,
            household_code=household,
        )
        submitted = self.act(HOTLINE, lambda p: p.submit(draft))
        if submitted is None:
            return
        self.submitted += 1
        self.linked += submitted.linked
        case = submitted.case
        if submitted.linked:
            return
        if rnd.random() < 0.03:
            self.later(rnd.uniform(20, 600), lambda: self.repeat(draft))
        reply_minutes = self.district.catalogue.get(case.service).sla.reply_minutes
        if reply_minutes <= 10:  # 五分钟限时答复: the hotline answers a consultation itself
            answer = "已为您解答，稍后工作人员会再跟进"
            self.later(rnd.uniform(0.5, reply_minutes * 1.1), lambda: self.answer(case.ref, answer))
        self.later(rnd.expovariate(1 / 10), lambda: self.pick_up(case.ref))

    def answer(self, ref: str, text: str) -> None:
        self.act(HOTLINE, lambda p: p.reply(ref, text))

    def repeat(self, draft: CaseDraft) -> None:
        again = attrs.evolve(draft, received_at=self.clock.now, text="又打电话：" + draft.text)
        submitted = self.act(HOTLINE, lambda p: p.submit(again))
        if submitted is not None:
            self.submitted += 1
            self.linked += submitted.linked

    def pick_up(self, ref: str) -> None:
        case = self.current(ref)
        if case is None or case.status != "assigned":
            if case is not None and case.status == "received":
                self.later(240, lambda: self.pick_up(ref))  # nobody yet: try again later
            return
        rnd = self.random
        if rnd.random() < 0.05:
            self.refused += 1
            self.act(case.handler_code, lambda p: p.refuse(ref, "不在本人职责范围，请重新派单"))
            self.later(rnd.uniform(5, 60), lambda: self.pick_up(ref))
            return
        if rnd.random() < 0.02:
            self.act(HOTLINE, lambda p: p.withdraw(ref, "居民来电表示问题已自行解决"))
            return
        self.act(case.handler_code, lambda p: p.accept(ref))
        if case.replied_at is None:  # mostly in time, now and then late
            left = (case.reply_by - self.clock.now).total_seconds() / 60
            factor = rnd.choices((0.2, 0.5, 0.8, 1.5), weights=(30, 40, 22, 8))[0]
            self.later(max(1.0, left * factor), lambda: self.reply(ref, case.handler_code))
        else:
            self.later(rnd.uniform(30, 240), lambda: self.work(ref, case.handler_code))

    def reply(self, ref: str, handler: str) -> None:
        self.act(handler, lambda p: p.reply(ref, "已联系居民，正在处理，会尽快给您答复"))
        self.work(ref, handler)

    def work(self, ref: str, handler: str) -> None:
        case = self.current(ref)
        if case is None:
            return
        budget = (case.resolve_by - self.clock.now).total_seconds() / 60
        self.later(
            max(10.0, budget * self.random.choice((0.1, 0.3, 0.5, 0.8, 1.2))),
            lambda: self.resolve(ref, handler),
        )

    def resolve(self, ref: str, handler: str) -> None:
        minutes = self.random.choice((15, 30, 45, 60, 90, 120))
        self.act(handler, lambda p: p.resolve(ref, "已上门处理完毕，居民确认", minutes))
        if self.random.random() < 0.9:  # the hotline's call-back (回访)
            self.later(self.random.uniform(60, 1440), lambda: self.rate(ref, handler))

    def rate(self, ref: str, handler: str) -> None:
        level = self.random.choices(
            ("satisfied", "fairly_satisfied", "unsatisfied"), weights=(86, 10, 4)
        )[0]
        case = self.act(HOTLINE, lambda p: p.rate(ref, level, "回访"))  # type: ignore[arg-type]
        if case is not None and case.status == "accepted":  # 返工: back to the handler
            self.later(self.random.uniform(60, 720), lambda: self.resolve(ref, handler))

    def current(self, ref: str) -> Any:
        from community365.cases.store import get_case

        with self.district.engine.connect() as conn:
            return get_case(conn, ref)


@attrs.define
class MutableClock:
    """A clock the simulation moves; the district reads it at each unit of work."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


def simulate(
    district_root: Any, *, weeks: int = 4, end: dt.date, actor: str | None = None
) -> SimulationSummary:
    """Run ``weeks`` of demands, up to the day before ``end``, in the district there."""
    start = end - dt.timedelta(weeks=weeks)
    clock = MutableClock(dt.datetime.combine(start, dt.time(), dt.UTC))
    district = District.open(district_root, clock=clock, actor=actor)
    try:
        simulation = Simulation(district, clock)
        simulation.parts = plugin_parts(simulation)
        return simulation.run(start, weeks * 7)
    finally:
        district.engine.dispose()


def plugin_parts(simulation: Simulation) -> list[Part]:
    """The parts of the plugins the district enables, in their call order."""
    return [
        importlib.import_module(PLUGIN_PARTS[name]).part(simulation)
        for name in simulation.district.host.enabled
        if name in PLUGIN_PARTS
    ]
