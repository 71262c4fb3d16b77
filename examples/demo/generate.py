"""Write the demo district's CSV ledgers (台账), the same bytes on every run.

    python examples/demo/generate.py [OUT_DIR]     # default: beside this file

The people are invented; the shape follows 划船社区 of 百丈街道, 鄞州区 (seed 000 of the
design): an old-town community with many elders, grids of about a hundred households with
two grid workers each (A and B roles), a grid leader per big grid, party members near 8% of
residents (816 of 10,420), volunteers who are often residents themselves, a mediation team
(和事佬/老娘舅) and a property company. One seeded ``random.Random`` drives every choice,
and nothing depends on the clock, so the files only change when this script does.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from community365.registry.idcard import make_id_number

SEED = 365
REGION = "330212"  # 鄞州区; the root area itself is created by `c365 init`
STREET = ("330212001", "百丈街道")
AS_OF = dt.date(2026, 1, 1)  # ages below are ages on this day; births stay in the past
LIST_SEPARATOR = "、"  # between tags, and between skills
# Level and role as an office's ledger writes them; the import takes these or the English keys.
LEVEL_ZH = {
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "small_grid": "微网格",
    "building": "楼栋",
}
ROLE_ZH = {"A": "A角", "B": "B角", "leader": "网格长"}


@attrs.frozen
class SmallGrid:
    code: str  # 2 digits
    compound: str  # the residential compound (小区) it covers
    road: str  # its postal address prefix
    buildings: int


@attrs.frozen
class Grid:
    code: str
    name: str
    small_grids: tuple[SmallGrid, ...]


@attrs.frozen
class Community:
    code: str  # 3 digits
    name: str
    grids: tuple[Grid, ...]


LAYOUT = (
    Community(
        "001",
        "划船社区",
        (
            Grid(
                "01",
                "第一网格",
                (
                    SmallGrid("01", "划船新村", "百丈东路118弄", 3),
                    SmallGrid("02", "百丈新村", "百丈东路226弄", 4),
                    SmallGrid("03", "华严小区", "华严街35弄", 3),
                ),
            ),
            Grid(
                "02",
                "第二网格",
                (
                    SmallGrid("01", "马衙街小区", "马衙街18弄", 3),
                    SmallGrid("02", "曙光新村", "曙光路66弄", 3),
                    SmallGrid("03", "划船后村", "划船巷9弄", 3),
                ),
            ),
        ),
    ),
    Community(
        "002",
        "七塔社区",
        (
            Grid(
                "01",
                "第一网格",
                (
                    SmallGrid("01", "七塔新村", "七塔街12弄", 3),
                    SmallGrid("02", "王隘新村", "王隘路88弄", 4),
                    SmallGrid("03", "新河小区", "新河路50弄", 4),
                ),
            ),
        ),
    ),
)
ORDINALS = "一二三四五六七八九十"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# -- names ----------------------------------------------------------------------------------

SURNAMES = "王陈张李周林徐胡应俞孙杨朱毛邵鲍竺董郑何吴赵沈蒋史袁范金叶戴孔傅忻虞乐项翁汪"
GIVEN = {
    ("old", "M"): _words(
        "国良 根发 阿毛 德华 建国 宝根 荣生 福林 金海 祖庆 明德 海根 永康 长庚 关林 "
        "兴富 阿四 信国 志清 孝章 仁康 鑫泉"
    ),
    ("old", "F"): _words(
        "桂英 秀英 阿娣 彩娣 月娥 杏娟 菊芬 素珍 美娟 玉凤 雪琴 宝娣 爱珠 凤英 翠娥 "
        "银娣 杏芬 秀娟 阿香 巧云 亚芬 月仙"
    ),
    ("mid", "M"): _words(
        "伟 军 斌 建华 海波 勇 志明 立新 国栋 卫东 文杰 剑锋 晓东 宏伟 建军 海峰 "
        "永强 明华 波 军辉 卫国 锋"
    ),
    ("mid", "F"): _words(
        "丽萍 海燕 静 红 晓燕 敏 丽娟 春燕 慧 琴 蓓蕾 雪芬 亚萍 燕 丽君 素芬 "
        "晓红 玲玲 芳 海霞 莉 雅琴"
    ),
    ("young", "M"): _words(
        "浩然 子轩 宇航 俊杰 皓轩 一鸣 博文 梓豪 天佑 睿哲 晨阳 嘉诚 逸凡 思远 泽宇 景行 乐天 书恒"
    ),
    ("young", "F"): _words(
        "欣怡 梓涵 诗琪 雨桐 佳怡 可馨 思琪 一诺 语嫣 梦瑶 若汐 静怡 雨萱 子涵 心悦 安琪 悦宁 沐晴"
    ),
}
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 157 158 159 177 180 181 186 187 189 199"
)

# -- households: kinds, weights, and who lives in them ---------------------------------------

HOUSEHOLD_KINDS = (
    ("single_elder", 16),  # 独居老人
    ("elder_couple", 24),  # 空巢老人
    ("nuclear", 26),  # a couple and a child
    ("three_generations", 12),
    ("couple_adult_child", 10),
    ("couple", 6),
    ("single_adult", 6),
)
SINGLE_ELDER_AGES = ((60, 69, 25), (70, 79, 35), (80, 89, 30), (90, 95, 10))
ELDER_AGES = ((60, 69, 45), (70, 79, 33), (80, 89, 18), (90, 95, 4))

# -- handlers -------------------------------------------------------------------------------

SKILLS = ("理发", "维修", "陪护", "法律咨询", "心理疏导", "送餐", "课业辅导", "代办", "健康咨询")
OUTSIDE_VOLUNTEERS = (  # volunteers who are not residents here: 机关党员, professionals
    ("法律咨询",),
    ("心理疏导",),
    ("理发",),
    ("健康咨询", "陪护"),
    ("代办",),
    ("维修",),
)
TEAMS = (
    # code, name, community, duties as (service group, role)
    ("T01", "划船和事佬调解队", "001", (("dispute", "A"),)),
    ("T02", "划船社区志愿服务队", "001", (("help", "B"),)),
    ("T03", "七塔党员志愿服务队", "002", (("help", "B"),)),
    ("T04", "七塔老娘舅调解队", "002", (("dispute", "A"),)),
)
ORGANISATIONS = (
    # code, name, kind, skills, duties in each community as (service group, role)
    (
        "O01",
        "宁波甬居物业服务有限公司",
        "物业公司",
        ("维修", "保洁", "停车管理"),
        (("repair", "A"),),
    ),
    (
        "O02",
        "鄞州区心和社会工作服务中心",
        "社会组织",
        ("心理疏导", "个案服务"),
        (("consult", "B"),),
    ),
    ("O03", "宁波乐龄餐饮服务有限公司", "单位", ("助餐", "送餐"), (("help", "B"),)),
)


@attrs.define
class Person:
    id_number: str
    name: str
    household: str
    phone: str
    age: int
    tags: list[str]


@attrs.define
class Household:
    code: str
    area: str  # building code
    address: str
    phone: str
    kind: str
    members: list[Person] = attrs.Factory(list)


class Generator:
    """One pass over the layout; every random choice comes from ``self.rng`` in order."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.households: list[Household] = []
        self.areas: list[tuple[str, str, str, str]] = []

    # -- values --------------------------------------------------------------------------

    def mobile(self) -> str:
        while True:
            phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def landline(self) -> str:
        while True:
            phone = f"0574-8{self.rng.randrange(10**7):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def birth(self, age: int) -> dt.date:
        """A birth date making the person ``age`` years old on AS_OF."""
        year = AS_OF.year - 1 - age
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def id_number(self, birth: dt.date, gender: str) -> str:
        while True:
            sequence = self.rng.randrange(1, 500) * 2 - (1 if gender == "M" else 0)
            number = make_id_number(REGION, birth, sequence)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def given_name(self, birth: dt.date, gender: str) -> str:
        era = "old" if birth.year < 1960 else "mid" if birth.year < 1990 else "young"
        return self.rng.choice(GIVEN[(era, gender)])

    def surname(self) -> str:
        return self.rng.choice(SURNAMES)

    def age_in(self, bands: Sequence[tuple[int, int, int]]) -> int:
        low, high, _ = self.rng.choices(bands, weights=[w for *_, w in bands])[0]
        return self.rng.randint(low, high)

    # -- people --------------------------------------------------------------------------

    def person(self, household: Household, age: int, gender: str, surname: str) -> Person:
        birth = self.birth(age)
        taken = {p.name for p in household.members}
        name = surname + self.given_name(birth, gender)
        while name in taken:
            name = surname + self.given_name(birth, gender)
        phone = self.mobile() if age >= 14 and self.rng.random() < _phone_odds(age) else ""
        member = Person(self.id_number(birth, gender), name, household.code, phone, age, [])
        household.members.append(member)
        return member

    def couple(self, household: Household, husband_age: int) -> str:
        """Husband and wife (a few years younger, another surname); returns his surname."""
        surname = self.surname()
        self.person(household, husband_age, "M", surname)
        wife_age = max(20, husband_age - self.rng.randint(0, 5))
        self.person(household, wife_age, "F", self.surname())
        return surname

    def child(self, household: Household, surname: str, age: int) -> None:
        self.person(household, age, self.rng.choice("MF"), surname)

    def fill(self, household: Household) -> None:
        kind = household.kind
        rng = self.rng
        if kind == "single_elder":
            age = self.age_in(SINGLE_ELDER_AGES)
            # Women outlive men: most elders living alone are widows.
            self.person(household, age, "F" if rng.random() < 0.7 else "M", self.surname())
        elif kind == "elder_couple":
            self.couple(household, self.age_in(ELDER_AGES))
        elif kind == "nuclear":
            father = rng.randint(30, 52)
            surname = self.couple(household, father)
            self.child(household, surname, rng.randint(1, min(22, father - 24)))
        elif kind == "three_generations":
            grandfather = self.age_in(ELDER_AGES[:3])
            if rng.random() < 0.6:
                surname = self.couple(household, grandfather)
            else:
                surname = self.surname()
                self.person(household, grandfather, rng.choice("MF"), surname)
            father = max(30, grandfather - rng.randint(24, 32))
            self.person(household, father, "M", surname)
            self.person(household, max(28, father - rng.randint(0, 4)), "F", self.surname())
            for _ in range(1 if rng.random() < 0.75 else 2):
                self.child(household, surname, rng.randint(1, min(20, father - 24)))
        elif kind == "couple_adult_child":
            father = rng.randint(48, 66)
            surname = self.couple(household, father)
            self.child(household, surname, rng.randint(19, min(36, father - 23)))
        elif kind == "couple":
            self.couple(household, rng.randint(25, 40))
        else:  # single_adult: young renters and the divorced
            self.person(household, rng.randint(22, 50), rng.choice("MF"), self.surname())

    # -- tree ----------------------------------------------------------------------------

    def build(self) -> None:
        self.areas.append((STREET[0], STREET[1], "street", REGION))
        for community in LAYOUT:
            ccode = STREET[0] + community.code
            self.areas.append((ccode, community.name, "community", STREET[0]))
            for grid in community.grids:
                gcode = ccode + grid.code
                self.areas.append((gcode, grid.name, "grid", ccode))
                for i, small in enumerate(grid.small_grids):
                    scode = gcode + small.code
                    name = f"第{ORDINALS[i]}微网格（{small.compound}）"
                    self.areas.append((scode, name, "small_grid", gcode))
                    for number in range(1, small.buildings + 1):
                        self.building(scode, small, number)

    def building(self, small_code: str, small: SmallGrid, number: int) -> None:
        code = f"{small_code}{number:03d}"
        self.areas.append((code, f"{small.compound}{number}幢", "building", small_code))
        kinds = [k for k, _ in HOUSEHOLD_KINDS]
        weights = [w for _, w in HOUSEHOLD_KINDS]
        for floor in range(1, self.rng.randint(5, 7) + 1):
            for room in (1, 2):
                if self.rng.random() >= 0.87:  # empty, or let to people registered elsewhere
                    continue
                household = Household(
                    code=f"{code}-{floor:02d}{room:02d}",
                    area=code,
                    address=f"{small.road}{number}号{floor}{room:02d}室",
                    phone="",
                    kind=self.rng.choices(kinds, weights)[0],
                )
                self.fill(household)
                household.phone = self.household_phone(household)
                self.households.append(household)

    def household_phone(self, household: Household) -> str:
        """Elders' homes keep a landline; others give the first member's mobile, or none."""
        eldest = max(p.age for p in household.members)
        if eldest >= 60 and self.rng.random() < 0.6:
            return self.landline()
        mobiles = [p.phone for p in household.members if p.phone]
        return mobiles[0] if mobiles and self.rng.random() < 0.8 else ""

    # -- tags ----------------------------------------------------------------------------

    def tag(self) -> None:
        rng = self.rng
        for household in self.households:
            low_income = rng.random() < 0.03  # 低保 is granted to the household
            for p in household.members:
                if household.kind == "single_elder":
                    p.tags.append("独居")
                if p.age >= 70 and household.kind == "single_elder" and rng.random() < 0.08:
                    p.tags.append("特困")  # supported persons in extreme hardship
                elif low_income:
                    p.tags.append("低保")
                if rng.random() < (0.07 if p.age >= 60 else 0.03):
                    p.tags.append("残疾")
                if p.age >= 18 and rng.random() < (0.13 if p.age >= 60 else 0.06):
                    p.tags.append("党员")
                if _key_service(p):
                    p.tags.append("重点服务对象")

    @property
    def persons(self) -> Iterator[Person]:
        for household in self.households:
            yield from household.members


