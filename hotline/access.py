"""Who may reach what over HTTP (访问控制): every route of the app in one table, checked by one middleware.

Citizens' personal data (numbers, names, addresses, what they said) is private: nothing that shows it is
open. Four kinds of login, each a signed token (`Authorization: Bearer`, or `?token=` for websockets):

- a seat (坐席): POST /api/session with its phone's SIP password (hotline/seats/auth.py);
- QA staff (质检员) and team leaders (班长): POST /api/staff/session (or /api/qa/session) with a user of the
  staff file, made with `hotline qa add-user NAME --role qa|leader` (hotline/recordings/qaauth.py);
- a handling unit (承办单位): the same login, a user made with `--role unit --unit ID`; it reaches only its
  own tickets, as the unit view shows them (hotline/units_portal).

What each route needs (RULES below): OPEN (pages, logins, health, aggregate metrics, reference lists);
SIGNED_IN (the hotline's own logins, a seat, QA or a team leader: tickets, units, calls, callbacks);
OWN_UNIT (a unit's login, for the unit in the path only: nothing else is open to a unit); SEAT_OR_LEADER
(a seat's own actions, and a team leader's on any seat); OWN_SEAT (only that seat: its three-way calls,
its pop feed); LEADER (the wallboard's live feed and reports, the unit directory's edits, the 回访 board);
HANDLER (recordings and QA: their handlers decide, per call, between QA and the seat's own; a unit's login
is refused there). A route that is not in the table is refused (500 `no-access-rule`), and a test checks
that every route of the app has a rule. A seat writes as itself only: a `by` in its request body (who did
it, kept in the histories) must be its own number; a unit's `by` is set by its handlers (`unit:<user>`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from hotline.recordings.qaauth import Principal, QaAuth

from .api import ApiError, loads_strict
from .seats.auth import SeatAuth, token_of

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    SEAT = "seat"
    QA = "qa"
    LEADER = "leader"
    UNIT = "unit"  # a handling unit (承办单位): its own tickets only


class Need(enum.Enum):
    OPEN = "open"
    SIGNED_IN = "signed_in"  # a seat, QA or a team leader (never a unit)
    STAFF = "staff"  # QA or a team leader
    LEADER = "leader"
    SEAT_OR_LEADER = "seat_or_leader"  # the seat in the path itself, or a team leader
    OWN_SEAT = "own_seat"  # the seat in the path itself
    OWN_UNIT = "own_unit"  # the handling unit in the path ({id}) itself
    HANDLER = "handler"  # the handler checks (recordings and QA)


N = Need
# (method, the route's path as registered) -> what it needs (HEAD as GET).
RULES: dict[tuple[str, str], Need] = {
    ("GET", "/"): N.OPEN,  # the wallboard page: it logs in before it reads anything
    ("GET", "/seat"): N.OPEN,
    ("GET", "/static/seat/{name}"): N.OPEN,  # the seat page's ES modules: code, no citizen's data
    ("GET", "/qa"): N.OPEN,
    ("GET", "/unit"): N.OPEN,  # the handling unit's page: it logs in before it reads anything
    ("GET", "/health"): N.OPEN,
    ("GET", "/metrics"): N.OPEN,  # counts only, no citizen's data: Prometheus scrapes it
    ("POST", "/api/session"): N.OPEN,
    ("GET", "/api/session"): N.OPEN,  # says itself whether the token is good
    ("POST", "/api/staff/session"): N.OPEN,
    ("POST", "/api/qa/session"): N.OPEN,
    ("GET", "/api/pause-reasons"): N.OPEN,
    ("GET", "/api/ticket-options"): N.OPEN,
    ("GET", "/api/calendar"): N.OPEN,
    ("GET", "/api/calls"): N.SIGNED_IN,
    ("GET", "/api/calls/{call_id}"): N.SIGNED_IN,
    ("GET", "/ws/floor"): N.STAFF,
    ("GET", "/api/floor"): N.STAFF,
    ("GET", "/api/reports/daily"): N.STAFF,
    ("GET", "/api/seats"): N.SIGNED_IN,
    ("GET", "/api/seats/{seat}/auto-answer"): N.SEAT_OR_LEADER,
    ("PUT", "/api/seats/{seat}/auto-answer"): N.SEAT_OR_LEADER,
    ("POST", "/api/seats/{seat}/{action}"): N.SEAT_OR_LEADER,
    ("GET", "/ws/seats/{seat}"): N.HANDLER,  # the seat's token, checked before the upgrade (seats/http.py)
    ("GET", "/api/seats/{seat}/callbacks"): N.SEAT_OR_LEADER,
    ("POST", "/api/seats/{seat}/threeway"): N.OWN_SEAT,
    ("GET", "/api/seats/{seat}/threeway"): N.OWN_SEAT,
    ("POST", "/api/seats/{seat}/threeway/{command}"): N.OWN_SEAT,
    ("POST", "/api/tickets"): N.SIGNED_IN,
    ("GET", "/api/tickets"): N.SIGNED_IN,
    ("GET", "/api/tickets/board"): N.STAFF,  # the wallboard's ticket deadlines (工单时限)
    ("GET", "/api/tickets/{id}"): N.SIGNED_IN,
    ("PATCH", "/api/tickets/{id}"): N.SIGNED_IN,
    ("POST", "/api/tickets/{id}/transitions"): N.SIGNED_IN,
    ("POST", "/api/tickets/{id}/calls"): N.SIGNED_IN,
    ("GET", "/api/units"): N.SIGNED_IN,
    ("GET", "/api/units/{id}"): N.SIGNED_IN,
    ("POST", "/api/units"): N.LEADER,
    ("PUT", "/api/units/{id}"): N.LEADER,
    ("DELETE", "/api/units/{id}"): N.LEADER,
    ("GET", "/api/units/{id}/tickets"): N.OWN_UNIT,  # the unit view: hotline/units_portal/view.py
    ("GET", "/api/units/{id}/tickets/{ticket}"): N.OWN_UNIT,
    ("POST", "/api/units/{id}/tickets/{ticket}/transitions"): N.OWN_UNIT,
    ("GET", "/api/callbacks/board"): N.STAFF,
    ("GET", "/api/callbacks/{task_id}"): N.SIGNED_IN,
    ("POST", "/api/callbacks/{task_id}/outcome"): N.SIGNED_IN,
    ("POST", "/api/callbacks/{task_id}/survey"): N.SIGNED_IN,
    ("GET", "/api/qa/samples"): N.HANDLER,
    ("POST", "/api/qa/sample"): N.HANDLER,
    ("GET", "/api/qa/reports"): N.HANDLER,
    ("GET", "/api/qa/audit"): N.HANDLER,
    ("GET", "/api/qa/scores/{call_id}"): N.HANDLER,
    ("PUT", "/api/qa/scores/{call_id}"): N.HANDLER,
    ("GET", "/api/recordings"): N.HANDLER,
    ("GET", "/api/recordings/{call_id}"): N.HANDLER,
    ("GET", "/api/recordings/{call_id}/audio"): N.HANDLER,
    ("POST", "/api/recordings/{call_id}/flag"): N.HANDLER,
}
ROLES: dict[Need, frozenset[Role]] = {
    N.SIGNED_IN: frozenset({Role.SEAT, Role.QA, Role.LEADER}),
    N.STAFF: frozenset({Role.QA, Role.LEADER}),
    N.LEADER: frozenset({Role.LEADER}),
    N.SEAT_OR_LEADER: frozenset({Role.SEAT, Role.LEADER}),
    N.OWN_SEAT: frozenset({Role.SEAT}),
    N.OWN_UNIT: frozenset({Role.UNIT}),
}
WHO_NEEDS = {
    N.SIGNED_IN: "a login (a seat, QA or a team leader)",
    N.STAFF: "a QA or team leader login",
    N.LEADER: "a team leader (班长) login",
    N.SEAT_OR_LEADER: "that seat's own login or a team leader's",
    N.OWN_SEAT: "that seat's own login",
    N.OWN_UNIT: "that handling unit's own login",
}


@dataclass(frozen=True, slots=True)
class Access:
    seats: SeatAuth
    staff: QaAuth

    def who(self, token: str | None) -> Principal | None:
        """The token's principal; None without a token; ApiError 401 for a bad or expired one."""
        if not token:
            return None
        found = self.staff.verify(token)  # QaAuthError (401) for a bad or expired one
        return found if found is not None else Principal(Role.SEAT.value, self.seats.check(token).seat)


