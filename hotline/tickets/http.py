"""HTTP for tickets (工单), handling units (承办单位) and the working-day calendar.

POST   /api/tickets                     file a ticket; {"call_id", "seat"} bind it to the call; "direct": true
                                        closes a 咨询/表扬 answered on the call (直办); "guided_to": "110" records
                                        an out-of-scope call and the number the caller was guided to
GET    /api/tickets?phone=…&limit=20    a caller's tickets: open ones first, then the newest
GET    /api/tickets/board               the team leader's deadlines board (工单时限): overdue (超期), due today, due
                                        the next working day; per unit and per kind; QA and team leaders only
GET    /api/tickets/{id}                one ticket with its calls, events, deadline and allowed moves
PATCH  /api/tickets/{id}                {"by": …, field: value}: the fields its status still allows
POST   /api/tickets/{id}/transitions    {"to": "派单", "unit_id": 3, "by": "8001", "comment": …}
POST   /api/tickets/{id}/calls          {"call_id": …, "by": …}: a repeat call about the same matter
GET    /api/ticket-options              categories, urgencies, statuses, the lifecycle table, guided numbers
GET    /api/units?q=&category=          the directory; POST /api/units, GET/PUT/DELETE /api/units/{id}
GET    /api/calendar                    the years the calendar knows, and a warning for this year or next if not
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..api import ApiError, dumps, json_body
from . import lifecycle, validate
from .deadlines import CONVENIENCE_COMPLAINT_DAYS, DISPATCH_DAYS, HANDLING_DAYS
from .model import GUIDED_NUMBERS, Category, TicketStatus, Transition, Urgency
from .store import TicketStore
from .validate import InvalidInput

TICKETS: web.AppKey[TicketStore] = web.AppKey("tickets", TicketStore)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def path_id(request: web.Request, name: str = "id") -> int:
    """The whole number in the path's `name`; 404 not-found for anything else."""
    raw = request.match_info[name]
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(404, "not-found", f"{raw[:20]!r} is not an id (a whole number)")
    return int(raw)


def json_reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


async def create_ticket(request: web.Request) -> web.Response:
    new = validate.new_ticket(await json_body(request))
    return json_reply((await request.app[TICKETS].create(new)).to_json(), status=201)


async def list_tickets(request: web.Request) -> web.Response:
    phone = request.query.get("phone", "").strip()
    if not phone:
        raise ApiError(400, "invalid-input", "phone: required, the caller's number", field="phone")
    if validate.normalise_phone(phone) is None:
        raise ApiError(
            400, "invalid-input", f"phone: {phone!r} is not a phone number: give {validate.PHONE_RULE}", field="phone"
        )
    raw = request.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ApiError(400, "invalid-input", f"limit: {raw!r} is not a whole number from 1 to 100", field="limit")
    found = await request.app[TICKETS].history(phone, int(raw))
    return json_reply({"phone": phone, "tickets": [t.to_json() for t in found]})


async def get_ticket(request: web.Request) -> web.Response:
    return json_reply((await request.app[TICKETS].get(path_id(request))).to_json())


async def patch_ticket(request: web.Request) -> web.Response:
    changes = validate.ticket_changes(await json_body(request))
    by = changes.pop("by", None)
    if not by:
        raise InvalidInput.one("by", "required: who edits (a seat number or a name)")
    return json_reply((await request.app[TICKETS].update(path_id(request), changes, by)).to_json())


async def transition(request: web.Request) -> web.Response:
    to, by, unit_id, comment = validate.transition_fields(await json_body(request))
    move = Transition(lifecycle.parse_status(to), by, unit_id, comment)
    return json_reply((await request.app[TICKETS].transition(path_id(request), move)).to_json())


async def add_call(request: web.Request) -> web.Response:
    body = await json_body(request)
    reader = validate.Reader(body, ("call_id", "by"))
    call_id = reader.pattern("call_id", validate.CALL_ID, "a call id (letters, digits, '.', '-', '_'; at most 64)")
    if call_id is None:
        reader.bad("call_id", "required: the id of the repeat call (GET /api/calls)")
    by = reader.text("by", required=True)
    reader.done()
    assert call_id is not None and by is not None
    return json_reply((await request.app[TICKETS].add_call(path_id(request), call_id, by)).to_json())


async def options(request: web.Request) -> web.Response:
    return json_reply(
        {
            "categories": [c.value for c in Category],
            "urgencies": [{"value": u.value, "label": u.label} for u in Urgency],
            "statuses": [s.value for s in TicketStatus],
            "transitions": {s.value: [t.value for t in lifecycle.ORDER if t in lifecycle.TRANSITIONS[s]]
                            for s in TicketStatus},
            "aliases": {k: v.value for k, v in lifecycle.ALIASES.items()},
            "direct_categories": [c.value for c in lifecycle.DIRECT_CATEGORIES],
            "guided_numbers": GUIDED_NUMBERS,
            "deadlines": {
                "dispatch_days": DISPATCH_DAYS, "handling_days": {c.value: n for c, n in HANDLING_DAYS.items()},
                "convenience_complaint_days": CONVENIENCE_COMPLAINT_DAYS, "emergency": "at once, phone the unit",
            },
        }
    )  # fmt: skip


async def list_units(request: web.Request) -> web.Response:
    category = request.query.get("category")
    cat = None
    if category:
        try:
            cat = Category(category)
        except ValueError:
            raise InvalidInput.one("category", f"{category!r} is not one of {', '.join(Category)}") from None
    units = await request.app[TICKETS].units.search(request.query.get("q", "").strip() or None, cat)
    return json_reply({"units": [u.to_json() for u in units]})


async def get_unit(request: web.Request) -> web.Response:
    return json_reply((await request.app[TICKETS].units.get(path_id(request))).to_json())


async def post_unit(request: web.Request) -> web.Response:
    unit = validate.unit(await json_body(request))
    return json_reply((await request.app[TICKETS].units.add(unit)).to_json(), status=201)


async def put_unit(request: web.Request) -> web.Response:
    unit_id = path_id(request)
    unit = validate.unit(await json_body(request), unit_id=unit_id)
    return json_reply((await request.app[TICKETS].units.replace(unit_id, unit)).to_json())


async def delete_unit(request: web.Request) -> web.Response:
    unit_id = path_id(request)
    await request.app[TICKETS].units.delete(unit_id)
    return json_reply({"deleted": unit_id})


async def deadline_board(request: web.Request) -> web.Response:
    store = request.app[TICKETS]
    return json_reply(await store.deadline_board(store.clock()))


async def calendar(request: web.Request) -> web.Response:
    store = request.app[TICKETS]
    today = store.clock().astimezone(store.calendar.zone).date()
    return json_reply(store.calendar.status(today))


def add_routes(app: web.Application, tickets: TicketStore) -> None:
    app[TICKETS] = tickets
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/api/tickets", create_ticket),
        ("GET", "/api/tickets", list_tickets),
        ("GET", "/api/tickets/board", deadline_board),  # before {id}: the team leader's deadlines board
        ("GET", "/api/tickets/{id}", get_ticket),
        ("PATCH", "/api/tickets/{id}", patch_ticket),
        ("POST", "/api/tickets/{id}/transitions", transition),
        ("POST", "/api/tickets/{id}/calls", add_call),
        ("GET", "/api/ticket-options", options),
        ("GET", "/api/units", list_units),
        ("POST", "/api/units", post_unit),
        ("GET", "/api/units/{id}", get_unit),
        ("PUT", "/api/units/{id}", put_unit),
        ("DELETE", "/api/units/{id}", delete_unit),
        ("GET", "/api/calendar", calendar),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
