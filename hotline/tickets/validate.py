"""Checking what seats, units and ops send: each refusal names the field and the rule.

Phone numbers are kept as digits only, so that a caller's history is found however the number
was typed: mobiles 1[3-9] and 9 more digits; landlines with the area code, 0 + 10 or 2x + an
8-digit number, or 0 + a 3-digit code + 7 or 8 digits (0571-87001234 → 057187001234); +86 and
0086 are dropped. Guided numbers may also be short service numbers (110, 12348, 95598).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import Invalid
from .model import Category, NewTicket, Unit, Urgency

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0(?:10|2\d)[2-9]\d{7}$|^0[3-9]\d{2}[2-9]\d{6,7}$")
SHORT = re.compile(r"^1\d{2}$|^1\d{4}$|^9[56]\d{3}$")
SEAT = re.compile(r"^\d{3,6}$")
CALL_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
PHONE_RULE = (
    "a mobile (11 digits, 1[3-9]…, e.g. 13800138000) or a landline with its area code "
    "(0xx-xxxxxxxx or 0xxx-xxxxxxx(x), e.g. 0571-87001234)"
)
LIMITS = {
    "caller_name": 32, "district": 32, "street": 64, "address": 200, "content": 2000, "comment": 500,
    "by": 64, "name": 64, "area": 32, "hours": 64, "topic": 32,
}  # fmt: skip
TICKET_FIELDS = (
    "caller_number", "caller_name", "district", "street", "address", "content", "category", "urgency",
    "convenience", "seat", "call_id", "guided_to", "direct", "by",
)  # fmt: skip
EDIT_FIELDS = (
    "caller_number", "caller_name", "district", "street", "address", "content", "category", "urgency",
    "convenience", "by",
)  # fmt: skip
UNIT_FIELDS = ("name", "area", "phones", "categories", "topics", "hours")


class Problem(NamedTuple):
    field: str
    message: str


class InvalidInput(Invalid, ValueError):
    """One or more fields break a rule; nothing was saved. `problems` names each field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            field=problems[0].field, problems=[p._asdict() for p in problems],
        )  # fmt: skip

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([Problem(field, message)])

    def to_details(self) -> dict[str, Any]:
        return {"field": self.problems[0].field, "problems": [p._asdict() for p in self.problems]}


def normalise_phone(raw: str, *, short: bool = False) -> str | None:
    """The number as digits, or None when it is not a phone number (`short`: also 110, 12348 ...)."""
    s = re.sub(r"[\s\-()]", "", raw)
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif len(s) == 13 and s.startswith("86") and MOBILE.match(s[2:]):
        s = s[2:]
    if raw.strip().startswith(("+86", "0086")) and not MOBILE.match(s):
        s = "0" + s  # +86 10 8888 6666: the area code loses its 0 after the country code
    if MOBILE.match(s) or LANDLINE.match(s) or (short and SHORT.match(s)):
        return s
    return None


class Reader:
    """Reads one JSON object field by field, collecting every problem before refusing."""

    def __init__(self, body: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self.body, self.problems = body, []
        for key in body:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are {', '.join(known)}"
                self.problems.append(Problem(key, f"unknown field{hint}"))

    def bad(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message))

    def text(self, field: str, *, required: bool = False) -> str | None:
        value = self.body.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(field, "required, and must not be blank")
            return None
        if not isinstance(value, str):
            self.bad(field, f"must be text, not {type(value).__name__}")
            return None
        value = value.strip()
        limit = LIMITS.get(field)
        if limit is not None and len(value) > limit:
            self.bad(field, f"at most {limit} characters, got {len(value)}")
        return value

    def phone(self, field: str, *, required: bool = False, short: bool = False) -> str | None:
        raw = self.text(field, required=required)
        if raw is None:
            return None
        number = normalise_phone(raw, short=short)
        if number is None:
            extra = ", or a short service number (110, 12348, 95598)" if short else ""
            self.bad(field, f"{raw!r} is not a phone number: give {PHONE_RULE}{extra}")
        return number

    def choice(self, field: str, enum: type[Category] | type[Urgency], *, required: bool = False) -> Any:
        value = self.body.get(field)
        if value is None:
            if required:
                self.bad(field, f"required, one of {', '.join(enum)}")
            return None
        try:
            return enum(value)
        except ValueError:
            self.bad(field, f"{value!r} is not one of {', '.join(enum)}")
            return None

    def flag(self, field: str) -> bool:
        value = self.body.get(field, False)
        if not isinstance(value, bool):
            self.bad(field, f"must be true or false, not {value!r}")
            return False
        return value

    def pattern(self, field: str, regex: re.Pattern[str], rule: str) -> str | None:
        value = self.text(field)
        if value is not None and not regex.match(value):
            self.bad(field, f"{value!r} is not {rule}")
        return value

    def done(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems)