def _phone_odds(age: int) -> float:
    return 0.97 if age < 70 else 0.8 if age < 80 else 0.5 if age < 90 else 0.2


def _key_service(p: Person) -> bool:
    """重点服务对象: who the grid workers visit first."""
    tags = set(p.tags)
    return (
        "特困" in tags
        or p.age >= 90
        or ("独居" in tags and p.age >= 80)
        or ("残疾" in tags and bool(tags & {"低保", "独居"}))
    )


# -- handlers and duties ------------------------------------------------------------------------


@attrs.frozen
class Handler:
    code: str
    name: str
    kind: str
    phone: str
    id_number: str = ""
    skills: tuple[str, ...] = ()


class Staffing:
    """Staff, volunteers, teams and organisations, and who answers for which area."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.handlers: list[Handler] = []
        self.duties: list[tuple[str, str, str, str]] = []

    def staff(self, kind: str = "工作人员", *, skills: tuple[str, ...] = ()) -> str:
        """A new staff member; ``kind`` is the ledger's word (工作人员, 网格员, 社工)."""
        gen = self.gen
        code = f"S{sum(h.code.startswith('S') for h in self.handlers) + 1:03d}"
        gender = gen.rng.choice("FFM")  # most community workers are women
        birth = gen.birth(gen.rng.randint(24, 52))
        name = gen.surname() + gen.given_name(birth, gender)
        self.handlers.append(Handler(code, name, kind, gen.mobile(), skills=skills))
        return code

    def duty(self, handler: str, area: str, role: str, group: str = "") -> None:
        self.duties.append((handler, area, group, role))

    def build(self) -> None:
        for community in LAYOUT:
            ccode = STREET[0] + community.code
            self.duty(self.staff(), ccode, "leader")  # 社区书记
        for community in LAYOUT:
            ccode = STREET[0] + community.code
            for grid in community.grids:
                self.duty(self.staff(), ccode + grid.code, "leader")  # 网格长
        for community in LAYOUT:
            ccode = STREET[0] + community.code
            for grid in community.grids:
                for small in grid.small_grids:
                    area = ccode + grid.code + small.code
                    self.duty(self.staff("网格员"), area, "A")
                    self.duty(self.staff("网格员"), area, "B")
        huachuan, qita = (STREET[0] + c.code for c in LAYOUT)
        self.duty(self.staff("社工", skills=("陪护", "代办")), huachuan, "A", "help")  # 养老服务
        self.duty(self.staff("社工", skills=("代办",)), huachuan, "A", "consult")  # 社会救助
        social_worker = self.staff("社工", skills=("心理疏导", "代办"))
        self.duty(social_worker, qita, "A", "help")
        self.duty(social_worker, qita, "A", "consult")
        self.volunteers()
        self.teams()

    def volunteers(self) -> None:
        gen = self.gen
        candidates = [
            p
            for p in gen.persons
            if 35 <= p.age <= 72 and p.phone and ("党员" in p.tags or gen.rng.random() < 0.08)
        ]
        for i, p in enumerate(gen.rng.sample(candidates, 14)):
            skills = _skills(gen.rng, SKILLS[i % len(SKILLS)])
            code = f"V{i + 1:03d}"
            self.handlers.append(Handler(code, p.name, "志愿者", p.phone, p.id_number, skills))
            self.duty(code, p.household[:14], "B", "help")  # their own big grid
        for j, skills in enumerate(OUTSIDE_VOLUNTEERS, start=15):
            gender = gen.rng.choice("MF")
            birth = gen.birth(gen.rng.randint(28, 60))
            name = gen.surname() + gen.given_name(birth, gender)
            code = f"V{j:03d}"
            self.handlers.append(Handler(code, name, "志愿者", gen.mobile(), skills=skills))
            group = "consult" if skills[0] in ("法律咨询", "心理疏导", "健康咨询") else "help"
            self.duty(code, STREET[0], "B", group)

    def teams(self) -> None:
        gen = self.gen
        for code, name, community, duties in TEAMS:
            kind = "调解队" if "调解" in name else "志愿服务队"
            skills = ("调解",) if kind == "调解队" else ("陪护", "代办", "送餐")
            self.handlers.append(Handler(code, name, kind, gen.mobile(), skills=skills))
            for group, role in duties:
                self.duty(code, STREET[0] + community, role, group)
        for code, name, kind, skills, duties in ORGANISATIONS:
            self.handlers.append(Handler(code, name, kind, gen.landline(), skills=skills))
            for community in LAYOUT:
                for group, role in duties:
                    self.duty(code, STREET[0] + community.code, role, group)


