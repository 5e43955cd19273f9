"""Three-way call tests: the unit number the test trunk answers, POST as the seat, attempt-state predicates."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.helpers import realparts

UNIT = "057187001200"


async def post(service: Any, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """POST as the seat of the URL (/api/seats/<seat>/...), with its own login."""
    seat = url.split("/api/seats/")[1].split("/")[0]
    headers = realparts.seat_headers(service, seat)
    async with aiohttp.ClientSession(headers=headers) as http, http.post(url, json=body or {}) as resp:
        return resp.status, await resp.json()


def tw_state(*states: str) -> Any:
    return lambda m: "attempt_id" in m and m.get("state") in states
