"""HTTP for team leaders: the live figures, the daily report, Prometheus metrics, the wallboard page."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from .. import tasks
from ..api import ApiError, close_websockets_on_shutdown, dumps, track_websocket
from ..bus import Bus
from ..db.store import Store
from ..live import LiveState
from ..topics import TOPIC_BRIDGE, TOPIC_CALL, TOPIC_FLOOR, TOPIC_MISS, TOPIC_SEAT, as_json
from .metrics import render
from .service import IVR_MARGIN, FloorService
from .stats import daily_report, day_bounds, report_csv_rows

FLOOR: web.AppKey[FloorService] = web.AppKey("floor", FloorService)
FLOOR_LIVE: web.AppKey[LiveState] = web.AppKey("floor_live", LiveState)
FLOOR_STORE: web.AppKey[Store] = web.AppKey("floor_store", Store)
FLOOR_BUS: web.AppKey[Bus] = web.AppKey("floor_bus", object)  # type: ignore[arg-type]
STATIC = Path(__file__).resolve().parent.parent / "static"


async def get_floor(request: web.Request) -> web.Response:
    return web.json_response(request.app[FLOOR].view(), dumps=dumps)


async def daily(request: web.Request) -> web.Response:
    """GET /api/reports/daily?date=YYYY-MM-DD[&format=csv]: offered and lost per half hour, per seat."""
    floor = request.app[FLOOR]
    zone = floor.tracker.zone
    raw = request.query.get("date")
    try:
        day = date.fromisoformat(raw) if raw else floor.clock().astimezone(zone).date()
    except ValueError:
        raise ApiError(400, "invalid-input", f"date: {raw!r} is not a date like 2026-11-25", field="date") from None
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, "invalid-input", f"format: {fmt!r} is not json or csv", field="format")
    store = request.app[FLOOR_STORE]
    start, end = day_bounds(day, zone)
    report = daily_report(
        await store.calls_between(start - IVR_MARGIN, end),
        await store.misses_between(start, end),
        day,
        zone,
        floor.tracker.targets,
    )
    if fmt == "json":
        return web.json_response(report, dumps=dumps)
    out = io.StringIO()
    csv.writer(out).writerows(report_csv_rows(report))
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),  # BOM: spreadsheets then read the Chinese correctly
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="hotline-{day.isoformat()}.csv"'},
    )


async def metrics(request: web.Request) -> web.Response:
    link = request.app[FLOOR_LIVE].link()
    body = render(request.app[FLOOR].view(), link.stats, link.up)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "floor.html")


async def floor_ws(request: web.Request) -> web.WebSocketResponse:
    """Live calls and seats for the wallboard: a snapshot, then every change."""
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    track_websocket(request, ws)
    live = request.app[FLOOR_LIVE]
    async with request.app[FLOOR_BUS].subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_MISS, TOPIC_FLOOR, TOPIC_BRIDGE) as sub:
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
            await tasks.stop([pump])
    return ws


async def _pump(sub: Any, ws: web.WebSocketResponse) -> None:
    async for topic, message in sub:
        try:
            await ws.send_str(dumps({"topic": topic.name, **as_json(message)}))
        except ConnectionResetError:
            return  # the browser went away; floor_ws's loop ends and cleans up


def add_routes(app: web.Application, floor: FloorService, live: LiveState, store: Store, bus: Bus) -> None:
    app[FLOOR], app[FLOOR_LIVE], app[FLOOR_STORE], app[FLOOR_BUS] = floor, live, store, bus
    close_websockets_on_shutdown(app)
    app.router.add_get("/", index)
    app.router.add_get("/ws/floor", floor_ws)
    app.router.add_get("/api/floor", get_floor)
    app.router.add_get("/api/reports/daily", daily)
    app.router.add_get("/metrics", metrics)