def new_ticket(body: Mapping[str, Any]) -> NewTicket:
    """A seat's new ticket, or an out-of-scope record when `guided_to` is given."""
    r = Reader(body, TICKET_FIELDS)
    call_id = r.pattern("call_id", CALL_ID, "a call id (letters, digits, '.', '-', '_'; at most 64)")
    guided_to = r.phone("guided_to", short=True)
    out_of_scope = guided_to is not None or "guided_to" in body
    ticket = NewTicket(
        caller_number=r.phone("caller_number", required=call_id is None) or "",
        content=r.text("content", required=True) or "",
        category=r.choice("category", Category, required=not out_of_scope),
        urgency=r.choice("urgency", Urgency) or Urgency.NORMAL,
        caller_name=r.text("caller_name"),
        district=r.text("district"),
        street=r.text("street"),
        address=r.text("address"),
        convenience=r.flag("convenience"),
        seat=r.pattern("seat", SEAT, "a seat extension (3 to 6 digits, e.g. 8001)"),
        call_id=call_id,
        guided_to=guided_to,
        direct=r.flag("direct"),
        by=r.text("by"),
    )
    if out_of_scope and ticket.direct:
        r.bad("direct", "an out-of-scope record (guided_to) is not a ticket to close directly; send one of the two")
    r.done()
    return ticket


def ticket_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a PATCH changes, checked (`by`, who edits, is returned apart under "by")."""
    r = Reader(body, EDIT_FIELDS)
    out: dict[str, Any] = {}
    for field in ("caller_name", "district", "street", "address", "by"):
        if field in body:
            out[field] = r.text(field)
    if "content" in body:
        out["content"] = r.text("content", required=True)
    if "caller_number" in body:
        out["caller_number"] = r.phone("caller_number", required=True)
    if "category" in body:
        out["category"] = r.choice("category", Category, required=True)
    if "urgency" in body:
        out["urgency"] = r.choice("urgency", Urgency, required=True)
    if "convenience" in body:
        out["convenience"] = r.flag("convenience")
    if not [k for k in out if k != "by"] and not r.problems:
        r.bad("body", f"nothing to change; editable fields: {', '.join(f for f in EDIT_FIELDS if f != 'by')}")
    r.done()
    return out


def transition_fields(body: Mapping[str, Any]) -> tuple[Any, str, int | None, str | None]:
    """(to, by, unit_id, comment) of a transition request; `to` is checked by the lifecycle."""
    r = Reader(body, ("to", "by", "unit_id", "comment"))
    if body.get("to") is None:
        r.bad("to", "required: the status to move to, e.g. 派单")
    by = r.text("by", required=True) or ""
    unit_id = body.get("unit_id")
    if unit_id is not None and (not isinstance(unit_id, int) or isinstance(unit_id, bool) or unit_id < 1):
        r.bad("unit_id", f"{unit_id!r} is not a unit id (a whole number from GET /api/units)")
        unit_id = None
    comment = r.text("comment")
    r.done()
    return body["to"], by, unit_id, comment


def unit(body: Mapping[str, Any], *, unit_id: int | None = None) -> Unit:
    """A handling unit from the API or a directory file; lists may also be text split by , ; or 、."""
    r = Reader(body, UNIT_FIELDS)
    name, area, hours = r.text("name", required=True), r.text("area", required=True), r.text("hours")
    phones: list[str] = []
    for raw in _items(r, "phones"):
        number = normalise_phone(raw, short=True)
        if number is None:
            r.bad("phones", f"{raw!r} is not a phone number: give {PHONE_RULE}")
        else:
            phones.append(number)
    if not phones and not any(p.field == "phones" for p in r.problems):
        r.bad("phones", "at least one phone number: emergencies are dispatched with a phone call")
    categories: list[Category] = []
    for raw in _items(r, "categories"):
        try:
            categories.append(Category(raw))
        except ValueError:
            r.bad("categories", f"{raw!r} is not one of {', '.join(Category)}")
    topics = _items(r, "topics")
    for topic in topics:
        if len(topic) > LIMITS["topic"]:
            r.bad("topics", f"{topic[:10]!r}…: a topic is at most {LIMITS['topic']} characters")
    r.done()
    return Unit(unit_id, name or "", area or "", tuple(phones), tuple(categories), tuple(topics), hours or "")


def _items(r: Reader, field: str) -> list[str]:
    value = r.body.get(field)
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;，；、]+", value) if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    r.bad(field, "must be a list of text, or text split by commas")
    return []
