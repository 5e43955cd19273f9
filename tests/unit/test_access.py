"""Who may reach what (hotline/access.py): every route of the real app has a rule, the rules as a table, and
the guard refusing before any handler runs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import access
from hotline.access import RULES, Need, Role, check, guard, rule_of
from hotline.api import ApiError, errors, json_body
from hotline.callbacks.plugin import CALLBACKS
from hotline.floor.plugin import FLOOR
from hotline.plugin import Core
from hotline.plugins import plugins
from hotline.pops.plugin import CURRENT_POPS
from hotline.recordings.plugin import RECORDINGS, STAFF
from hotline.recordings.qaauth import Principal, QaAuth, add_user
from hotline.seats import tokens
from hotline.seats.auth import SeatAuth
from hotline.seats.plugin import SEAT_AUTH
from hotline.settings import load_settings
from hotline.threeway.plugin import THREEWAY
from hotline.tickets.plugin import TICKETS
from hotline.web import make_app

KEY = b"0123456789abcdef0123456789abcdef"


def real_app(tmp_path: Path) -> web.Application:
    """The service's app with its routes, over stand-ins that no refused request ever reaches."""
    users = tmp_path / "staff.json"
    add_user(users, "lead", "leader-pass", role="leader")
    add_user(users, "qa", "qa-password")
    add_user(users, "dh-unit", "unit-password", role="unit", unit=3)  # a handling unit's (承办单位) login
    seats = SeatAuth(KEY, {"8001": "pw-one", "8002": "pw-two"})
    staff = QaAuth(KEY, users)
    nothing: Any = object()
    core = Core(
        settings=load_settings({}), store=nothing, bus=nothing, calendar=nothing, stack=nothing, client=nothing,
        bridge=nothing, control=nothing, live=nothing,
    )  # fmt: skip
    for part in (TICKETS, CALLBACKS, THREEWAY, FLOOR, CURRENT_POPS, RECORDINGS):
        core.provide(part, nothing)
    core.provide(SEAT_AUTH, seats)
    core.provide(STAFF, staff)
    return make_app(core, plugins())  # every plugin's routes, as the service adds them


def routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_every_route_has_a_rule_and_every_rule_a_route(tmp_path: Path) -> None:
    got = routes(real_app(tmp_path))
    assert sorted(got - set(RULES)) == []  # a new route must say who may reach it
    assert sorted(set(RULES) - got) == []  # no rule left for a route that is gone


def test_citizens_data_is_never_open() -> None:
    private = ["/api/tickets", "/api/tickets/{id}", "/api/calls", "/api/calls/{call_id}", "/ws/floor",
               "/api/callbacks/{task_id}", "/api/callbacks/board", "/api/units"]  # fmt: skip
    assert [p for p in private if rule_of("GET", p) is Need.OPEN] == []
    assert rule_of("HEAD", "/api/tickets") is Need.SIGNED_IN


SEAT, OTHER_SEAT = Principal("seat", "8001"), Principal("seat", "8002")
QA, LEADER = Principal("qa", "qa"), Principal("leader", "lead")
UNIT, UNIT_WITHOUT_ID = Principal("unit", "dh-unit", 3), Principal("unit", "odd")


