"""The HTTP side: one aiohttp app factory, resources in cleanup_ctx, thin handlers.

API errors are JSON: {"error": <stable id>, "message": <what was wrong>, "details": {...}} with an
HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ami_bridge.seat_control import SeatControl
from hotline.recordings import http as recordings_http
from hotline.recordings.http import QaContext
from hotline.recordings.qaauth import QaAuth
from hotline.topics import TOPIC_BRIDGE, TOPIC_CALL, TOPIC_FLOOR, TOPIC_MISS, TOPIC_SEAT

from .access import ACCESS, Access, guard
from .api import ApiError, close_websockets_on_shutdown, dumps, errors, track_websocket
from .bus import Bus
from .callbacks import http as callbacks_http
from .callbacks.store import CallbackStore
from .db.store import Store
from .floor import http as floor_http
from .floor.http import FLOOR
from .floor.service import FloorService
from .live import LiveState
from .pops.current import CurrentPops
from .seats import http as seats_http
from .seats.auth import SeatAuth
from .survey.store import SurveyStore
from .threeway import http as threeway_http
from .threeway.service import ThreewayService
from .tickets import http as tickets_http
from .tickets.store import TicketStore
from .units_portal import http as units_portal_http

log = logging.getLogger(__name__)

LIVE: web.AppKey[LiveState] = web.AppKey("live", LiveState)
BUS: web.AppKey[Bus] = web.AppKey("bus", object)  # type: ignore[arg-type]
STORE: web.AppKey[Store] = web.AppKey("store", Store)
STATIC = Path(__file__).resolve().parent / "static"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def health(request: web.Request) -> web.Response:
    link = request.app[LIVE].link()
    stats = link.stats
    body = {
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


async def floor_ws(request: web.Request) -> web.WebSocketResponse:
    """Live calls and seats for the floor view: a snapshot, then every change."""
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    track_websocket(request, ws)
    live = request.app[LIVE]
    async with request.app[BUS].subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_MISS, TOPIC_FLOOR, TOPIC_BRIDGE) as sub:
        await ws.send_str(
            dumps(
                {
                    "topic": "snapshot",
                    "calls": [c.to_json() for c in live.calls()],
                    "seats": [s.to_json() for s in live.seats()],
                    "floor": request.app[FLOOR].view(),
                }
            )
        )
        pump = asyncio.create_task(_pump(sub, ws))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    return ws


async def _pump(sub: Any, ws: web.WebSocketResponse) -> None:
    async for topic, message in sub:
        try:
            await ws.send_str(dumps({"topic": topic, **message}))
        except ConnectionResetError:
            return  # the browser went away; floor_ws's loop ends and cleans up


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "floor.html")


def make_app(
    live: LiveState,
    bus: Bus,
    store: Store,
    seats: SeatControl,
    floor: FloorService,
    extra_ctx: Callable[[web.Application], AsyncIterator[None]] | None = None,
    *,
    auth: SeatAuth,
    pops: CurrentPops,
    tickets: TicketStore | None = None,
    threeway: ThreewayService | None = None,
    qa: QaContext | None = None,
    callbacks: CallbackStore | None = None,
    callback_survey: bool = False,
    staff: QaAuth,
) -> web.Application:
    app = web.Application(middlewares=[errors, guard])
    app[LIVE], app[BUS], app[STORE] = live, bus, store
    app[ACCESS] = Access(auth, staff)
    close_websockets_on_shutdown(app)
    if extra_ctx is not None:
        app.cleanup_ctx.append(extra_ctx)
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    app.router.add_get("/ws/floor", floor_ws)
    floor_http.add_routes(app, floor, live, store)
    if threeway is not None:  # before the seat actions' /api/seats/{seat}/{action}
        threeway_http.add_routes(app, threeway)
    seats_http.add_routes(app, seats, live, bus, auth=auth, pops=pops)
    if tickets is not None:
        tickets_http.add_routes(app, tickets)
        units_portal_http.add_routes(app, tickets)
        if callbacks is not None:
            callbacks_http.add_routes(app, callbacks, tickets, bus, survey=callback_survey)
    if qa is not None:
        recordings_http.add_routes(app, qa)
    return app
