"""The ticket and unit API over HTTP, on SQLite and the real PostgreSQL; and wired into the real service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.api import errors
from hotline.tickets import http as tickets_http
from tests.helpers import realparts
from tests.helpers.tickets_env import Env, at, env_fixture, everything  # noqa: F401  (the `env` fixture)

UNIT = {
    "name": "东湖区城市管理局", "area": "东湖区", "phones": ["0571-86102000", "13800571200"],
    "categories": ["投诉举报", "求助"], "topics": ["占道经营", "噪音"], "hours": "周一至周日 7:00-22:00",
}  # fmt: skip
TICKET = {
    "caller_number": "138 0013 8000", "caller_name": "王女士", "district": "东湖区", "street": "东湖街道",
    "address": "东湖路 8 号", "content": "小区门口夜间施工噪音扰民", "category": "投诉举报", "seat": "8001",
    "call_id": "1764032523.11",
}  # fmt: skip


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    env: Env

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        async with self.client.request(method, path, json=body) as resp:
            got = await resp.json()
            assert resp.status == status, got
            return got


@pytest.fixture
async def api(env: Env) -> AsyncIterator[Api]:
    app = web.Application(middlewares=[errors])
    tickets_http.add_routes(app, env.tickets)
    async with TestClient(TestServer(app)) as client:
        yield Api(client, env)


async def test_file_a_ticket_dispatch_it_and_find_it_in_the_history(api: Api) -> None:
    unit = await api.call("POST", "/api/units", 201, UNIT)
    assert unit["phones"] == ["057186102000", "13800571200"] and unit["id"] > 0
    ticket = await api.call("POST", "/api/tickets", 201, TICKET)
    assert (ticket["status"], ticket["caller_number"], ticket["calls"]) == ("受理", "13800138000", ["1764032523.11"])
    moved = await api.call(
        "POST", f"/api/tickets/{ticket['id']}/transitions", 200,
        {"to": "派单", "unit_id": unit["id"], "by": "8001", "comment": "夜间施工"},
    )  # fmt: skip
    assert moved["status"] == "派单" and moved["unit"]["name"] == "东湖区城市管理局"
    assert moved["events"][-1] | {"at": None} == {
        "at": None, "by": "8001", "from": "受理", "to": "派单", "unit_id": unit["id"], "comment": "夜间施工",
        "changes": None,
    }  # fmt: skip
    assert moved["allowed"] == ["签收", "退回"]
    got = await api.call("GET", f"/api/tickets/{ticket['id']}", 200)
    assert got["status"] == "派单" and got["deadline"]["local"] == "2026-12-09 18:00"
    history = await api.call("GET", "/api/tickets?phone=13800138000", 200)
    assert [t["id"] for t in history["tickets"]] == [ticket["id"]]
    assert history["tickets"][0]["unit_name"] == "东湖区城市管理局"


async def test_refused_inputs_name_the_field_and_save_nothing(api: Api) -> None:
    before = await everything(api.env)
    bad = await api.call("POST", "/api/tickets", 400, {**TICKET, "category": "投诉"})
    assert bad["error"] == "invalid-input" and bad["details"]["field"] == "category"
    assert bad["message"] == "category: '投诉' is not one of 建议, 一般诉求, 求助, 投诉举报, 咨询, 表扬"
    bad = await api.call("POST", "/api/tickets", 400, {**TICKET, "caller_number": "12345"})
    assert bad["details"]["field"] == "caller_number" and "0571-87001234" in bad["message"]
    bad = await api.call("POST", "/api/tickets", 400, {**TICKET, "category": "投诉举报", "direct": "yes"})
    assert bad["details"]["field"] == "direct"
    bad = await api.call("POST", "/api/tickets", 409, {**TICKET, "direct": True})  # a complaint is never 直办
    assert bad["error"] == "illegal-transition" and bad["details"]["to_status"] == "直办"
    async with api.client.post("/api/tickets", data="{not json") as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid-json"
    assert await everything(api.env) == before


async def test_refused_transitions_and_edits_save_nothing(api: Api) -> None:
    tid = (await api.call("POST", "/api/tickets", 201, TICKET))["id"]
    before = await everything(api.env)
    bad = await api.call("POST", f"/api/tickets/{tid}/transitions", 409, {"to": "办结", "by": "8001"})
    assert bad["error"] == "illegal-transition" and bad["details"]["allowed"] == ["派单"]
    assert bad["message"].startswith(f"ticket {tid}: 受理 → 办结 is not allowed")
    bad = await api.call("POST", f"/api/tickets/{tid}/transitions", 400, {"to": "派单", "by": "8001", "unit_id": 99})
    assert bad["details"]["field"] == "unit_id" and "no unit with id 99" in bad["message"]
    bad = await api.call("POST", f"/api/tickets/{tid}/transitions", 400, {"to": "dispatched", "by": "8001"})
    assert bad["details"]["field"] == "to"
    bad = await api.call("POST", f"/api/tickets/{tid}/transitions", 400, {"to": "派单"})
    assert bad["details"]["field"] == "by"
    bad = await api.call("PATCH", f"/api/tickets/{tid}", 400, {"category": "投诉", "by": "8001"})
    assert bad["details"]["field"] == "category"
    bad = await api.call("PATCH", f"/api/tickets/{tid}", 400, {"address": "东湖路 9 号"})
    assert bad["details"]["field"] == "by"
    await api.call("GET", "/api/tickets/999", 404)
    await api.call("POST", "/api/tickets/999/transitions", 404, {"to": "派单", "by": "8001", "unit_id": 1})
    assert await everything(api.env) == before


async def test_edits_follow_the_lifecycle(api: Api) -> None:
    unit = await api.call("POST", "/api/units", 201, UNIT)
    tid = (await api.call("POST", "/api/tickets", 201, TICKET))["id"]
    edited = await api.call("PATCH", f"/api/tickets/{tid}", 200, {"category": "求助", "by": "8001"})
    assert edited["category"] == "求助" and edited["events"][-1]["changes"] == {"category": ["投诉举报", "求助"]}
    await api.call("POST", f"/api/tickets/{tid}/transitions", 200, {"to": "派单", "by": "8001", "unit_id": unit["id"]})
    before = await everything(api.env)
    bad = await api.call("PATCH", f"/api/tickets/{tid}", 409, {"content": "改", "by": "8001"})
    assert bad["error"] == "not-editable" and bad["details"]["editable"] == [
        "address",
        "caller_name",
        "district",
        "street",
    ]
    assert await everything(api.env) == before
    ok = await api.call("PATCH", f"/api/tickets/{tid}", 200, {"address": "东湖路 10 号", "by": "8001"})
    assert ok["address"] == "东湖路 10 号"


async def test_repeat_calls_and_out_of_scope_records(api: Api) -> None:
    tid = (await api.call("POST", "/api/tickets", 201, TICKET))["id"]
    again = await api.call("POST", f"/api/tickets/{tid}/calls", 200, {"call_id": "1764040000.20", "by": "8002"})
    assert again["calls"] == ["1764032523.11", "1764040000.20"]
    bad = await api.call("POST", f"/api/tickets/{tid}/calls", 400, {"by": "8002"})
    assert bad["details"]["field"] == "call_id"
    out = {"caller_number": "13900139000", "content": "家中老人突发疾病", "guided_to": "120", "seat": "8002"}
    record = await api.call("POST", "/api/tickets", 201, out)
    assert (record["status"], record["guided_label"]) == ("非受理", "急救")
    bad = await api.call("POST", f"/api/tickets/{record['id']}/calls", 409, {"call_id": "x.1", "by": "8002"})
    assert bad["error"] == "ticket-closed"


async def test_history_refuses_what_is_not_a_phone_number(api: Api) -> None:
    bad = await api.call("GET", "/api/tickets?phone=abc", 400)
    assert bad["details"]["field"] == "phone"
    await api.call("GET", "/api/tickets", 400)
    await api.call("GET", "/api/tickets?phone=13800138000&limit=0", 400)
    assert (await api.call("GET", "/api/tickets?phone=13800138000", 200))["tickets"] == []


async def test_the_unit_directory_over_http(api: Api) -> None:
    first = await api.call("POST", "/api/units", 201, UNIT)
    city = await api.call("POST", "/api/units", 201, {**UNIT, "name": "市住建局", "area": "市直", "topics": ["物业"]})
    assert [u["name"] for u in (await api.call("GET", "/api/units", 200))["units"]] == ["市住建局", "东湖区城市管理局"]
    assert [u["id"] for u in (await api.call("GET", "/api/units?q=物业", 200))["units"]] == [city["id"]]
    assert (await api.call("GET", "/api/units?category=咨询", 200))["units"] == []
    bad = await api.call("GET", "/api/units?category=x", 400)
    assert bad["details"]["field"] == "category"
    dup = await api.call("POST", "/api/units", 409, UNIT)
    assert dup["error"] == "unit-name-taken"
    bad = await api.call("POST", "/api/units", 400, {**UNIT, "name": "新单位", "phones": ["12"]})
    assert bad["details"]["field"] == "phones"
    put = await api.call("PUT", f"/api/units/{first['id']}", 200, {**UNIT, "hours": "全天"})
    assert put["hours"] == "全天" and (await api.call("GET", f"/api/units/{first['id']}", 200))["hours"] == "全天"
    tid = (await api.call("POST", "/api/tickets", 201, TICKET))["id"]
    await api.call("POST", f"/api/tickets/{tid}/transitions", 200, {"to": "派单", "by": "8001", "unit_id": first["id"]})
    assert (await api.call("DELETE", f"/api/units/{first['id']}", 409))["error"] == "unit-in-use"
    await api.call("DELETE", f"/api/units/{city['id']}", 200)
    await api.call("GET", f"/api/units/{city['id']}", 404)


async def test_the_calendar_says_which_year_it_does_not_know(api: Api) -> None:
    status = await api.call("GET", "/api/calendar", 200)
    assert status["unknown_years_ahead"] == [2027] and "[years.2027]" in status["warnings"][0]
    assert 2026 in status["known_years"] and status["workday_end"] == "18:00"
    api.env.clock.now = at("2026-06-01 10:00")
    assert (await api.call("GET", "/api/calendar", 200))["unknown_years_ahead"] == [2027]


async def test_the_deadlines_board_counts_and_lists_by_working_days(api: Api) -> None:
    """工单时限: filed on Wednesday 30 September, before 国庆节; the board on Thursday 8 October."""
    api.env.clock.now = at("2026-09-30 10:00")
    unit = await api.call("POST", "/api/units", 201, UNIT)
    filed = []
    for content in ("路灯不亮", "井盖缺失", "噪音扰民"):
        ticket = await api.call("POST", "/api/tickets", 201, {**TICKET, "call_id": None, "content": content})
        filed.append(ticket["id"])
    for ticket_id in filed[:2]:  # two dispatched at once (complaint: 10 working days), one never dispatched
        await api.call("POST", f"/api/tickets/{ticket_id}/transitions", 200,
                       {"to": "派单", "unit_id": unit["id"], "by": "8001"})  # fmt: skip
    praise = {**TICKET, "call_id": None, "content": "表扬", "category": "表扬", "direct": True}
    await api.call("POST", "/api/tickets", 201, praise)  # closed at once (直办): never on the board
    api.env.clock.now = at("2026-10-08 09:00")  # dispatch within 1 working day: after 国庆节, 8 October 18:00
    view = await api.call("GET", "/api/tickets/board", 200)
    assert view["date"] == "2026-10-08" and view["next_working_day"] == "2026-10-09"
    assert view["counts"] == {"overdue": 0, "today": 1, "next_working_day": 0, "later": 2, "open": 3,
                              "supervised": 0}  # fmt: skip
    [today] = view["lists"]["today"]
    assert (today["id"], today["unit"], today["deadline"]["kind"]) == (filed[2], "待派单（热线）", "dispatch")
    api.env.clock.now = at("2026-10-09 09:00")
    view = await api.call("GET", "/api/tickets/board", 200)
    [late] = view["lists"]["overdue"]
    assert (late["id"], late["working_days_late"], late["deadline"]["local"]) == (filed[2], 1, "2026-10-08 18:00")
    assert "caller_number" not in late and "13800138000" not in str(view)  # the matter, not the citizen
    assert {u["unit"]: (u["open"], u["overdue"]) for u in view["per_unit"]} == {
        "待派单（热线）": (1, 1),
        UNIT["name"]: (2, 0),
    }
    assert view["per_kind"]["handling"]["later"] == 2


async def test_the_options_for_a_ticket_form(api: Api) -> None:
    options = await api.call("GET", "/api/ticket-options", 200)
    assert options["categories"] == ["建议", "一般诉求", "求助", "投诉举报", "咨询", "表扬"]
    assert options["transitions"]["受理"] == ["派单", "直办"] and options["aliases"] == {"改派": "派单"}
    assert options["guided_numbers"]["12348"] == "法律服务"


@pytest.mark.asterisk
async def test_the_service_serves_tickets_and_loads_the_sample_units(service: Any) -> None:
    async with aiohttp.ClientSession(service.url) as http, http.get("/api/units") as resp:
        assert resp.status == 401  # citizens' data and the directory: staff only
    async with aiohttp.ClientSession(service.url, headers=realparts.seat_headers(service, "8001")) as http:
        async with http.get("/api/units") as resp:
            units = (await resp.json())["units"]
        assert resp.status == 200 and "江城市住房和城乡建设局" in [u["name"] for u in units]
        async with http.post("/api/tickets", json={**TICKET, "call_id": None}) as resp:
            assert resp.status == 201, await resp.text()
        async with http.get("/api/tickets", params={"phone": "13800138000"}) as resp:
            assert [t["status"] for t in (await resp.json())["tickets"]] == ["受理"]
    assert [t["status"] for t in await service.history.history("13800138000")] == ["受理"]  # what screen pops read