@pytest.mark.parametrize(
    ("need", "who", "error"),
    [
        (Need.OPEN, None, None),
        (Need.SIGNED_IN, None, "login-required"),
        (Need.SIGNED_IN, SEAT, None),
        (Need.SIGNED_IN, QA, None),
        (Need.STAFF, SEAT, "not-allowed"),
        (Need.STAFF, LEADER, None),
        (Need.LEADER, QA, "not-allowed"),
        (Need.LEADER, LEADER, None),
        (Need.SEAT_OR_LEADER, SEAT, None),
        (Need.SEAT_OR_LEADER, OTHER_SEAT, "not-your-seat"),
        (Need.SEAT_OR_LEADER, LEADER, None),
        (Need.SEAT_OR_LEADER, QA, "not-allowed"),
        (Need.OWN_SEAT, SEAT, None),
        (Need.OWN_SEAT, OTHER_SEAT, "not-your-seat"),
        (Need.OWN_SEAT, LEADER, "not-allowed"),
        (Need.OWN_UNIT, UNIT, None),
        (Need.OWN_UNIT, None, "login-required"),
        (Need.OWN_UNIT, UNIT_WITHOUT_ID, "not-your-unit"),
        (Need.OWN_UNIT, SEAT, "not-allowed"),
        (Need.OWN_UNIT, QA, "not-allowed"),
        (Need.OWN_UNIT, LEADER, "not-allowed"),  # unit routes are the unit's own; leaders keep their routes
        *[(need, UNIT, "not-allowed") for need in Need if need not in (Need.OPEN, Need.HANDLER, Need.OWN_UNIT)],
    ],
)
def test_the_rules(need: Need, who: Principal | None, error: str | None) -> None:
    if error is None:
        check(need, who, "8001", "3")
        return
    with pytest.raises(ApiError) as refused:
        check(need, who, "8001", "3")
    assert f'"error": "{error}"' in refused.value.text


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(real_app(tmp_path))) as c:
        yield c


def seat_token(seat: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.sign(KEY, seat, int(time.time()) + 600)}"}


async def staff_token(client: TestClient[Any, Any], user: str, password: str) -> dict[str, str]:
    async with client.post("/api/staff/session", json={"user": user, "password": password}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert body["role"] == {"lead": "leader", "dh-unit": "unit"}.get(user, "qa")
    assert body["unit"] == (3 if user == "dh-unit" else None)
    return {"Authorization": f"Bearer {body['token']}"}


async def test_the_guard_refuses_before_any_handler(client: TestClient[Any, Any]) -> None:
    leader = await staff_token(client, "lead", "leader-pass")
    qa = await staff_token(client, "qa", "qa-password")
    refused = [
        ("GET", "/api/tickets?phone=13800138000", {}, 401, "login-required"),
        ("GET", "/api/tickets/1", {"Authorization": "Bearer v1.8001.1.nope"}, 401, "token-invalid"),
        ("GET", "/api/calls", {}, 401, "login-required"),
        ("GET", "/api/floor", seat_token("8001"), 403, "not-allowed"),
        ("POST", "/api/seats/8002/pause", seat_token("8001"), 403, "not-your-seat"),
        ("POST", "/api/seats/8001/pause", {}, 401, "login-required"),
        ("POST", "/api/seats/8001/pause", qa, 403, "not-allowed"),
        ("POST", "/api/units", seat_token("8001"), 403, "not-allowed"),
        ("DELETE", "/api/units/1", qa, 403, "not-allowed"),
        ("POST", "/api/seats/8001/threeway", leader, 403, "not-allowed"),
        ("GET", "/api/recordings", leader, 403, "qa-only"),  # a team leader flags calls, QA hears them
    ]
    for method, path, headers, status, error in refused:
        async with client.request(method, path, headers=headers, json={}) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]) == (status, error), (method, path, body)
    async with client.get("/ws/floor") as resp:  # no upgrade without a login
        assert resp.status == 401
    forged = {"to": "派单", "unit_id": 1, "by": "8002"}  # seat 8001 signing as 8002
    async with client.post("/api/tickets/1/transitions", headers=seat_token("8001"), json=forged) as resp:
        body = await resp.json()
        assert (resp.status, body["error"], body["details"]) == (403, "not-your-seat", {"field": "by"}), body


async def test_a_removed_staff_user_is_logged_out_at_once(client: TestClient[Any, Any], tmp_path: Path) -> None:
    leader = await staff_token(client, "lead", "leader-pass")
    (tmp_path / "staff.json").write_text('{"users": {}}')
    async with client.get("/api/floor", headers=leader) as resp:
        assert resp.status == 401 and (await resp.json())["error"] == "token-invalid"


