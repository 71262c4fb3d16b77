"""The time bank's part of the demo's weeks (时间银行, seed 003): join, ask, serve, sign off, spend.

Used by :mod:`.simulate` when the district enables the ``timebank`` plugin; it plays the
practice of 小正街社区 as the plugin implements it:

- **Joining.** On the first morning the volunteers who are residents join the bank of
  their community (a volunteer is a member through the resident they are, so only
  volunteers with an ID number can), and the volunteer teams open team accounts. During
  the first week the volunteers' spouses and parents aged ``family_min_age`` or more
  join, their ties recorded for gifts, and so do a few other elders.
- **Asking.** Most days a resident or two ask the 365 hotline for time-bank help
  (``timebank.help`` naming a skill, or ``timebank.escort``): mostly priority elders, for
  whom the pool pays, and now and then an elder member who holds hours and pays from
  their own. On Saturdays a grandparent asks for a grandchild's Sunday-evening tutoring
  (``timebank.tutoring``), as 姜立才 gave it.
- **Serving.** The pipeline routes each request to a matched volunteer (the plugin's
  routing hook). The volunteer accepts, or now and then declines and the next volunteer
  is offered it; calls back; does the work; resolves it with the minutes worked, which
  the plugin records as pending. A request nobody matches goes to the grid worker, who
  mostly passes it on to the community's volunteer team (a team account earns) when the
  team has the skill, or does it. The hotline calls back for a rating.
- **Signing off.** The recipient confirms the hours, or the coordinator signs them off
  after a call-back (sometimes with sign-in and sign-out times); now and then the
  coordinator rejects a record.
- **Spending and giving.** Two thirds of the way, an elder volunteer hurts a foot: they go on
  leave, ask for an escort and help paid from their own hours, and pay the volunteer
  team for looking after them. A few volunteers give hours to a spouse or parent, who
  may then spend them; some donate to the pool; on the last evening the teams donate
  what they earned.

Every step is one unit of work at its simulated time, as the person who takes it, and
calls the plugin's functions the way its commands do (``c365 timebank join``,
``family add``, ``verify``, ``reject``, ``transfer``, ``gift``, ``donate``), each with
its audit entry (the command's action). A step the rules refuse (a UsageError: nothing
is written) is skipped and counted in :attr:`TimeBankPart.refusals`, as a clerk would be
told no. The part draws from its own seeded generator, so the core's demands are the
same with or without it.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import select
from sqlalchemy.engine import Connection

from community365.cases.pipeline import Pipeline
from community365.db.schema import (
    areas,
    duties,
    handler_skills,
    handlers,
    households,
    person_tags,
    persons,
    tags,
)
from community365.errors import NotFound, UsageError
from community365.registry.people import age_on
from community365.values import OPEN_STATUSES, CaseDraft, Context, PersonRef
from community365_timebank import PLUGIN_NAME, accounts, earning, family, giving, ledger
from community365_timebank.amounts import round_minutes

if TYPE_CHECKING:
    from community365.demo_district.simulate import Simulation

SEED = 3003  # the part's own generator: the core's demands do not depend on it
HOTLINE = "365热线"
COORDINATOR = "时间银行管理员"  # signs off hours and keeps the bank's books (docs: timebank)
FIRST_HOUR, LAST_HOUR = 8, 20  # people are served in the daytime
#: How many residents ask on a day (besides the Saturday tutoring): about one every other
#: day, some twenty requests in four weeks. Each request is some seven units of work and
#: ~17 ms of the plugin's; more would slow ``c365 demo`` by more than the time bank shows.
ASKS_A_DAY = ((0, 1, 2), (50, 45, 5))

#: What residents ask for: (service, skill) → weight, the texts, and the minutes the
#: work takes (low, high). ``timebank.help`` names its skill in the case's field.
ASKS: dict[tuple[str, str], tuple[int, tuple[str, ...], tuple[int, int]]] = {
    ("timebank.help", "理发"): (
        14,
        ("腿脚不便出不了门，想请时间银行志愿者上门理发", "头发长了，请时间银行志愿者帮忙剪一下"),
        (25, 50),
    ),
    ("timebank.help", "维修"): (
        14,
        ("水龙头一直滴水，想请时间银行志愿者帮忙修一下", "家里插座不通电，请时间银行志愿者来看看"),
        (30, 100),
    ),
    ("timebank.help", "代办"): (
        24,
        ("腿脚不方便，请时间银行志愿者帮忙代买药品", "请时间银行志愿者帮忙去银行代缴水电费"),
        (40, 150),
    ),
    ("timebank.help", "心理疏导"): (
        9,
        ("老伴走后心里闷得慌，想请时间银行志愿者来陪我聊聊天",),
        (45, 120),
    ),
    ("timebank.help", "健康咨询"): (
        7,
        ("请时间银行志愿者上门帮忙量量血压，讲讲怎么吃药",),
        (20, 50),
    ),
    ("timebank.help", "送餐"): (
        6,
        ("这几天身体不好，请时间银行志愿者帮忙从老年食堂送饭",),
        (30, 60),
    ),
    ("timebank.escort", "陪护"): (
        22,
        ("明天要去医院复查，想请时间银行志愿者陪诊", "老伴住院了，请时间银行志愿者帮忙陪护半天"),
        (90, 240),
    ),
}
TUTORING = ("timebank.tutoring", "课业辅导")
TUTORING_TEXT = "孩子功课跟不上，想请时间银行志愿者周日晚上来辅导功课"
TUTORING_MINUTES = (90, 120)
INJURY_ASKS = (
    (("timebank.escort", "陪护"), "脚摔伤了，要去医院换药，想请时间银行志愿者陪同"),
    (("timebank.help", "代办"), "脚摔伤了下不了楼，请时间银行志愿者帮忙买菜买药"),
)
OUTCOMES = {
    "理发": "已上门理发",
    "维修": "已上门修好",
    "代办": "已代办完毕，送到家中",
    "心理疏导": "已上门陪老人聊天，情绪好多了",
    "健康咨询": "已上门量血压，讲解用药",
    "送餐": "已把饭菜送到家中",
    "陪护": "已陪同就医，安全送回家",
    "课业辅导": "已上门辅导功课",
}
DECLINE_REASONS = ("这两天在外地，请派给其他志愿者", "家里有事走不开，请派给其他志愿者")
REJECT_REASONS = (
    "回访核实：居民表示当天志愿者没有上门",
    "回访核实：服务时长与居民所说不符，请志愿者重新申报",
)
GIFT_MEMO = "赠{relation}，给家里老人存着用"
RELATIONS = {"spouse": "配偶", "parent": "父母"}  # the ties the part infers (see relatives)
DONATE_MEMO = "捐给公共池，帮助困难老人"
TEAM_DONATE_MEMO = "志愿服务队本月时数捐入公共池"
CARE_MEMO = "脚伤期间志愿服务队上门照料"


@attrs.frozen
class Resident:
    person_id: int
    id_number: str
    name: str
    gender: str | None
    birth_date: dt.date | None
    household: str
    area_code: str  # the household's building
    bank_code: str  # the community whose bank serves them
    tags: frozenset[str]


@attrs.frozen
class Volunteer:
    code: str
    resident: Resident
    skills: frozenset[str]


@attrs.define
class Request:
    """One time-bank request the part follows from intake to sign-off."""

    ref: str
    asker: Resident
    skill: str
    minutes: tuple[int, int]
    service_day: dt.date | None = None  # tutoring: the Sunday evening it is for
    declines: int = 0
    served_from: dt.datetime | None = None
    served_to: dt.datetime | None = None


def part(simulation: Simulation) -> TimeBankPart:
    """The part :mod:`.simulate` runs when the district enables the time bank."""
    return TimeBankPart(simulation)


class TimeBankPart:
    """The time bank's steps in the demo's weeks (see the module docstring)."""

    def __init__(self, simulation: Simulation, seed: int = SEED) -> None:
        self.sim = simulation
        self.district = simulation.district
        self.settings = self.district.settings[PLUGIN_NAME]
        self.random = random.Random(seed)
        self.refusals: collections.Counter[str] = collections.Counter()
        self.busy: set[int] = set()  # residents with a request not yet signed off
        self.requests: dict[str, Request] = {}
        self.gave: set[str] = set()  # who already gave hours away (gift or donation)
        self.tutoring: list[Resident] = []
        self.last_day = dt.date.min
        with self.district.engine.connect() as conn:
            self._load(conn)

    # -- who is who --------------------------------------------------------------------------

    def _load(self, conn: Connection) -> None:
        bank_codes = sorted(
            conn.execute(
                select(areas.c.code).where(areas.c.level == self.settings.bank_level)
            ).scalars(),
            key=len,
            reverse=True,
        )

        def bank_of(area_code: str) -> str:
            return next((code for code in bank_codes if area_code.startswith(code)), "")

        tagged: dict[int, set[str]] = collections.defaultdict(set)
        for person_id, name in conn.execute(
            select(person_tags.c.person_id, tags.c.name).join(tags)
        ):
            tagged[person_id].add(name)
        rows = conn.execute(
            select(
                persons.c.id,
                persons.c.id_number,
                persons.c.name,
                persons.c.gender,
                persons.c.birth_date,
                households.c.code.label("household"),
                areas.c.code.label("area_code"),
            )
            .join(households, households.c.id == persons.c.household_id)
            .join(areas, areas.c.id == households.c.area_id)
            .where(persons.c.id_number.is_not(None))
            .order_by(persons.c.id)
        ).all()
        self.residents = {
            row.id: Resident(
                row.id,
                row.id_number,
                row.name,
                row.gender,
                row.birth_date,
                row.household,
                row.area_code,
                bank_of(row.area_code),
                frozenset(tagged.get(row.id, ())),
            )
            for row in rows
        }
        self.by_household: dict[str, list[Resident]] = collections.defaultdict(list)
        for resident in self.residents.values():
            self.by_household[resident.household].append(resident)
        skills: dict[int, set[str]] = collections.defaultdict(set)
        for handler_id, skill in conn.execute(select(handler_skills)):
            skills[handler_id].add(skill)
        self.kinds: dict[str, str] = {}
        self.volunteers: list[Volunteer] = []
        for row in conn.execute(
            select(handlers.c.id, handlers.c.code, handlers.c.kind, handlers.c.person_id)
            .where(handlers.c.active)
            .order_by(handlers.c.code)
        ):
            self.kinds[row.code] = row.kind
            resident = self.residents.get(row.person_id) if row.person_id else None
            if row.kind == "volunteer" and resident is not None and resident.bank_code:
                self.volunteers.append(Volunteer(row.code, resident, frozenset(skills[row.id])))
        # the volunteer teams (志愿服务队: teams with a skill residents ask for; not the
        # mediation teams), each in the bank of the community of its duties
        asked = {skill for _, skill in [*ASKS, TUTORING]}
        self.teams: dict[str, dict[str, frozenset[str]]] = collections.defaultdict(dict)
        for row in conn.execute(
            select(handlers.c.id, handlers.c.code, areas.c.code.label("area_code"))
            .join(duties, duties.c.handler_id == handlers.c.id)
            .join(areas, areas.c.id == duties.c.area_id)
            .where(handlers.c.kind == "team", handlers.c.active)
            .order_by(handlers.c.code, areas.c.code)
        ):
            bank = bank_of(row.area_code)
            if bank and skills[row.id] & asked:
                self.teams[bank][row.code] = frozenset(skills[row.id])
        self.skills_in: dict[str, set[str]] = collections.defaultdict(set)
        for volunteer in self.volunteers:
            self.skills_in[volunteer.resident.bank_code] |= volunteer.skills

    def team(self, bank_code: str, skill: str) -> str | None:
        """The community's volunteer team with the skill, if any."""
        teams = self.teams.get(bank_code, {})
        return next((code for code, skills in teams.items() if skill in skills), None)

    def all_teams(self) -> list[str]:
        return sorted(code for teams in self.teams.values() for code in teams)

    def credit(self, minutes: int) -> int:
        """What ``minutes`` of work are recorded as, rounded as the plugin rounds them."""
        return round_minutes(minutes, self.settings.round_to_minutes)

    def affordable(self, available: int) -> list[tuple[str, str]]:
        """The asks whose longest work a member holding ``available`` minutes pays."""
        return [key for key, (_, _, (_, high)) in ASKS.items() if self.credit(high) <= available]

    def age(self, resident: Resident, day: dt.date) -> int:
        return -1 if resident.birth_date is None else age_on(resident.birth_date, day)

    def today(self) -> dt.date:
        return self.sim.clock.now.astimezone(self.district.tz).date()

    def priority(self, resident: Resident, day: dt.date) -> bool:
        """A priority elder: the pool pays for their help (plugins.timebank settings)."""
        settings = self.settings
        if resident.tags & set(settings.pool_pays_for_tags):
            return True
        from_age = settings.pool_pays_from_age
        return from_age is not None and self.age(resident, day) >= from_age

    def relatives(self, volunteer: Volunteer, day: dt.date) -> list[tuple[Resident, str]]:
        """The volunteer's spouse and parents in their household, as the register's ages,
        genders and surnames show them, who are old enough to be given hours."""
        me, found = volunteer.resident, []
        for other in self.by_household[me.household]:
            if other.person_id == me.person_id:
                continue
            age, gap = self.age(other, day), self.age(other, day) - self.age(me, day)
            if age < self.settings.family_min_age:
                continue
            if other.gender != me.gender and abs(gap) <= 10:
                found.append((other, "spouse"))
            elif 18 <= gap <= 45 and other.name[:1] == me.name[:1]:
                found.append((other, "parent"))
        return found

    # -- the clockwork -----------------------------------------------------------------------

    def moment(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), self.district.tz)

    def daytime(self, moment: dt.datetime) -> dt.datetime:
        """``moment``, or the next morning when it falls at night."""
        local = moment.astimezone(self.district.tz)
        if FIRST_HOUR <= local.hour < LAST_HOUR:
            return moment
        day = local.date() + dt.timedelta(days=1 if local.hour >= LAST_HOUR else 0)
        return self.moment(day, FIRST_HOUR) + dt.timedelta(minutes=self.random.randrange(120))

    def later(self, minutes: float, step: Callable[[], None]) -> None:
        self.sim.later(minutes, step)

    def in_daytime(self, minutes: float, step: Callable[[], None]) -> None:
        """``step`` in ``minutes``, or the next morning if that is at night (call-backs)."""
        self.sim.at(self.daytime(self.sim.clock.now + dt.timedelta(minutes=minutes)), step)

    def do(self, actor: str, step: Callable[[Context], Any]) -> Any:
        """One step of the plugin's in its own unit of work, as ``actor``; a step the rules
        refuse writes nothing and is counted (by the start of its message)."""
        try:
            with self.district.begin() as ctx:
                ctx.actor = actor
                result = step(ctx)
        except UsageError as refused:
            self.refusals[str(refused).split(":")[0][:60]] += 1
            return None
        self.sim.steps += 1
        return result

    def case_step(self, actor: str, step: Callable[[Pipeline], Any]) -> Any:
        """One step of the pipeline's, as ``actor`` (see :meth:`do`)."""
        return self.do(actor, lambda ctx: step(Pipeline(self.district, ctx)))

    # -- the plan ----------------------------------------------------------------------------

    def begin(self, start: dt.date, days: int) -> None:
        """Schedule the weeks: joining first, then the requests, the story of an elder
        volunteer's injury, gifts, donations and the teams' donations on the last night."""
        rnd = self.random
        launch = self.moment(start, 9)
        for i, volunteer in enumerate(self.volunteers):
            self.sim.at(launch + dt.timedelta(minutes=i), lambda v=volunteer: self.join(v.code))
        for i, team in enumerate(self.all_teams()):
            self.sim.at(launch + dt.timedelta(minutes=30 + i), lambda t=team: self.join(t))
        joining = self.joining(start)
        self.tutoring = self.tutored(start)
        for resident, tie in joining:
            day = start + dt.timedelta(days=rnd.randrange(min(days, 7)))
            moment = self.moment(day, rnd.randint(9, 16), rnd.randrange(60))
            self.sim.at(moment, lambda r=resident, t=tie: self.join_resident(r, t))
        for offset in range(1, days):
            day = start + dt.timedelta(days=offset)
            for _ in range(rnd.choices(*ASKS_A_DAY)[0]):
                moment = self.moment(day, rnd.randint(FIRST_HOUR, LAST_HOUR - 2), rnd.randrange(60))
                self.sim.at(moment, self.ask)
            if day.isoweekday() == 6:  # Saturday: next evening's tutoring
                for household in self.tutoring:
                    moment = self.moment(day, rnd.randint(9, 17), rnd.randrange(60))
                    self.sim.at(moment, lambda h=household, d=day: self.ask_tutoring(h, d))
        self.last_day = start + dt.timedelta(days=days - 1)
        if days >= 10:
            injured_on = start + dt.timedelta(days=days * 2 // 3 + rnd.randrange(2))
            self.sim.at(self.moment(injured_on, 10), self.injury)
        for _ in range(5 if days >= 14 else 1):
            day = start + dt.timedelta(days=rnd.randrange(days // 3, days))
            self.sim.at(self.moment(day, rnd.randint(10, 18), rnd.randrange(60)), self.gift)
        for _ in range(3 if days >= 14 else 1):
            day = start + dt.timedelta(days=rnd.randrange(days // 2, days))
            self.sim.at(self.moment(day, rnd.randint(10, 18), rnd.randrange(60)), self.donate)
        for i, team in enumerate(self.all_teams()):
            self.sim.at(self.moment(self.last_day, 21, i), lambda t=team: self.team_donates(t))

    def joining(self, start: dt.date) -> list[tuple[Resident, tuple[Resident, str] | None]]:
        """Residents who join in the first week: the volunteers' relatives who may be
        given hours (with the tie: the volunteer, the relation) and a few other elders."""
        found: list[tuple[Resident, tuple[Resident, str] | None]] = []
        taken = {v.resident.person_id for v in self.volunteers}
        for volunteer in self.volunteers:
            for relative, relation in self.relatives(volunteer, start):
                if relative.person_id not in taken:
                    taken.add(relative.person_id)
                    found.append((relative, (volunteer.resident, relation)))
        elders = [
            r
            for r in self.residents.values()
            if r.person_id not in taken
            and r.bank_code
            and 60 <= self.age(r, start) < 80
            and not self.priority(r, start)
        ]
        found += [(r, None) for r in self.random.sample(elders, min(2, len(elders)))]
        return found

    def tutored(self, start: dt.date) -> list[Resident]:
        """The grandparent (if any) who asks for a grandchild's tutoring every week: a
        priority elder (the pool pays) in a household with a school child, in a community
        where a volunteer tutors."""
        found = []
        for _, members in sorted(self.by_household.items()):
            elders = [m for m in members if self.priority(m, start)]
            school = any(6 <= self.age(m, start) <= 15 for m in members)
            if elders and school and TUTORING[1] in self.skills_in[elders[0].bank_code]:
                found.append(elders[0])
        return self.random.sample(found, min(1, len(found)))

    # -- joining -----------------------------------------------------------------------------

    def join(self, who: str) -> Any:
        """``c365 timebank join WHO``: a volunteer's code, a team's code or an ID number."""

        def step(ctx: Context) -> Any:
            account = accounts.join_ref(ctx, self.settings, who)
            self.district.audit(ctx, "timebank.join", f"#{account.id}", _line(account))
            return account

        return self.do(COORDINATOR, step)

    def join_resident(self, resident: Resident, tie: tuple[Resident, str] | None) -> None:
        """A resident joins; a volunteer's relative has the tie recorded as well
        (``c365 timebank family add VOLUNTEER RELATIVE --relation ...``)."""
        if self.join(resident.id_number) is None or tie is None:
            return
        volunteer, relation = tie

        def record(ctx: Context) -> None:
            made = family.add_tie(ctx, volunteer.id_number, resident.id_number, relation)
            detail = f"{made.person_name} → {made.relative_name}"
            self.district.audit(ctx, "timebank.family", detail, made.relation)

        self.later(self.random.uniform(1, 5), lambda: self.do(COORDINATOR, record))

    # -- asking ------------------------------------------------------------------------------

    def members(self) -> list[accounts.Account]:
        with self.district.engine.connect() as conn:
            return accounts.list_accounts(conn, kind="member", status="active")

    def ask(self) -> None:
        """A resident asks for help: an elder member who holds the hours (and pays), or a
        priority elder (the pool pays)."""
        rnd, day = self.random, self.today()
        min_age = self.settings.own_use_min_age
        payers = [
            (self.residents[a.person_id], asks)
            for a in self.members()
            if a.person_id in self.residents
            and a.person_id not in self.busy
            and self.age(self.residents[a.person_id], day) >= min_age
            and (asks := self.affordable(a.available or 0))
        ]
        if payers and rnd.random() < 0.35:
            asker, asks = rnd.choice(payers)
        else:
            elders = [
                r
                for r in self.residents.values()
                if r.bank_code and r.person_id not in self.busy and self.priority(r, day)
            ]
            if not elders:
                return
            asker, asks = rnd.choice(elders), list(ASKS)
        here = [key for key in asks if key[1] in self.skills_in[asker.bank_code]]
        if here and rnd.random() < 0.9:  # now and then a skill nobody near has
            asks = here
        key = rnd.choices(asks, weights=[ASKS[k][0] for k in asks])[0]
        self.submit(asker, key, rnd.choice(ASKS[key][1]), ASKS[key][2])

    def ask_tutoring(self, grandparent: Resident, saturday: dt.date) -> None:
        if grandparent.person_id in self.busy:
            return
        sunday = saturday + dt.timedelta(days=1)
        self.submit(grandparent, TUTORING, TUTORING_TEXT, TUTORING_MINUTES, sunday)

    def submit(
        self,
        asker: Resident,
        key: tuple[str, str],
        text: str,
        minutes: tuple[int, int],
        service_day: dt.date | None = None,
    ) -> str | None:
        """The hotline takes the request in; the pipeline routes it (to a matched
        volunteer, when there is one)."""
        service, skill = key
        channel = self.random.choices(("hotline", "walk_in", "visit"), weights=(75, 15, 10))[0]
        draft = CaseDraft(
            channel=channel,
            text=text,
            received_at=self.sim.clock.now,
            service=service,
            reporter=PersonRef(id_number=asker.id_number),
            household_code=asker.household,
            fields={"skill": skill} if service == "timebank.help" else {},
        )
        submitted = self.case_step(HOTLINE, lambda p: p.submit(draft))
        if submitted is None:
            return None
        self.sim.submitted += 1
        self.sim.linked += submitted.linked
        if submitted.linked:
            return None
        ref = submitted.case.ref
        self.requests[ref] = Request(ref, asker, skill, minutes, service_day)
        self.busy.add(asker.person_id)
        self.later(self.random.uniform(3, 25), lambda: self.offer(ref))
        return ref

    # -- serving -----------------------------------------------------------------------------

    def offer(self, ref: str) -> None:
        """Whoever the case is with answers: a volunteer accepts or declines; a grid
        worker passes it to the community's volunteer team, or does it."""
        case, request = self.sim.current(ref), self.requests[ref]
        if case is None or case.status != "assigned":
            if case is not None and case.status == "received":
                self.later(240, lambda: self.offer(ref))  # nobody yet: the daily run escalates
            elif case is not None and case.status not in OPEN_STATUSES:
                self.busy.discard(request.asker.person_id)
            return
        handler, rnd = case.handler_code, self.random
        kind = self.kinds.get(handler, "")
        if kind == "volunteer" and request.declines < 2 and rnd.random() < 0.1:
            request.declines += 1
            self.sim.refused += 1
            self.case_step(handler, lambda p: p.refuse(ref, rnd.choice(DECLINE_REASONS)))
            self.later(rnd.uniform(3, 25), lambda: self.offer(ref))
            return
        if kind == "staff":
            team = self.team(request.asker.bank_code, request.skill)
            if team is not None and rnd.random() < 0.7:
                reason = "时间银行求助，转社区志愿服务队"
                self.case_step(handler, lambda p: p.transfer(ref, reason, to=team))
                self.later(rnd.uniform(10, 60), lambda: self.offer(ref))
                return
        if rnd.random() < 0.02:
            self.case_step(HOTLINE, lambda p: p.withdraw(ref, "居民来电表示家人已经帮忙解决了"))
            self.busy.discard(request.asker.person_id)
            return
        if self.case_step(handler, lambda p: p.accept(ref)) is None:
            return
        answer = "已和您约好时间，到时上门"
        self.later(
            rnd.uniform(1, 5), lambda: self.case_step(handler, lambda p: p.reply(ref, answer))
        )
        if request.service_day is not None:
            start = self.moment(request.service_day, 19)
        else:
            start = self.daytime(self.sim.clock.now + dt.timedelta(minutes=rnd.uniform(60, 1800)))
        self.sim.at(start, lambda: self.serve(ref, handler))

    def serve(self, ref: str, handler: str) -> None:
        """The work begins now; the handler resolves the case when it is done."""
        request = self.requests[ref]
        worked = self.random.randint(*request.minutes)
        request.served_from = self.sim.clock.now
        self.later(worked, lambda: self.resolve(ref, handler, worked))

    def resolve(self, ref: str, handler: str, worked: int) -> None:
        outcome = OUTCOMES[self.requests[ref].skill]
        if self.case_step(handler, lambda p: p.resolve(ref, outcome, worked)) is None:
            return
        self.requests[ref].served_to = self.sim.clock.now
        rnd = self.random
        if rnd.random() < 0.9:  # the hotline's call-back (回访)
            self.in_daytime(rnd.uniform(120, 1440), lambda: self.rate(ref, handler))
        self.in_daytime(rnd.uniform(180, 2160), lambda: self.sign_off(ref))

    def rate(self, ref: str, handler: str) -> None:
        rnd = self.random
        level = rnd.choices(("satisfied", "fairly_satisfied", "unsatisfied"), (92, 7, 1))[0]
        case = self.case_step(HOTLINE, lambda p: p.rate(ref, level, "回访"))
        if case is not None and case.status == "accepted":  # 返工: once more
            self.later(rnd.uniform(120, 720), lambda: self.serve(ref, handler))

    # -- signing off -------------------------------------------------------------------------

    def sign_off(self, ref: str) -> None:
        """The recipient confirms the hours, or the coordinator signs them off (now and
        then rejects them) — ``c365 timebank verify|reject``."""
        request, rnd = self.requests[ref], self.random
        case = self.sim.current(ref)
        if case is None:
            return
        if case.status in OPEN_STATUSES:  # sent back for rework: once resolved again
            self.in_daytime(720, lambda: self.sign_off(ref))
            return
        with self.district.engine.connect() as conn:
            try:
                record = earning.get_pending(conn, ref)
            except NotFound:  # done by staff: no hours to sign off
                record = None
        if record is None or record.status != "pending":
            self.busy.discard(request.asker.person_id)
            return
        draw = rnd.random()
        if draw < 0.06:
            reason = rnd.choice(REJECT_REASONS)

            def reject(ctx: Context) -> Any:
                done = earning.reject(ctx, ref, reason)
                self.district.audit(ctx, "timebank.reject", ref, reason)
                return done

            self.do(COORDINATOR, reject)
        elif draw < 0.55:
            self.verify(request, request.asker.id_number, "recipient", note="本人确认")
        else:
            signed = rnd.random() < 0.35 and request.served_from and request.served_to
            times = _minute(request.served_from, up=True), _minute(request.served_to)
            self.verify(
                request, COORDINATOR, "coordinator", times if signed else None, "电话回访确认"
            )
        self.busy.discard(request.asker.person_id)

    def verify(
        self,
        request: Request,
        actor: str,
        as_: str,
        signed: tuple[dt.datetime | None, dt.datetime | None] | None = None,
        note: str = "",
    ) -> None:
        signed_in, signed_out = signed or (None, None)

        def step(ctx: Context) -> Any:
            done = earning.verify(
                ctx,
                self.settings,
                request.ref,
                as_=as_,  # type: ignore[arg-type]
                signed_in=signed_in,
                signed_out=signed_out,
                note=note,
            )
            detail = f"{ledger.hours(done.earned.minutes)} by {as_}, transfer {done.earned.id}"
            if done.surplus is not None:
                detail += f", surplus {ledger.hours(done.surplus.minutes)} to the pool"
            self.district.audit(ctx, "timebank.verify", request.ref, detail)
            return done

        self.do(actor, step)

    # -- spending and giving -----------------------------------------------------------------

    def move(self, action: str, actor: str, subject: str, run: Callable[[Context], Any]) -> Any:
        """``c365 timebank transfer|gift|donate``: the write lock, the move, its audit."""

        def step(ctx: Context) -> Any:
            ledger.write_lock(ctx.connection)
            made = run(ctx)
            made = made if isinstance(made, list) else [made]
            detail = ", ".join(f"{t.id}: {t.kind} {ledger.hours(t.minutes)}" for t in made)
            self.district.audit(ctx, f"timebank.{action}", subject, detail)
            return made

        return self.do(actor, step)

    def holding(self, minimum: int) -> dict[int, accounts.Account]:
        """Active members who are not waiting on a request of their own and hold at
        least ``minimum`` minutes, by person id."""
        return {
            a.person_id: a
            for a in self.members()
            if a.person_id is not None
            and a.person_id not in self.busy
            and (a.available or 0) >= minimum
        }

    def injury(self) -> None:
        """An elder volunteer hurts a foot (姜立才's September): leave for ten days, an
        escort to hospital and errands paid from their own hours, and the volunteer
        team paid for looking after them."""
        day, rnd = self.today(), self.random
        held = self.holding(60)
        elders = [
            v
            for v in self.volunteers
            if v.resident.person_id in held
            and self.age(v.resident, day) >= self.settings.own_use_min_age
        ]
        if not elders:  # nobody with hours to draw on yet: the story waits a day
            if day + dt.timedelta(days=4) <= self.last_day:
                self.sim.at(self.moment(day + dt.timedelta(days=1), 10), self.injury)
            return
        volunteer = max(elders, key=lambda v: (held[v.resident.person_id].balance, v.code))
        self.gave.add(volunteer.code)  # they need their hours now: no gifts or donations
        back = day + dt.timedelta(days=9)

        def leave(ctx: Context) -> None:
            from community365.registry import schedule

            schedule.add_leave(ctx.connection, volunteer.code, day, back, "脚摔伤，病假")
            self.district.audit(
                ctx, "handler.leave", volunteer.code, f"{day} .. {back} 脚摔伤，病假"
            )

        self.do(COORDINATOR, leave)
        account = held[volunteer.resident.person_id]
        team = self.team(volunteer.resident.bank_code, "陪护")
        care = min(120, (account.available or 0) // 2 // 30 * 30)
        if team is not None and care > 0:
            code = volunteer.code
            self.later(
                rnd.uniform(60, 240),
                lambda: self.move(
                    "spend",
                    code,
                    f"{code} → {team}",
                    lambda ctx: giving.spend(ctx, self.settings, code, team, care, CARE_MEMO),
                ),
            )
        for i, (key, text) in enumerate(INJURY_ASKS):
            self.sim.at(
                self.moment(day + dt.timedelta(days=1 + 3 * i), 9, rnd.randrange(60)),
                lambda k=key, t=text: self.injured_asks(volunteer, k, t),
            )

    def injured_asks(self, volunteer: Volunteer, key: tuple[str, str], text: str) -> None:
        account = self.holding(0).get(volunteer.resident.person_id)
        if account is None:
            return
        low, high = ASKS[key][2]
        step = self.settings.round_to_minutes
        high = min(high, (account.available or 0) // step * step)  # no more than they hold
        if high >= low:
            self.submit(volunteer.resident, key, text, (low, high))

    def gift(self) -> None:
        """A volunteer gives hours to a spouse or parent (``c365 timebank gift``)."""
        day, rnd = self.today(), self.random
        held = self.holding(60)
        members = {a.person_id for a in self.members()}
        givers = [
            (v, relative, relation)
            for v in self.volunteers
            if v.resident.person_id in held and v.code not in self.gave
            for relative, relation in self.relatives(v, day)
            if relative.person_id in members
        ]
        if not givers:
            return
        volunteer, relative, relation = rnd.choice(givers)
        self.gave.add(volunteer.code)
        half = (held[volunteer.resident.person_id].available or 0) // 2
        minutes = min(rnd.choice((60, 90, 120)), half // 30 * 30)  # keeping some
        memo = GIFT_MEMO.format(relation=RELATIONS[relation])
        code, number = volunteer.code, relative.id_number
        self.move(
            "gift",
            code,
            f"{code} → {number}",
            lambda ctx: giving.gift(ctx, self.settings, code, number, minutes, memo),
        )

    def donate(self) -> None:
        """A volunteer donates an hour or so to the pool (``c365 timebank donate``)."""
        rnd = self.random
        held = self.holding(90)
        donors = [
            v for v in self.volunteers if v.resident.person_id in held and v.code not in self.gave
        ]
        if not donors:
            return
        volunteer = rnd.choice(donors)
        self.gave.add(volunteer.code)
        half = (held[volunteer.resident.person_id].available or 0) // 2
        minutes, code = min(rnd.choice((30, 60, 60, 90)), half // 15 * 15), volunteer.code
        self.move("donate", code, code, lambda ctx: giving.donate(ctx, code, minutes, DONATE_MEMO))

    def team_donates(self, team: str) -> None:
        """A team's hours can only go to the pool: at the end, the team gives them."""
        with self.district.engine.connect() as conn:
            try:
                account = accounts.find(conn, team)
            except NotFound:
                return
        if account.balance > 0:
            minutes = account.balance
            self.move(
                "donate",
                team,
                team,
                lambda ctx: giving.donate(ctx, team, minutes, TEAM_DONATE_MEMO),
            )


def _line(account: accounts.Account) -> str:
    """The account joined, for the audit entry's detail."""
    return (
        f"#{account.id} {account.holder()} — {account.bank_name} ({account.bank_code}), "
        f"{account.kind}, balance {ledger.hours(account.balance)}"
    )


def _minute(moment: dt.datetime | None, *, up: bool = False) -> dt.datetime | None:
    """``moment`` to the whole minute (up: the next one), as sign-in and sign-out are
    written (``YYYY-MM-DD HH:MM``)."""
    if moment is None:
        return None
    whole = moment.replace(second=0, microsecond=0)
    return whole + dt.timedelta(minutes=1) if up and whole != moment else whole
