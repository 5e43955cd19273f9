"""The three-way HTTP API behind the access guard: only the seat's own valid token goes through (else 401 /
403, and nothing is asked of the telephony)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.access import ACCESS, Access, guard
from hotline.api import errors
from hotline.recordings.qaauth import QaAuth
from hotline.seats import tokens
from hotline.seats.auth import SEAT_AUTH, SeatAuth
from hotline.threeway.http import add_routes
from hotline.threeway.machine import Attempt, TwCommand, TwState

KEY = b"0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class FakeThreeway:
    """Stands in for ThreewayService: records what the handlers asked of it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def _attempt(self, seat: str, state: TwState = TwState.REQUESTED) -> Attempt:
        return Attempt(f"c1-{len(self.asked)}", "c1", seat, "057187001200", True, T0, state=state)

    async def request(self, seat: str, *, unit_id: int | None, number: str | None, consult: bool) -> Attempt:
        self.asked.append((seat, "request"))
        return self._attempt(seat)

    async def command(self, seat: str, command: TwCommand) -> Attempt:
        self.asked.append((seat, command.value))
        return self._attempt(seat, TwState.CONSULTING)

    def current(self, seat: str) -> Attempt | None:
        self.asked.append((seat, "current"))
        return None

    def attempts(self, seat: str) -> list[Attempt]:
        return []


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], FakeThreeway]]:
    app = web.Application(middlewares=[errors, guard])
    app[SEAT_AUTH] = SeatAuth(KEY, {"8001": "pw-one", "8002": "pw-two"})
    app[ACCESS] = Access(app[SEAT_AUTH], QaAuth(KEY, tmp_path / "staff.json"))
    fake = FakeThreeway()
    add_routes(app, fake)  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        yield client, fake


def good(seat: str) -> str:
    return tokens.sign(KEY, seat, int(time.time()) + 600)


CALLS = [
    ("POST", "/api/seats/8001/threeway", {"number": "057187001200"}, "request"),
    ("POST", "/api/seats/8001/threeway/join", None, "join"),
    ("POST", "/api/seats/8001/threeway/leave", None, "leave"),
    ("POST", "/api/seats/8001/threeway/cancel", None, "cancel"),
    ("GET", "/api/seats/8001/threeway", None, "current"),
]


@pytest.mark.parametrize(("method", "path", "body", "asked"), CALLS)
@pytest.mark.parametrize(
    ("name", "token", "status", "error"),
    [
        ("another seat's", "OTHER", 403, "not-your-seat"),
        ("no", "NONE", 401, "login-required"),
        ("tampered", "TAMPERED", 401, "token-invalid"),
        ("expired", "EXPIRED", 401, "token-expired"),
    ],
)
async def test_a_token_sent_must_be_valid_and_the_seats_own(
    served: tuple[TestClient[Any, Any], FakeThreeway], method: str, path: str, body: dict[str, Any] | None,
    asked: str, name: str, token: str, status: int, error: str,
) -> None:  # fmt: skip
    client, fake = served
    body_, _, sig = good("8001").rpartition(".")
    token = {"OTHER": good("8002"), "TAMPERED": f"{body_}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}",
             "EXPIRED": tokens.sign(KEY, "8001", int(time.time()) - 1), "NONE": ""}[token]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await client.request(method, path, json=body, headers=headers)
    got = await resp.json()
    assert (resp.status, got["error"]) == (status, error), (name, got)
    assert fake.asked == [], "a refused request must not reach the telephony"


@pytest.mark.parametrize(("method", "path", "body", "asked"), CALLS)
async def test_the_seats_own_token_goes_through(
    served: tuple[TestClient[Any, Any], FakeThreeway], method: str, path: str, body: dict[str, Any] | None,
    asked: str,
) -> None:  # fmt: skip
    client, fake = served
    headers = {"Authorization": f"Bearer {good('8001')}"}
    resp = await client.request(method, path, json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert fake.asked == [("8001", asked)]
