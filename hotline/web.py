"""The HTTP side: one aiohttp app factory, resources in cleanup_ctx, thin handlers.

API errors are JSON: {"error": <stable id>, "message": <what was wrong>, "details": {...}} with an
HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ami_bridge.bridge import Bridge
from ami_bridge.client import AmiDisconnected, AmiError
from ami_bridge.constants import TOPIC_BRIDGE, TOPIC_CALL, TOPIC_SEAT
from ami_bridge.seat_control import SeatControl, SeatInputError

from .bus import Bus
from .db.store import Store

log = logging.getLogger(__name__)

BRIDGE: web.AppKey[Bridge] = web.AppKey("bridge", Bridge)
BUS: web.AppKey[Bus] = web.AppKey("bus", object)  # type: ignore[arg-type]
STORE: web.AppKey[Store] = web.AppKey("store", Store)
SEATS: web.AppKey[SeatControl] = web.AppKey("seats", SeatControl)
STATIC = Path(__file__).resolve().parent / "static"


class ApiError(web.HTTPException):
    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": error, "message": message, "details": details}, ensure_ascii=False),
            content_type="application/json",
        )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SeatInputError as exc:
        raise ApiError(400, "invalid-input", str(exc)) from None
    except AmiDisconnected as exc:
        raise ApiError(503, "asterisk-unreachable", str(exc)) from None
    except AmiError as exc:
        raise ApiError(502, "asterisk-refused", str(exc)) from None


async def health(request: web.Request) -> web.Response:
    bridge = request.app[BRIDGE]
    up = bridge.client.connected.is_set() and bridge.resynced.is_set()
    stats = bridge.stats
    body = {
        "ami": "up" if bridge.client.connected.is_set() else "down",
        "resynced": bridge.resynced.is_set(),
        "ami_address": bridge.client.address,
        "connections": bridge.client.connections,
        "resyncs": stats.resyncs,
        "last_resync_ms": None if stats.last_resync_s is None else round(stats.last_resync_s * 1000, 1),
        "events": stats.events,
        "illegal_events": stats.illegal,
    }
    return web.json_response(body, status=200 if up else 503)


async def list_calls(request: web.Request) -> web.Response:
    bridge = request.app[BRIDGE]
    live = [c.to_json() for c in bridge.calls.active()]
    recent = [c.to_json() for c in await request.app[STORE].recent_calls(limit=50)]
    return web.json_response({"live": live, "recent": recent}, dumps=_dumps)


async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    snap = request.app[BRIDGE].calls.get(call_id) or await request.app[STORE].get_call(call_id)
    if snap is None:
        raise ApiError(404, "call-not-found", f"no call with id {call_id!r}", call_id=call_id)
    return web.json_response(snap.to_json(), dumps=_dumps)


async def list_seats(request: web.Request) -> web.Response:
    return web.json_response([s.to_json() for s in request.app[BRIDGE].seats.all()], dumps=_dumps)


async def seat_action(request: web.Request) -> web.Response:
    seat, action = request.match_info["seat"], request.match_info["action"]
    control = request.app[SEATS]
    body = await _json_body(request)
    if action == "login":
        await control.login(seat)
    elif action == "logout":
        await control.logout(seat)
    elif action == "pause":
        reason = body.get("reason")
        if not isinstance(reason, str):
            raise ApiError(400, "invalid-input", "reason: required, one of " + ", ".join(control.pause_reasons))
        await control.pause(seat, reason)
    elif action == "resume":
        await control.resume(seat)
    else:
        raise ApiError(404, "unknown-action", f"{action!r} is not a seat action (login, logout, pause, resume)")
    return web.json_response({"seat": seat, "done": action})


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-json", "the request body must be a JSON object")
    return body


async def floor_ws(request: web.Request) -> web.WebSocketResponse:
    """Live calls and seats for the floor view: a snapshot, then every change."""
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    bridge = request.app[BRIDGE]
    async with request.app[BUS].subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_BRIDGE) as sub:
        await ws.send_str(
            _dumps(
                {
                    "topic": "snapshot",
                    "calls": [c.to_json() for c in bridge.calls.active()],
                    "seats": [s.to_json() for s in bridge.seats.all()],
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
        await ws.send_str(_dumps({"topic": topic, **message}))


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "floor.html")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def make_app(
    bridge: Bridge,
    bus: Bus,
    store: Store,
    seats: SeatControl,
    extra_ctx: Callable[[web.Application], AsyncIterator[None]] | None = None,
) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[BRIDGE], app[BUS], app[STORE], app[SEATS] = bridge, bus, store, seats
    if extra_ctx is not None:
        app.cleanup_ctx.append(extra_ctx)
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    app.router.add_get("/api/seats", list_seats)
    app.router.add_post("/api/seats/{seat}/{action}", seat_action)
    app.router.add_get("/ws/floor", floor_ws)
    return app
