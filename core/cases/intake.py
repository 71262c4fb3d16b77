"""Intake (收集): from a draft to a stored case.

Resolve the reporter and the place, classify the service (plugins first, then the
core's keyword rules), validate (every problem at once), link a repeated demand to the
open case it repeats (重复诉求并单), and otherwise store a new case with its deadlines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from community365.db.schema import UTCDateTime, areas, cases, households, persons
from community365.errors import UsageError
from community365.registry.contact import InvalidPhone, parse_phone
from community365.values import CHANNELS, OPEN_STATUSES, CaseDraft, PersonRef, Problem, ServiceSpec

CONTACT_LENGTH = 100  # cases.contact


class DraftRejected(UsageError):
    """A draft with problems: the message lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"case not taken in: {listed}")


@attrs.frozen
class Place:
    area_id: int
    area_code: str
    household_id: int | None = None
    household_code: str | None = None


def classify_by_keywords(text: str, services: Sequence[ServiceSpec]) -> str | None:
    """The service whose keywords match the most of ``text`` (longest matches first);
    None when no keyword occurs."""
    best: tuple[int, int] = (0, 0)
    found = None
    for spec in services:
        hits = [k for k in spec.keywords if k and k in text]
        score = (len(hits), sum(len(k) for k in hits))
        if hits and score > best:
            best, found = score, spec.code
    return found


def check_draft(draft: CaseDraft) -> list[Problem]:
    problems = []
    if draft.channel not in CHANNELS:
        problems.append(Problem("channel", f"expected one of {', '.join(CHANNELS)}"))
    if not draft.text.strip():
        problems.append(Problem("text", "say what the resident asks for"))
    if len(draft.contact.strip()) > CONTACT_LENGTH:
        problems.append(Problem("contact", f"at most {CONTACT_LENGTH} characters"))
    if draft.received_at.tzinfo is None:
        problems.append(Problem("received_at", "needs a timezone"))
    return problems


# The statements of every intake, built once and executed with parameters.
_PERSON = select(persons.c.id, persons.c.household_id).limit(2)
_BY_ID_NUMBER = _PERSON.where(persons.c.id_number == bindparam("key"))
_BY_PHONE = _PERSON.where(persons.c.phone == bindparam("key"))
_BY_NAME = _PERSON.join(households, households.c.id == persons.c.household_id).where(
    persons.c.name == bindparam("key"), households.c.code == bindparam("household")
)
_HOUSEHOLD = select(
    households.c.id, households.c.code, areas.c.id.label("aid"), areas.c.code.label("acode")
).join(areas, areas.c.id == households.c.area_id)
_HOUSEHOLD_BY_CODE = _HOUSEHOLD.where(households.c.code == bindparam("key"))
_HOUSEHOLD_BY_ID = _HOUSEHOLD.where(households.c.id == bindparam("key"))
_AREA_BY_CODE = select(areas.c.id, areas.c.code).where(areas.c.code == bindparam("key"))


def _repeat_query(by_reporter: bool, at_household: bool) -> Any:
    who = cases.c.reporter_id if by_reporter else cases.c.contact
    place = cases.c.household_id if at_household else cases.c.area_id
    return (
        select(cases.c.ref)
        .where(
            who == bindparam("who"),
            place == bindparam("place"),
            cases.c.service == bindparam("service"),
            cases.c.status.in_(OPEN_STATUSES),
            cases.c.received_at >= bindparam("since", type_=UTCDateTime),
        )
        .order_by(cases.c.received_at)
        .limit(1)
    )


_REPEATS = {(r, h): _repeat_query(r, h) for r in (True, False) for h in (True, False)}


def find_reporter(
    conn: Connection, ref: PersonRef | None
) -> tuple[int | None, int | None, list[Problem]]:
    """The reporter's person id and household id, or the problem finding them."""
    if ref is None:
        return None, None, []
    if ref.id_number:
        query, params = _BY_ID_NUMBER, {"key": ref.id_number.strip().upper()}
        what = "no person with this ID number"
    elif ref.phone:
        try:  # stored phones are normalised: 136-0399-0107 and +86 ... are 13603990107
            phone = parse_phone(ref.phone.strip())
        except InvalidPhone as exc:
            return None, None, [Problem("reporter", str(exc))]
        query, params = _BY_PHONE, {"key": phone}
        what = f"no person with phone {phone}"
    elif ref.name and ref.household_code:
        query = _BY_NAME
        params = {"key": ref.name.strip(), "household": ref.household_code.strip()}
        what = f"no person {ref.name!r} in household {ref.household_code!r}"
    else:
        return None, None, [Problem("reporter", "give an ID number, a phone, or name+household")]
    rows = conn.execute(query, params).all()
    if not rows:
        return None, None, [Problem("reporter", what)]
    if len(rows) > 1:
        return None, None, [Problem("reporter", "several persons match; give the ID number")]
    return rows[0].id, rows[0].household_id, []


def _household_place(conn: Connection, query: Any, key: Any) -> Place | None:
    row = conn.execute(query, {"key": key}).first()
    return None if row is None else Place(row.aid, row.acode, row.id, row.code)


def find_place(
    conn: Connection, draft: CaseDraft, reporter_household: int | None
) -> tuple[Place | None, list[Problem]]:
    """Where the demand is: the household, else the area, else the reporter's household."""
    if draft.household_code:
        place = _household_place(conn, _HOUSEHOLD_BY_CODE, draft.household_code.strip())
        if place is None:
            return None, [Problem("household", f"no household {draft.household_code!r}")]
        return place, []
    if draft.area_code:
        row = conn.execute(_AREA_BY_CODE, {"key": draft.area_code.strip()}).first()
        if row is None:
            return None, [Problem("area", f"no area {draft.area_code!r}")]
        return Place(row.id, row.code), []
    if reporter_household is not None:
        return _household_place(conn, _HOUSEHOLD_BY_ID, reporter_household), []
    return None, [Problem("place", "give a household, building or area code")]


def open_repeat(
    conn: Connection,
    *,
    reporter_id: int | None,
    contact: str,
    place: Place,
    service: str,
    since: dt.datetime,
) -> str | None:
    """The reference of the open case this demand repeats, if any: same reporter (or
    outside contact), same place, same service, received since ``since``."""
    if reporter_id is None and not contact:
        return None
    by_reporter, at_household = reporter_id is not None, place.household_id is not None
    params = {
        "who": reporter_id if by_reporter else contact,
        "place": place.household_id if at_household else place.area_id,
        "service": service,
        "since": since,
    }
    return conn.execute(_REPEATS[by_reporter, at_household], params).scalar()