async def test_a_body_the_guard_read_still_reaches_the_handler(tmp_path: Path) -> None:
    """The guard reads a seat's JSON body (its `by`); the handler must get the same body."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await json_body(request))

    app = web.Application(middlewares=[errors, guard])
    app[access.ACCESS] = access.Access(SeatAuth(KEY, {}), QaAuth(KEY, tmp_path / "staff.json"))
    app.router.add_post("/api/tickets/{id}/transitions", echo)
    body = {"to": "派单", "unit_id": 1, "by": "8001"}
    async with TestClient(TestServer(app)) as c, c.post("/api/tickets/1/transitions", headers=seat_token("8001"),
                                                        json=body) as resp:  # fmt: skip
        assert resp.status == 200 and await resp.json() == body


def test_roles_are_the_staff_files() -> None:
    assert {r.value for r in Role} == {"seat", "qa", "leader", "unit"}
    assert access.ROLES[Need.SIGNED_IN] == frozenset({Role.SEAT, Role.QA, Role.LEADER})
    assert [need for need, roles in access.ROLES.items() if Role.UNIT in roles] == [Need.OWN_UNIT]
    assert access.ROLES[Need.OWN_UNIT] == frozenset({Role.UNIT})


PATH_VALUES = {"seat": "8001", "id": "3", "call_id": "1764032523.11", "task_id": "1", "action": "pause",
               "command": "hangup", "ticket": "1"}  # fmt: skip


async def test_a_unit_login_reaches_nothing_but_its_own_tickets(client: TestClient[Any, Any]) -> None:
    """Every route of the table that is not open nor the unit's own refuses a unit's token: no calls,
    recordings, seats, other tickets, the directory, callbacks, QA or the wallboard (before any handler
    reads anything; the recordings' handlers refuse it first thing)."""
    unit = await staff_token(client, "dh-unit", "unit-password")
    reached = []
    for (method, path), need in sorted(RULES.items()):
        if need in (Need.OPEN, Need.OWN_UNIT):
            continue
        url = path.format(**PATH_VALUES)
        async with client.request(method, url, headers=unit, json={}) as resp:
            body = await resp.json() if resp.content_type == "application/json" else {}
            if (resp.status, body.get("error")) not in ((403, "not-allowed"), (401, "token-invalid")):
                reached.append((method, url, resp.status, body))
            if resp.status == 401:  # only the seat's websocket, which takes seat tokens only
                assert path == "/ws/seats/{seat}", (method, url, body)
    assert reached == []
    for path in ("/api/calls", "/api/recordings", "/api/seats", "/ws/floor", "/api/tickets?phone=13800138000",
                 "/api/tickets/1", "/api/units", "/api/units/3"):  # fmt: skip
        async with client.get(path, headers=unit) as resp:
            assert resp.status == 403, path


async def test_the_unit_routes_are_the_units_own(client: TestClient[Any, Any]) -> None:
    unit = await staff_token(client, "dh-unit", "unit-password")
    leader = await staff_token(client, "lead", "leader-pass")
    qa = await staff_token(client, "qa", "qa-password")
    refused = [
        ("GET", "/api/units/3/tickets", {}, 401, "login-required"),
        ("GET", "/api/units/3/tickets", seat_token("8001"), 403, "not-allowed"),
        ("GET", "/api/units/3/tickets", leader, 403, "not-allowed"),
        ("GET", "/api/units/3/tickets/1", qa, 403, "not-allowed"),
        ("POST", "/api/units/3/tickets/1/transitions", seat_token("8001"), 403, "not-allowed"),
        ("GET", "/api/units/4/tickets", unit, 403, "not-your-unit"),
        ("GET", "/api/units/4/tickets/1", unit, 403, "not-your-unit"),
        ("POST", "/api/units/4/tickets/1/transitions", unit, 403, "not-your-unit"),
        ("GET", "/api/units/03/tickets", unit, 403, "not-your-unit"),
    ]
    for method, path, headers, status, error in refused:
        async with client.request(method, path, headers=headers, json={"to": "签收"}) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]) == (status, error), (method, path, body)
    async with client.get("/unit") as resp:  # the page itself is open: it logs in before it reads
        assert resp.status == 200 and "承办单位" in await resp.text()
