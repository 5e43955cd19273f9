"""The HTTP side: one aiohttp app factory; each feature adds its routes through its plugin (hotline/plugins.py).

API errors are JSON: {"error": <stable id>, "message": <what was wrong>, "details": {...}}, written by one
middleware (hotline/api.py `errors`) with the status of the error's kind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .access import ACCESS, Access, guard
from .api import ApiError, close_websockets_on_shutdown, dumps, errors
from .bus import Bus
from .db.store import Store
from .live import LiveState
from .plugin import Core, Plugin
from .recordings.plugin import STAFF
from .seats.plugin import SEAT_AUTH
from .survey.store import SurveyStore

log = logging.getLogger(__name__)

LIVE: web.AppKey[LiveState] = web.AppKey("live", LiveState)
STORE: web.AppKey[Store] = web.AppKey("store", Store)
BUS: web.AppKey[Bus] = web.AppKey("bus", object)  # type: ignore[arg-type]


async def health(request: web.Request) -> web.Response:
    """200 while calls are followed (the AMI link up and resynced), else 503; `parts` says which part is down and
    why: Asterisk (its AMI link), the database (the write-behind keeps what it cannot save, and retries), the bus."""
    link = request.app[LIVE].link()
    stats = link.stats
    database = stats.save_error or await request.app[STORE].ping()
    bus = request.app[BUS].problem()
    asterisk = None if link.up else (link.why or "connected, rebuilding the view from Asterisk")
    parts: dict[str, dict[str, Any]] = {
        "asterisk": {"ok": asterisk is None, "why": asterisk},
        "database": {"ok": database is None, "why": database, "pending": stats.pending},
        "bus": {"ok": bus is None, "why": bus},
    }
    body = {
        "status": "ok" if not (asterisk or database or bus) else ("degraded" if link.up else "down"),
        "parts": parts,
        "ami": "up" if link.ami_up else "down",
        "resynced": link.resynced,
        "ami_address": link.address,
        "connections": link.connections,
        "resyncs": stats.resyncs,
        "last_resync_ms": None if stats.last_resync_s is None else round(stats.last_resync_s * 1000, 1),
        "events": stats.events,
        "illegal_events": stats.illegal,
    }
    return web.json_response(body, status=200 if link.up else 503)


async def list_calls(request: web.Request) -> web.Response:
    live = [c.to_json() for c in request.app[LIVE].calls()]
    recent = [c.to_json() for c in await request.app[STORE].recent_calls(limit=50)]
    return web.json_response({"live": live, "recent": recent}, dumps=dumps)


async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    snap = request.app[LIVE].call(call_id) or await request.app[STORE].get_call(call_id)
    if snap is None:
        raise ApiError(404, "call-not-found", f"no call with id {call_id!r}", call_id=call_id)
    survey = await SurveyStore(request.app[STORE].engine).get(call_id)  # the caller's rating, after the seat
    return web.json_response({**snap.to_json(), "survey": survey and survey.to_json()}, dumps=dumps)


def make_app(core: Core, plugins: Sequence[Plugin]) -> web.Application:
    """The service's app: the errors and access middlewares, the live calls and health, then each plugin's
    routes in the plugins' order."""
    app = web.Application(middlewares=[errors, guard])
    app[LIVE], app[STORE], app[BUS] = core.live, core.store, core.bus
    app[ACCESS] = Access(core.need(SEAT_AUTH), core.need(STAFF))
    close_websockets_on_shutdown(app)
    app.router.add_get("/health", health)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    for plugin in plugins:
        plugin.routes(app, core)
    return app
