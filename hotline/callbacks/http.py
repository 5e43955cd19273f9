"""HTTP for the 回访 dialer.

GET  /api/callbacks/board                 the team leader's view: overdue, due today, due tomorrow, per seat,
                                           raised (near the deadline), calendar warnings, survey_enabled
GET  /api/callbacks/{id}                  a task with its attempts
GET  /api/seats/{seat}/callbacks          the seat's own open callbacks, earliest deadline first, and
                                           survey_enabled (HOTLINE_CALLBACK_SURVEY: the page offers 转自动回访)
POST /api/callbacks/{id}/outcome          {"outcome": "满意" | "基本满意" | "不满意", "comment": "…", "by": "8001"}
POST /api/callbacks/{id}/survey           {"survey": true | false}: the IVR makes this 回访 (keys 1–3) when
                                           HOTLINE_CALLBACK_SURVEY is on; a pending ticket callback only
"""

from __future__ import annotations

from aiohttp import web

from ami_bridge.seat_control import check_seat

from ..api import ApiError, dumps, json_body
from ..bus import Bus
from ..tickets.store import TicketStore
from .outcome import record_outcome
from .schedule import IllegalTaskTransition
from .store import CallbackStore

CALLBACKS: web.AppKey[CallbackStore] = web.AppKey("callbacks", CallbackStore)
CB_TICKETS: web.AppKey[TicketStore] = web.AppKey("callback-tickets", TicketStore)
CB_BUS: web.AppKey[Bus] = web.AppKey("callback-bus", object)  # type: ignore[arg-type]
CB_SURVEY: web.AppKey[bool] = web.AppKey("callback-survey", bool)  # HOTLINE_CALLBACK_SURVEY: the IVR calls marked tasks


def _task_id(request: web.Request) -> int:
    raw = request.match_info["task_id"]
    if not raw.isdigit():
        raise ApiError(400, "invalid-input", f"task id: {raw!r} is not a number", field="task_id")
    return int(raw)


async def get_task(request: web.Request) -> web.Response:
    task_id = _task_id(request)
    return web.json_response(await request.app[CALLBACKS].get(task_id), dumps=dumps)


async def post_outcome(request: web.Request) -> web.Response:
    task_id = _task_id(request)
    body = await json_body(request)
    app = request.app
    view = await record_outcome(app[CALLBACKS], app[CB_TICKETS], app[CB_BUS], task_id, body)
    return web.json_response(view, dumps=dumps)


async def post_survey(request: web.Request) -> web.Response:
    task_id = _task_id(request)
    survey = (await json_body(request)).get("survey")
    if not isinstance(survey, bool):
        raise ApiError(400, "invalid-input", "survey: true or false (the IVR makes this callback)", field="survey")
    store = request.app[CALLBACKS]
    try:
        await store.mark_survey(task_id, survey)
    except IllegalTaskTransition as exc:  # the survey flag in particular: say so
        raise ApiError(409, "callback-not-pending", f"survey: {exc}", task_id=task_id) from None
    return web.json_response(await store.get(task_id), dumps=dumps)


async def seat_callbacks(request: web.Request) -> web.Response:
    seat = check_seat(request.match_info["seat"])
    tasks = await request.app[CALLBACKS].for_seat(seat)
    return web.json_response({"seat": seat, "survey_enabled": request.app[CB_SURVEY], "tasks": tasks}, dumps=dumps)


async def board(request: web.Request) -> web.Response:
    store = request.app[CALLBACKS]
    view = await store.leader_view(store.clock())
    return web.json_response({**view, "survey_enabled": request.app[CB_SURVEY]}, dumps=dumps)


def add_routes(app: web.Application, store: CallbackStore, tickets: TicketStore, bus: Bus, *, survey: bool) -> None:
    """`survey`: the automated survey callback is on (HOTLINE_CALLBACK_SURVEY); the lists say so, so the pages
    offer the mark only when the IVR would make the call."""
    app[CALLBACKS], app[CB_TICKETS], app[CB_BUS], app[CB_SURVEY] = store, tickets, bus, survey
    app.router.add_get("/api/callbacks/board", board)
    app.router.add_get("/api/callbacks/{task_id}", get_task)
    app.router.add_post("/api/callbacks/{task_id}/outcome", post_outcome)
    app.router.add_post("/api/callbacks/{task_id}/survey", post_survey)
    app.router.add_get("/api/seats/{seat}/callbacks", seat_callbacks)