def rule_of(method: str, path: str) -> Need | None:
    return RULES.get(("GET" if method == "HEAD" else method, path))


def check(need: Need, who: Principal | None, seat: str | None = None, unit: str | None = None) -> None:
    """Raise ApiError 401 (no login) or 403 (the wrong one) unless `who` may do what `need` says; `seat` and
    `unit` are the path's."""
    if need in (N.OPEN, N.HANDLER):
        return
    if who is None:
        raise ApiError(401, "login-required", f"log in first: this needs {WHO_NEEDS[need]}")
    if who.role not in ROLES[need]:
        raise ApiError(403, "not-allowed", f"{who.who} may not do this: it needs {WHO_NEEDS[need]}")
    if need in (N.SEAT_OR_LEADER, N.OWN_SEAT) and who.role == Role.SEAT and seat is not None and who.name != seat:
        raise ApiError(403, "not-your-seat", f"seat {who.name} may only act for itself, not for seat {seat}")
    if need is N.OWN_UNIT and (who.unit is None or unit != str(who.unit)):
        raise ApiError(403, "not-your-unit", f"{who.who} is unit {who.unit}'s login: it may not act for unit {unit}")


ACCESS: web.AppKey[Access] = web.AppKey("access", Access)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)  # who is asking, when known
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    path = route.resource.canonical if route.resource is not None else None
    if path is None:  # not found / method not allowed: aiohttp answers
        return await handler(request)
    need = rule_of(request.method, path)
    if need is None:
        log.error("no access rule for %s %s: refused (add it to hotline/access.py RULES)", request.method, path)
        raise ApiError(500, "no-access-rule", f"{request.method} {path} has no access rule yet")
    who = None if need in (N.OPEN, N.HANDLER) else request.app[ACCESS].who(token_of(request))
    check(need, who, request.match_info.get("seat"), request.match_info.get("id"))
    if who is not None:
        request[PRINCIPAL] = who
        if who.role == Role.SEAT and request.method in ("POST", "PUT", "PATCH") and request.body_exists:
            await _acting_as_itself(request, who.name)
    return await handler(request)


async def _acting_as_itself(request: web.Request, seat: str) -> None:
    """A seat writes tickets, outcomes and events as itself only: `by` (who did it, kept in the ticket's and
    the callback's history) must be its own number when given. The body is read once; aiohttp keeps it."""
    if request.content_type != "application/json":
        return
    try:
        body = loads_strict(await request.text())
    except (ValueError, ApiError):
        return  # the handler says what is wrong with it
    by = body.get("by") if isinstance(body, dict) else None
    if by is not None and by != seat:
        raise ApiError(403, "not-your-seat", f"by: seat {seat} may only act as itself, not as {str(by)[:64]!r}",
                       field="by")  # fmt: skip


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)
