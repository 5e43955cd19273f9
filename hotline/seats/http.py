"""HTTP for seats (坐席): the seat page, seat actions, pause reasons, and one seat's websocket.

GET  /seat                                   the seat page (static/seat.html)
GET  /static/seat/{name}                     its ES modules (static/seat/*.js, no build step), public, no-cache
GET  /api/seats                              every seat's state
POST /api/seats/{seat}/login|logout|pause|resume|hangup
GET  /api/seats/{seat}/auto-answer          {"seat": "8001", "auto_answer": "off" | "call-info" | "alert-info"}
PUT  /api/seats/{seat}/auto-answer          {"auto_answer": ...}: how the seat's phone is asked to pick up
                                             by itself after two rings (per phone type; headset seats)
GET  /api/pause-reasons                      {"pause_reasons": [...], "miss_reason": "未接"}
GET  /ws/seats/{seat}?token=...              the seat's page: a snapshot of that seat (and its current screen pop),
                                             then only its own changes, misses and pops
POST /api/session, GET /api/session          seat login with the phone's SIP password -> token (auth.py)

The websocket needs the seat's login token (`?token=`, or `Authorization: Bearer`): missing, wrong
or expired -> 401, another seat's -> 403, as JSON before the upgrade. The REST seat actions do not
require a token yet; one that is sent must be valid and the seat's own.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ami_bridge.constants import AutoAnswer, LegRole, SeatState
from ami_bridge.seat_control import SeatControl, SeatInputError, check_seat
from ami_bridge.snapshots import SeatSnapshot
from hotline.topics import TOPIC_MISS, TOPIC_POP, as_json

from .. import tasks
from ..api import ApiError, close_websockets_on_shutdown, dumps, json_body, track_websocket
from ..bus import Bus, BusError
from ..live import LiveState
from ..pops.current import CurrentPops, PopJson
from . import auth as seat_auth
from .auth import SEAT_AUTH, SeatAuth, token_of
from .feed import Inbox, SeatFeed

log = logging.getLogger(__name__)

SEAT_CONTROL: web.AppKey[SeatControl] = web.AppKey("seat_control", SeatControl)
SEAT_LIVE: web.AppKey[LiveState] = web.AppKey("seat_live", LiveState)
SEAT_FEED: web.AppKey[SeatFeed] = web.AppKey("seat_feed", SeatFeed)
SEAT_POPS: web.AppKey[CurrentPops] = web.AppKey("seat_pops", object)  # type: ignore[arg-type]
PAGE = Path(__file__).resolve().parent.parent / "static" / "seat.html"
ASSETS = PAGE.parent / "seat"  # the page's ES modules, loaded by seat.html (<script type="module">)
ASSET_NAME = re.compile(r"[a-z][a-z0-9_-]*\.js")  # a plain file name: no path, no dots but the suffix
ACTIONS = ("login", "logout", "pause", "resume", "hangup")


async def seat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE)


async def seat_asset(request: web.Request) -> web.FileResponse:
    """One of the seat page's ES modules, by its plain name in static/seat/ (anything else 404). `no-cache`: the
    browser asks again (ETag, Last-Modified) at every load, so a deploy is picked up at once."""
    name = request.match_info["name"]
    path = ASSETS / name
    if not ASSET_NAME.fullmatch(name) or not path.is_file():
        raise ApiError(404, "not-found", f"no seat page module {name[:64]!r}")
    headers = {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache"}
    return web.FileResponse(path, headers=headers)


async def list_seats(request: web.Request) -> web.Response:
    return web.json_response([s.to_json() for s in request.app[SEAT_LIVE].seats()], dumps=dumps)


async def pause_reasons(request: web.Request) -> web.Response:
    """The reasons a seat may pause with, and the one the hotline pauses a seat with after misses."""
    return web.json_response(_reasons(request.app), dumps=dumps)


async def seat_action(request: web.Request) -> web.Response:
    seat, action = request.match_info["seat"], request.match_info["action"]
    control = request.app[SEAT_CONTROL]
    if action not in ACTIONS:
        raise ApiError(404, "unknown-action", f"{action!r} is not a seat action ({', '.join(ACTIONS)})")
    body = await json_body(request)
    log.info("seat %s: %s asked over HTTP from %s", seat, action, request.remote)
    if action == "login":
        await control.login(seat)
    elif action == "logout":
        await control.logout(seat)
    elif action == "pause":
        reason = body.get("reason")
        if not isinstance(reason, str):
            raise ApiError(
                400, "invalid-input", "reason: required, one of " + ", ".join(control.pause_reasons), field="reason"
            )
        await control.pause(seat, reason)
    elif action == "hangup":
        channel = seat_channel(request.app[SEAT_LIVE], seat)
        if channel is None:
            raise ApiError(409, "no-live-call", f"seat {seat} has no call to hang up", seat=seat)
        await control.hang_up(seat, channel)
    else:
        await control.resume(seat)
    return web.json_response({"seat": seat, "done": action})


def seat_channel(live: LiveState, seat: str) -> str | None:
    """The seat's own live channel of the call ringing or connected there (its phone's leg)."""
    snap = live.seat(seat)
    call = live.call(snap.call_id) if snap is not None and snap.call_id else None
    if call is None:
        return None
    legs = [leg for leg in call.legs if leg.role is LegRole.SEAT and leg.ended_at is None]
    mine = [leg.channel for leg in legs if leg.channel.startswith(f"PJSIP/{seat}-")]
    return mine[-1] if mine else None


async def get_auto_answer(request: web.Request) -> web.Response:
    seat = request.match_info["seat"]
    mode = await request.app[SEAT_CONTROL].auto_answer(seat)
    return web.json_response({"seat": seat, "auto_answer": mode.value})


async def put_auto_answer(request: web.Request) -> web.Response:
    seat = request.match_info["seat"]
    body = await json_body(request)
    mode = body.get("auto_answer")
    if not isinstance(mode, str):
        choices = ", ".join(m.value for m in AutoAnswer)
        raise ApiError(400, "invalid-input", f"auto_answer: required, one of {choices}", field="auto_answer")
    log.info("seat %s: auto-answer %s asked over HTTP from %s", seat, mode, request.remote)
    done = await request.app[SEAT_CONTROL].set_auto_answer(seat, mode)
    return web.json_response({"seat": seat, "auto_answer": done.value})


async def seat_ws(request: web.Request) -> web.WebSocketResponse:
    """One seat's page: a snapshot of the seat and its current pop, then only that seat's changes, misses
    (未接) and pops. Needs the seat's token; closes (4401) when the token expires."""
    try:
        seat = check_seat(request.match_info["seat"])
    except SeatInputError as exc:  # refused before the upgrade, as JSON
        raise ApiError(400, "invalid-input", str(exc), field="seat") from None
    try:
        claims = request.app[SEAT_AUTH].check(token_of(request), seat)
    except ApiError:
        log.warning("seat %s: page refused (no valid token for this seat) from %s", seat, request.remote)
        raise
    live = request.app[SEAT_LIVE]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    track_websocket(request, ws)
    log.info("seat %s: page connected from %s", seat, request.remote)
    try:
        async with request.app[SEAT_FEED].listen(seat) as inbox:
            pop = await _current_pop(request.app, seat)
            snapshot = {"topic": "snapshot", "seat": seat_view(live, seat), **_reasons(request.app), "pop": pop}
            await ws.send_str(dumps(snapshot))
            if pop is not None:
                log.info("seat %s: page given its current pop again (call %s, %s)", seat, pop.get("call_id"),
                         pop.get("state"))  # fmt: skip
            pump = asyncio.create_task(_pump(inbox, ws, live, seat), name=f"seat-ws {seat}")
            try:
                async with asyncio.timeout_at(_loop_time_at(claims.expires)):
                    async for msg in ws:
                        if msg.type is WSMsgType.ERROR:
                            log.warning("seat %s: page websocket error: %s", seat, ws.exception())
                            break
            except TimeoutError:
                log.info("seat %s: login token expired; closing the page's websocket", seat)
                await ws.close(code=4401, message=b"token expired")
            finally:
                await tasks.stop([pump])
    finally:
        await ws.close()
        log.info("seat %s: page disconnected", seat)
    return ws


