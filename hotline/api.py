"""What every HTTP handler shares: the JSON error shape and JSON helpers.

API errors are JSON: {"error": <stable id>, "message": <what was wrong>, "details": {...}} with the HTTP
status of the error's kind (hotline/errors.py), written by one middleware (`errors`); one strict JSON body
parser (`json_body`) for every route.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from ami_bridge.client import AmiDisconnected, AmiError
from ami_bridge.seat_control import SeatInputError

from .errors import HotlineError, Kind

log = logging.getLogger(__name__)


class ApiError(HotlineError):
    """An error an HTTP handler finds in the request itself (a missing field, a path id that is no id), given
    with the status it answers with: the one kind of error that names a status, and only at the edge."""

    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        super().__init__(message, error=error, kind=KIND_OF[status], **details)

    @property
    def status(self) -> int:
        return STATUS[self.kind]

    @property
    def text(self) -> str:
        return dumps(self.to_json())


# Each kind of error answers with one status (hotline/errors.py); nowhere else is a status chosen.
STATUS: dict[Kind, int] = {
    Kind.INVALID: 400, Kind.UNAUTHENTICATED: 401, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409,
    Kind.GONE: 410, Kind.TOO_MANY: 429, Kind.BROKEN: 500, Kind.UPSTREAM: 502, Kind.UNAVAILABLE: 503,
}  # fmt: skip
KIND_OF = {status: kind for kind, status in STATUS.items()}
# The layers below hotline (they cannot import errors.py): their errors' kind and id, by class, most precise first.
BELOW: tuple[tuple[type[Exception], Kind, str], ...] = (
    (SeatInputError, Kind.INVALID, "invalid-input"),
    (AmiDisconnected, Kind.UNAVAILABLE, "asterisk-unreachable"),
    (AmiError, Kind.UPSTREAM, "asterisk-refused"),
)


def error_response(exc: HotlineError) -> web.Response:
    return web.json_response(exc.to_json(), status=STATUS[exc.kind], dumps=dumps)


def from_below(exc: Exception) -> HotlineError | None:
    for cls, kind, error in BELOW:
        if isinstance(exc, cls):
            return HotlineError(str(exc), error=error, kind=kind)
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The app's outermost middleware: every HotlineError (and the bridge's own errors) as the JSON error body
    {"error": <stable id>, "message": <what was wrong>, "details": {...}} with its kind's status."""
    try:
        return await handler(request)
    except HotlineError as exc:
        found: HotlineError = exc
    except (SeatInputError, AmiError) as exc:
        found = from_below(exc) or HotlineError(str(exc), kind=Kind.BROKEN)
    if STATUS[found.kind] >= 500:
        log.warning("%s %s: %s (%s)", request.method, request.path, found.message, found.error)
    return error_response(found)


# The app's open websockets (the wallboard's, the seat pages'): closed when the app shuts down, so that a stop
# of the service does not wait for each page's heartbeat to time out.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets", weakref.WeakSet)


def close_websockets_on_shutdown(app: web.Application) -> None:
    """Before the app starts (once is enough; again is harmless)."""
    if WEBSOCKETS not in app:
        app[WEBSOCKETS] = weakref.WeakSet()
        app.on_shutdown.append(close_websockets)


def track_websocket(request: web.Request, ws: web.WebSocketResponse) -> None:
    if (open_ := request.app.get(WEBSOCKETS)) is not None:
        open_.add(ws)


async def close_websockets(app: web.Application) -> None:
    """on_shutdown: every open page is told the server is going away (it reconnects to the next one)."""
    for ws in set(app.get(WEBSOCKETS, ())):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:  # json.loads keeps the last silently: which one the client meant is unknown
            raise ApiError(400, "invalid-json", f"the key {key[:40]!r} is given twice in one object", field=key[:40])
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ApiError(400, "invalid-json", f"{name} is not a JSON value (give a number, or null)")


def loads_strict(text: str) -> Any:
    """JSON as the standard says it: a key given twice and NaN/Infinity are refused, not guessed at."""
    return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, strictly (loads_strict); {} for no body. Every route reads its body here."""
    if not request.body_exists:  # not can_read_body: the access guard may have read it (aiohttp keeps it)
        return {}
    try:
        body = loads_strict(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid-json", f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-json", "the request body must be a JSON object")
    return body
