"""What every HTTP handler shares: the JSON error shape and JSON helpers.

API errors are JSON: {"error": <stable id>, "message": <what was wrong>, "details": {...}} with an
HTTP status.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from aiohttp import WSCloseCode, web


class ApiError(web.HTTPException):
    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": error, "message": message, "details": details}, ensure_ascii=False),
            content_type="application/json",
        )


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


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:  # not can_read_body: the access guard may have read it (aiohttp keeps it)
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-json", "the request body must be a JSON object")
    return body