def _loop_time_at(epoch: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + max(0.0, epoch - time.time())


async def _current_pop(app: web.Application, seat: str) -> PopJson | None:
    try:
        return await app[SEAT_POPS].get(seat)
    except BusError as exc:
        log.error("seat %s: %s; the page connects without its current pop", seat, exc)
        return None


async def _pump(inbox: Inbox, ws: web.WebSocketResponse, live: LiveState, seat: str) -> None:
    dropped = 0
    async for topic, message in inbox:
        data = as_json(message)
        if topic == TOPIC_POP:
            out = {"topic": topic.name, **data}
            log.info("seat %s: pop for call %s (%s, rev %s) to the page", seat, data.get("call_id"),
                     data.get("state"), data.get("rev"))  # fmt: skip
        else:
            out = {"topic": topic.name, **data, "caller_number": _caller(live, seat, data.get("call_id"))}
        if topic == TOPIC_MISS:
            log.info("seat %s: telling the page it missed call %s", seat, data.get("call_id"))
        if inbox.dropped != dropped:
            log.warning("seat %s: %d messages for the page dropped (it reads too slowly)", seat,
                        inbox.dropped - dropped)  # fmt: skip
            dropped = inbox.dropped
        try:
            await ws.send_str(dumps(out))
        except ConnectionResetError:
            return  # the page went away; the handler's loop ends and cleans up


def seat_view(live: LiveState, seat: str) -> dict[str, Any]:
    """The seat's snapshot (a logged-out one if the bridge has never seen it) with the caller's number."""
    snap = live.seat(seat) or SeatSnapshot(seat, SeatState.LOGGED_OUT)
    return {**snap.to_json(), "caller_number": _caller(live, seat, snap.call_id)}


def _caller(live: LiveState, seat: str, call_id: str | None) -> str | None:
    """The citizen's number of the call ringing or connected at `seat`, when the bridge knows it."""
    if not call_id:
        return None
    call = live.call(call_id) or next((c for c in live.calls() if c.seat == seat), None)
    return call.caller_number if call else None


def _reasons(app: web.Application) -> dict[str, Any]:
    return {"pause_reasons": list(app[SEAT_CONTROL].pause_reasons), "miss_reason": app[SEAT_LIVE].miss_reason}


def add_routes(
    app: web.Application, control: SeatControl, live: LiveState, bus: Bus, *, auth: SeatAuth, pops: CurrentPops
) -> None:
    feed = SeatFeed(bus)
    app[SEAT_CONTROL], app[SEAT_LIVE], app[SEAT_FEED], app[SEAT_POPS] = control, live, feed, pops

    async def close_feed(_: web.Application) -> None:
        await feed.close()

    app.on_cleanup.append(close_feed)
    close_websockets_on_shutdown(app)
    seat_auth.add_routes(app, auth)
    app.router.add_get("/seat", seat_page)
    app.router.add_get("/static/seat/{name}", seat_asset)
    app.router.add_get("/api/seats", list_seats)
    app.router.add_get("/api/seats/{seat}/auto-answer", get_auto_answer)
    app.router.add_put("/api/seats/{seat}/auto-answer", put_auto_answer)
    app.router.add_post("/api/seats/{seat}/{action}", seat_action)
    app.router.add_get("/api/pause-reasons", pause_reasons)
    app.router.add_get("/ws/seats/{seat}", seat_ws)
