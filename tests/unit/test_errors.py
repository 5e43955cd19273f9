"""One error family (hotline/errors.py): every exception class of hotline derives from HotlineError with a stable
id; one middleware (hotline/api.py `errors`) answers each kind with one status and the same JSON body; one strict
JSON body parser."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import hotline
from ami_bridge.client import AmiActionError, AmiDisconnected
from ami_bridge.seat_control import SeatInputError
from hotline.api import STATUS, ApiError, errors, json_body
from hotline.errors import Conflict, HotlineError, IllegalTransition, Kind, NotFound
from hotline.tickets.store import TicketNotFound

STABLE_ID = re.compile(r"^[a-z]+(-[a-z]+)*$")


def hotline_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(hotline.__path__, "hotline."):
        module = importlib.import_module(info.name)
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == info.name
        ]
    return found


def test_every_error_of_hotline_is_one_of_the_family_with_a_stable_id() -> None:
    classes = hotline_exceptions()
    assert len(classes) > 30  # the walk saw the package
    assert [c.__qualname__ for c in classes if not issubclass(c, HotlineError)] == []
    assert {c.__qualname__: c.error for c in classes if not STABLE_ID.fullmatch(c.error)} == {}
    assert all(isinstance(c.kind, Kind) for c in classes if issubclass(c, HotlineError))


def test_every_state_machine_refusal_is_an_illegal_transition() -> None:
    from hotline.callbacks.schedule import IllegalTaskTransition
    from hotline.threeway.machine import IllegalThreewayEvent
    from hotline.tickets.lifecycle import IllegalTicketTransition

    for cls in (IllegalTaskTransition, IllegalThreewayEvent, IllegalTicketTransition):
        assert issubclass(cls, IllegalTransition) and cls.kind is Kind.CONFLICT


def test_each_kind_has_one_status() -> None:
    assert set(STATUS) == set(Kind)
    assert len(set(STATUS.values())) == len(Kind)


class Odd(HotlineError):
    error = "odd-one"
    kind = Kind.GONE


RAISES: dict[str, Exception] = {
    "not-found": TicketNotFound(7),
    "conflict": Conflict("not now", error="ticket-closed"),
    "gone": Odd("it was purged", call_id="1.2"),
    "edge": ApiError(400, "invalid-input", "limit: a whole number", field="limit"),
    "seat-input": SeatInputError("seat: '99' is not a seat"),
    "ami-down": AmiDisconnected("the AMI link is down"),
    "ami-refused": AmiActionError("Originate", "Extension does not exist."),
    "plain-notfound": NotFound("no such thing"),
}


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async def raising(request: web.Request) -> web.Response:
        raise RAISES[request.match_info["what"]]

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await json_body(request))

    app = web.Application(middlewares=[errors])
    app.router.add_get("/raise/{what}", raising)
    app.router.add_post("/echo", echo)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.mark.parametrize(
    "what, status, body",
    [
        (
            "not-found",
            404,
            {"error": "ticket-not-found", "message": "no ticket with id 7", "details": {"ticket_id": 7}},
        ),
        ("conflict", 409, {"error": "ticket-closed", "message": "not now", "details": {}}),
        ("gone", 410, {"error": "odd-one", "message": "it was purged", "details": {"call_id": "1.2"}}),
        ("edge", 400, {"error": "invalid-input", "message": "limit: a whole number", "details": {"field": "limit"}}),
        ("seat-input", 400, {"error": "invalid-input", "message": "seat: '99' is not a seat", "details": {}}),
        ("ami-down", 503, {"error": "asterisk-unreachable", "message": "the AMI link is down", "details": {}}),
        ("plain-notfound", 404, {"error": "not-found", "message": "no such thing", "details": {}}),
    ],
)
async def test_one_middleware_answers_every_error(
    client: TestClient[Any, Any], what: str, status: int, body: dict[str, Any]
) -> None:
    resp = await client.get(f"/raise/{what}")
    assert (resp.status, await resp.json()) == (status, body)
    assert resp.content_type == "application/json"


async def test_asterisk_refusing_is_a_bad_gateway(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/raise/ami-refused")
    assert resp.status == 502 and (await resp.json())["error"] == "asterisk-refused"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"by": "8001", "by": "8002"}', "the key 'by' is given twice in one object"),
        (b'{"a": {"x": 1, "x": 2}}', "the key 'x' is given twice in one object"),
        (b'{"score": NaN}', "NaN is not a JSON value"),
        (b'{"score": Infinity}', "Infinity is not a JSON value"),
        (b"[1, 2]", "the request body must be a JSON object"),
        (b"{nope", "the request body is not JSON"),
        (b'{"x": "\xff"}', "the request body is not JSON"),
    ],
)
async def test_the_body_parser_is_strict(client: TestClient[Any, Any], raw: bytes, message: str) -> None:
    resp = await client.post("/echo", data=raw, headers={"Content-Type": "application/json"})
    body = await resp.json()
    assert (resp.status, body["error"]) == (400, "invalid-json")
    assert body["message"].startswith(message), body


async def test_a_plain_body_passes_as_it_is(client: TestClient[Any, Any]) -> None:
    sent = {"comment": "市民表示满意", "n": 1.5, "none": None, "list": [1, {"k": "v"}]}
    resp = await client.post("/echo", json=sent)
    assert (resp.status, await resp.json()) == (200, sent)
