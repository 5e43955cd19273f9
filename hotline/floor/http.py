"""HTTP for team leaders: the live figures, the daily report, Prometheus metrics, the wallboard page."""

from __future__ import annotations

import csv
import io
from datetime import date

from aiohttp import web

from ..api import ApiError, dumps
from ..db.store import Store
from ..live import LiveState
from .metrics import render
from .service import IVR_MARGIN, FloorService
from .stats import daily_report, day_bounds, report_csv_rows

FLOOR: web.AppKey[FloorService] = web.AppKey("floor", FloorService)
FLOOR_LIVE: web.AppKey[LiveState] = web.AppKey("floor_live", LiveState)
FLOOR_STORE: web.AppKey[Store] = web.AppKey("floor_store", Store)


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


def add_routes(app: web.Application, floor: FloorService, live: LiveState, store: Store) -> None:
    app[FLOOR], app[FLOOR_LIVE], app[FLOOR_STORE] = floor, live, store
    app.router.add_get("/api/floor", get_floor)
    app.router.add_get("/api/reports/daily", daily)
    app.router.add_get("/metrics", metrics)