def _skills(rng: random.Random, first: str) -> tuple[str, ...]:
    extra = rng.choice([s for s in SKILLS if s != first]) if rng.random() < 0.4 else None
    return (first, extra) if extra else (first,)


# -- output -------------------------------------------------------------------------------------


def tables(seed: int = SEED) -> dict[str, list[list[str]]]:
    """Every demo file as rows (the header first), keyed by file name."""
    gen = Generator(seed)
    gen.build()
    gen.tag()
    staffing = Staffing(gen)
    staffing.build()
    return {
        "areas.csv": [
            ["区域编码", "区域名称", "层级", "上级编码"],
            *([code, name, LEVEL_ZH[level], parent] for code, name, level, parent in gen.areas),
        ],
        "households.csv": [
            ["户号", "所属区域", "地址", "联系电话"],
            *([h.code, h.area, h.address, h.phone] for h in gen.households),
        ],
        "persons.csv": [
            ["身份证号", "姓名", "户号", "联系电话", "标签"],
            *(
                [p.id_number, p.name, p.household, p.phone, LIST_SEPARATOR.join(p.tags)]
                for p in gen.persons
            ),
        ],
        "handlers.csv": [
            ["处置人编码", "名称", "类型", "联系电话", "身份证号", "技能"],
            *(
                [h.code, h.name, h.kind, h.phone, h.id_number, LIST_SEPARATOR.join(h.skills)]
                for h in staffing.handlers
            ),
        ],
        "duties.csv": [
            ["处置人编码", "区域编码", "服务类别", "角色"],
            *([h, area, group, ROLE_ZH[role]] for h, area, group, role in staffing.duties),
        ],
    }


def write_all(out_dir: Path, seed: int = SEED) -> list[Path]:
    """Write the five CSV files (UTF-8, LF line ends) into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in tables(seed).items():
        path = out_dir / name
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else Path(__file__).resolve().parent
    for path in write_all(out_dir):
        with path.open(encoding="utf-8") as f:
            rows = sum(1 for _ in f) - 1
        print(f"{path}: {rows} rows")


if __name__ == "__main__":
    main()
