"""Seat login: tokens (pure), POST/GET /api/session, and the seat websocket refusing whoever is not that seat."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ami_bridge.bridge import Bridge
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from hotline.access import ACCESS, Access, guard
from hotline.api import errors
from hotline.bus import InProcessBus
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.recordings.qaauth import QaAuth
from hotline.seats import tokens
from hotline.seats.auth import SeatAuth, session_key
from hotline.seats.http import add_routes

KEY = b"0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000
PASSWORDS = {"8001": "pw-one", "8002": "pw-two"}


def tampered(token: str) -> str:
    body, _, sig = token.rpartition(".")
    return f"{body}.{('A' if sig[0] != 'A' else 'B')}{sig[1:]}"


@pytest.mark.parametrize(
    ("name", "token", "seat", "now", "reason"),
    [
        ("good", tokens.sign(KEY, "8001", NOW + 60), "8001", NOW, None),
        ("expired", tokens.sign(KEY, "8001", NOW - 1), "8001", NOW, "token-expired"),
        ("expires now", tokens.sign(KEY, "8001", NOW), "8001", NOW, "token-expired"),
        ("another seat's", tokens.sign(KEY, "8002", NOW + 60), "8001", NOW, "token-other-seat"),
        ("tampered signature", tampered(tokens.sign(KEY, "8001", NOW + 60)), "8001", NOW, "token-invalid"),
        ("seat changed", tokens.sign(KEY, "8002", NOW + 60).replace("8002", "8001"), "8001", NOW, "token-invalid"),
        ("expiry pushed", tokens.sign(KEY, "8001", NOW - 1).replace(str(NOW - 1), str(NOW + 9999)), "8001", NOW,
         "token-invalid"),
        ("other key", tokens.sign(b"x" * 32, "8001", NOW + 60), "8001", NOW, "token-invalid"),
        ("garbage", "hello", "8001", NOW, "token-invalid"),
        ("empty", "", "8001", NOW, "token-invalid"),
        ("huge", "v1.8001.1." + "A" * 5000, "8001", NOW, "token-invalid"),
    ],
)  # fmt: skip
def test_tokens(name: str, token: str, seat: str, now: int, reason: str | None) -> None:
    if reason is None:
        assert tokens.verify_for(KEY, token, seat, now) == tokens.Claims(seat, NOW + 60), name
        return
    with pytest.raises(tokens.TokenError) as refused:
        tokens.verify_for(KEY, token, seat, now)
    assert refused.value.reason == reason, name


def test_password_matches() -> None:
    assert tokens.password_matches("secret", "secret")
    assert not tokens.password_matches("secret", "Secret")
    assert not tokens.password_matches("secret", "")
    assert not tokens.password_matches(None, "\x00unknown-seat")  # an unknown seat never matches


def test_the_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    key = session_key(tmp_path / "state")
    path = tmp_path / "state" / "session.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 64
    assert session_key(tmp_path / "state") == key


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    bus = InProcessBus()
    bridge = Bridge(client=None, bus=bus, rule=RingRule())  # type: ignore[arg-type]
    app = web.Application(middlewares=[errors, guard])
    auth = SeatAuth(KEY, PASSWORDS, ttl_s=3600)
    app[ACCESS] = Access(auth, QaAuth(KEY, tmp_path / "staff.json"))
    add_routes(app, SeatControl(None, "hotline", ("小休",)), BridgeLive(bridge), bus, auth=auth, pops=MemoryPops())  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as c:
        yield c


async def login(client: TestClient[Any, Any], seat: str, password: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/session", json={"seat": seat, "password": password})
    return resp.status, await resp.json()


async def test_login_with_the_phones_password(client: TestClient[Any, Any]) -> None:
    status, body = await login(client, "8001", "pw-one")
    assert status == 200 and body["seat"] == "8001" and body["token"].startswith("v1.8001.")
    expires = tokens.verify(KEY, body["token"], time.time()).expires
    assert 3590 <= expires - time.time() <= 3600
    resp = await client.get("/api/session", headers={"Authorization": f"Bearer {body['token']}"})
    assert resp.status == 200 and (await resp.json())["seat"] == "8001"
    resp = await client.get("/api/session", params={"token": body["token"]})
    assert resp.status == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"seat": "8001", "password": "pw-two"}, 401, "wrong-password"),  # another seat's password
        ({"seat": "8001", "password": "PW-ONE"}, 401, "wrong-password"),
        ({"seat": "8099", "password": "pw-one"}, 401, "wrong-password"),  # no such seat: told the same
        ({"seat": "8001"}, 400, "invalid-input"),
        ({"seat": "80x1", "password": "pw-one"}, 400, "invalid-input"),
        ({"password": "pw-one"}, 400, "invalid-input"),
    ],
)
async def test_login_refused(client: TestClient[Any, Any], body: dict[str, Any], status: int, error: str) -> None:
    resp = await client.post("/api/session", json=body)
    got = await resp.json()
    assert (resp.status, got["error"]) == (status, error), got
    assert "token" not in got


async def test_session_check_refuses_a_bad_token(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/session")
    assert resp.status == 401 and (await resp.json())["error"] == "token-missing"
    resp = await client.get("/api/session", params={"token": tokens.sign(KEY, "8001", int(time.time()) - 5)})
    assert resp.status == 401 and (await resp.json())["error"] == "token-expired"


def good(seat: str) -> str:
    return tokens.sign(KEY, seat, int(time.time()) + 600)


@pytest.mark.parametrize(
    ("name", "token", "status", "error"),
    [
        ("missing", None, 401, "token-missing"),
        ("wrong key", tokens.sign(b"y" * 32, "8001", NOW * 2), 401, "token-invalid"),
        ("tampered", "TAMPERED", 401, "token-invalid"),
        ("expired", "EXPIRED", 401, "token-expired"),
        ("another seat's", "OTHER", 403, "token-other-seat"),
    ],
)
async def test_the_seat_websocket_needs_that_seats_token(
    client: TestClient[Any, Any], name: str, token: str | None, status: int, error: str
) -> None:
    token = {"TAMPERED": tampered(good("8001")), "EXPIRED": tokens.sign(KEY, "8001", int(time.time()) - 1),
             "OTHER": good("8002")}.get(token or "", token)  # fmt: skip
    params = {} if token is None else {"token": token}
    resp = await client.get("/ws/seats/8001", params=params)
    body = await resp.json()
    assert (resp.status, body["error"]) == (status, error), (name, body)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/seats/8001", params=params)
    assert refused.value.status == status, name


async def test_the_seat_websocket_with_its_token(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect("/ws/seats/8001", params={"token": good("8001")}) as ws:
        first = await asyncio.wait_for(ws.receive_json(), 3)
    assert first["topic"] == "snapshot" and first["seat"]["seat"] == "8001"
    async with client.ws_connect("/ws/seats/8001", headers={"Authorization": f"Bearer {good('8001')}"}) as ws:
        assert (await asyncio.wait_for(ws.receive_json(), 3))["topic"] == "snapshot"


async def test_the_page_is_closed_when_its_token_expires(client: TestClient[Any, Any]) -> None:
    token = tokens.sign(KEY, "8001", int(time.time()) + 1)
    async with client.ws_connect("/ws/seats/8001", params={"token": token}) as ws:
        await asyncio.wait_for(ws.receive_json(), 3)
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4401, msg


async def test_seat_actions_need_the_seats_own_token(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/seats/8001/login")
    assert resp.status == 401 and (await resp.json())["error"] == "login-required"
    resp = await client.post("/api/seats/8001/login", headers={"Authorization": f"Bearer {good('8002')}"})
    assert resp.status == 403 and (await resp.json())["error"] == "not-your-seat"
    resp = await client.put(
        "/api/seats/8001/auto-answer", json={"auto_answer": "off"}, headers={"Authorization": "Bearer nope"}
    )
    assert resp.status == 401 and (await resp.json())["error"] == "token-invalid"
