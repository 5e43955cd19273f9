"""HTTP for a handling unit (承办单位): its page and its own tickets, as the unit view shows them.

GET  /unit                                          the unit's page (static/unit.html): login, list, detail, moves
GET  /api/units/{id}/tickets                        {"unit": {"id", "name"}, "tickets": [unit view, ...], "contact"}
GET  /api/units/{id}/tickets/{ticket}               one ticket of the unit's, with its events; 404 for any other
POST /api/units/{id}/tickets/{ticket}/transitions   {"to": "签收" | "办理" | "反馈" | "退回", "comment": "…"}:
                                                    the reply (反馈) and the reason (退回) are required

Only that unit's own login reaches these (hotline/access.py, OWN_UNIT); `by` in the history is
`unit:<user>`, never taken from the request.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..access import principal_of
from ..api import ApiError, json_body
from ..tickets.http import json_reply, path_id
from ..tickets.store import TicketStore
from .desk import UnitDesk
from .view import CONTACT

DESK: web.AppKey[UnitDesk] = web.AppKey("unit_desk", UnitDesk)
PAGE = Path(__file__).resolve().parent.parent / "static" / "unit.html"


def _user(request: web.Request) -> str:
    who = principal_of(request)
    if who is None:  # the guard lets no one without a login through
        raise ApiError(401, "login-required", "log in first: this needs the handling unit's own login")
    return who.name


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE)


async def list_tickets(request: web.Request) -> web.Response:
    desk, unit_id = request.app[DESK], path_id(request, "id")
    name = await desk.name(unit_id)
    return json_reply({"unit": {"id": unit_id, "name": name}, "tickets": await desk.list(unit_id), "contact": CONTACT})


async def get_ticket(request: web.Request) -> web.Response:
    return json_reply(await request.app[DESK].one(path_id(request, "id"), path_id(request, "ticket")))


async def transition(request: web.Request) -> web.Response:
    body = await json_body(request)
    moved = await request.app[DESK].move(path_id(request, "id"), path_id(request, "ticket"), body, _user(request))
    return json_reply(moved)


def add_routes(app: web.Application, tickets: TicketStore) -> None:
    app[DESK] = UnitDesk(tickets)
    app.router.add_get("/unit", page)
    app.router.add_get("/api/units/{id}/tickets", list_tickets)
    app.router.add_get("/api/units/{id}/tickets/{ticket}", get_ticket)
    app.router.add_post("/api/units/{id}/tickets/{ticket}/transitions", transition)
