"""HTTP for three-way calls (三方通话), registered before the generic seat actions.

POST /api/seats/{seat}/threeway          {"unit_id": 3} or {"number": "057187001200"} (+ "unit_id" for a unit's
                                          other number), "consult": true (talk to the unit first) -> the attempt
POST /api/seats/{seat}/threeway/join     after a consult: all three talk
POST /api/seats/{seat}/threeway/leave    the seat leaves; the caller and the unit go on
POST /api/seats/{seat}/threeway/cancel   before the unit joined: the unit's leg ends, the caller is back
GET  /api/seats/{seat}/threeway          {"attempt": {...} | null, "attempts": [...]}: the current one, and
                                          every attempt on the same call (oldest first)

Only the seat itself, with its own login token (hotline/access.py: OWN_SEAT; else 401 or 403).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hotline.threeway.machine import ThreewayRefused, TwCommand

from ..api import ApiError, dumps, json_body
from .service import ThreewayService

log = logging.getLogger(__name__)
THREEWAY: web.AppKey[ThreewayService] = web.AppKey("threeway", ThreewayService)


async def request_threeway(request: web.Request) -> web.Response:
    seat = request.match_info["seat"]
    body = await json_body(request)
    unit_id, number, consult = body.get("unit_id"), body.get("number"), body.get("consult", True)
    if unit_id is not None and (not isinstance(unit_id, int) or isinstance(unit_id, bool)):
        raise ApiError(400, "invalid-input", "unit_id: a unit's id (a number)", field="unit_id")
    if number is not None and not isinstance(number, str):
        raise ApiError(400, "invalid-input", "number: a phone number as text", field="number")
    if not isinstance(consult, bool):
        raise ApiError(400, "invalid-input", "consult: true or false", field="consult")
    log.info("seat %s: three-way asked over HTTP (unit %s, number %s)", seat, unit_id, number)
    try:
        attempt = await request.app[THREEWAY].request(seat, unit_id=unit_id, number=number, consult=consult)
    except ThreewayRefused as exc:
        log.info("seat %s: three-way refused: %s", seat, exc.message)
        raise
    return web.json_response({"attempt": attempt.to_json()}, dumps=dumps)


async def threeway_command(request: web.Request) -> web.Response:
    seat, name = request.match_info["seat"], request.match_info["command"]
    try:
        command = TwCommand(name)
    except ValueError:
        raise ApiError(404, "unknown-action", f"{name!r} is not a three-way action (join, leave, cancel)") from None
    attempt = await request.app[THREEWAY].command(seat, command)
    return web.json_response({"attempt": attempt.to_json(), "done": command.value}, dumps=dumps)


async def get_threeway(request: web.Request) -> web.Response:
    seat = request.match_info["seat"]
    service = request.app[THREEWAY]
    attempt = service.current(seat)
    body: dict[str, Any] = {
        "attempt": attempt.to_json() if attempt else None, "attempts": [a.to_json() for a in service.attempts(seat)],
    }  # fmt: skip
    return web.json_response(body, dumps=dumps)


def add_routes(app: web.Application, service: ThreewayService) -> None:
    app[THREEWAY] = service
    app.router.add_post("/api/seats/{seat}/threeway", request_threeway)
    app.router.add_get("/api/seats/{seat}/threeway", get_threeway)
    app.router.add_post("/api/seats/{seat}/threeway/{command}", threeway_command)
