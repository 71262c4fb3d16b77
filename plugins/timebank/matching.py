"""Matching (供需对接): offer a time-bank request to volunteers who can help, nearest first.

For a case of a time-bank service the plugin proposes, through ``c365_propose_handlers``,
the volunteers (handlers of kind volunteer who are residents with an active member
account in the case's bank) who have the skill the case needs, who are available now
(on duty, not on leave) and who are not the resident asking. They are ranked by where
they live — the case's own area first (its building, then small grid, grid, ...), then
each area up to the bank's community — then by their recent load: cases they hold open
and hours recorded for them in the last :data:`RECENT_DAYS` days. The best
``settings.match_limit`` are proposed.

Scores lie between 3.3 and 3.9, above the A角's 3, so that a matched volunteer gets a
time-bank request before the grid's duty holders, who still get it when nobody matches
(the services are in the ``help`` group). The volunteer accepts (接单) or refuses (退单);
a refusal routes the case again without them, so the next volunteer is offered it.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365 import Candidate, CaseView, Context
from community365.config import DEFAULT_LEVELS
from community365.db.schema import areas, cases, handler_skills, handlers, households, persons
from community365.errors import NotFound
from community365.registry.handlers import AVAILABLE, availability_params
from community365.values import OPEN_STATUSES
from community365_timebank import accounts as account_views
from community365_timebank.services import is_timebank, needed_skill
from community365_timebank.settings import TimebankSettings
from community365_timebank.tables import accounts, pending

RECENT_DAYS = 14
TOP, TIER_STEP, LOAD_STEP, MAX_TIERS, MAX_LOAD = 3.9, 0.1, 0.01, 5, 9
LEVEL_NAMES = {level.key: level.name for level in DEFAULT_LEVELS}


@attrs.frozen
class Match:
    """A volunteer who can take the request, and why they rank where they do."""

    handler_code: str
    tier: int  # 0: lives in the case's own area; 1: the area above; ...
    near_code: str  # the nearest area that holds both
    near_level: str
    load: int

    @property
    def score(self) -> float:
        return round(
            TOP - TIER_STEP * min(self.tier, MAX_TIERS) - LOAD_STEP * min(self.load, MAX_LOAD), 2
        )


def _chain(conn: Connection, area_code: str, bank_code: str) -> list[tuple[str, str]]:
    """The case's area and those above it up to the bank's, nearest first: (code, level)."""
    prefixes = [area_code[:n] for n in range(len(bank_code), len(area_code) + 1)]
    rows = conn.execute(
        select(areas.c.code, areas.c.level)
        .where(areas.c.code.in_(prefixes))
        .order_by(func.length(areas.c.code).desc())
    ).all()
    return [(row.code, row.level) for row in rows]


def find_matches(
    conn: Connection,
    settings: TimebankSettings,
    case: CaseView,
    at: dt.datetime,
    tz: dt.tzinfo,
) -> list[Match]:
    """The volunteers who can take the case, best first (see the module docstring)."""
    try:
        bank = account_views.bank_area(conn, settings, case.area_code)
    except NotFound:  # a case placed above any community: no bank to match in
        return []
    if not bank.id:
        return []  # no member yet in this community
    skill = needed_skill(case.service, case.fields)
    home = aliased(areas, name="home")
    since = at - dt.timedelta(days=RECENT_DAYS)
    open_cases = (
        select(func.count())
        .where(
            cases.c.handler_id == handlers.c.id,
            cases.c.status.in_(OPEN_STATUSES),
            cases.c.ref != case.ref,  # the request being routed is not load yet
        )
        .correlate(handlers)
        .scalar_subquery()
    )
    recent = (
        select(func.count())
        .where(pending.c.volunteer_account == accounts.c.id, pending.c.recorded_at >= since)
        .correlate(accounts)
        .scalar_subquery()
    )
    query = (
        select(handlers.c.code, home.c.code.label("home"), (open_cases + recent).label("load"))
        .select_from(handlers)
        .join(
            accounts,
            and_(
                accounts.c.person_id == handlers.c.person_id,
                accounts.c.kind == "member",
                accounts.c.status == "active",
                accounts.c.bank_id == bank.id,
            ),
        )
        .join(persons, persons.c.id == handlers.c.person_id)
        .outerjoin(households, households.c.id == persons.c.household_id)
        .outerjoin(home, home.c.id == households.c.area_id)
        .where(handlers.c.kind == "volunteer", AVAILABLE)
    )
    if skill:
        query = query.where(
            exists().where(
                handler_skills.c.handler_id == handlers.c.id, handler_skills.c.skill == skill
            )
        )
    if case.reporter_id is not None:
        query = query.where(handlers.c.person_id != case.reporter_id)
    chain = _chain(conn, case.area_code, bank.code)
    found = []
    for row in conn.execute(query, availability_params(at, tz)):  # type: ignore[arg-type]
        tier = next(
            (i for i, (code, _) in enumerate(chain) if (row.home or "").startswith(code)),
            len(chain),
        )
        near_code, near_level = chain[min(tier, len(chain) - 1)]
        found.append(Match(row.code, tier, near_code, near_level, int(row.load)))
    found.sort(key=lambda m: (m.tier, m.load, m.handler_code))
    return found[: settings.match_limit]


def reason(match: Match, skill: str | None) -> str:
    level = LEVEL_NAMES.get(match.near_level, match.near_level)
    has = f"，技能 {skill}" if skill else ""
    skill_en = f" with skill {skill}" if skill else ""
    return (
        f"时间银行志愿者{has}，同{level} {match.near_code}，近期任务 {match.load} 件 / "
        f"time-bank volunteer{skill_en}, same {match.near_level} {match.near_code}, "
        f"recent load {match.load}"
    )


def propose(case: CaseView, ctx: Context) -> list[Candidate]:
    """The ``c365_propose_handlers`` hook's work: candidates for time-bank requests only."""
    if not is_timebank(case.service):
        return []
    settings = ctx.settings["timebank"]
    skill = needed_skill(case.service, case.fields)
    matches = find_matches(ctx.connection, settings, case, ctx.now, ctx.tz)
    return [Candidate(m.handler_code, m.score, reason(m, skill)) for m in matches]
