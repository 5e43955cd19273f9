"""A handling unit's side over HTTP (hotline/units_portal), behind the access guard, on SQLite and the real
PostgreSQL: a unit sees only its own tickets, as the unit view shows them, and moves them 签收 → 办理 → 反馈
or 退回 through the ticket lifecycle."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import access
from hotline.api import errors
from hotline.recordings.qaauth import QaAuth, add_user
from hotline.seats import tokens
from hotline.seats.auth import SeatAuth
from hotline.tickets import http as tickets_http
from hotline.units_portal import http as units_portal_http
from tests.helpers.tickets_env import Env, at, env_fixture  # noqa: F401  (the `env` fixture)

KEY = b"0123456789abcdef0123456789abcdef"
DONGHU = {"name": "东湖区住建局", "area": "东湖区", "phones": ["0571-86102000"], "categories": [], "topics": ["路灯"]}
XIHU = {"name": "西湖区住建局", "area": "西湖区", "phones": ["0571-86103000"], "categories": [], "topics": ["路灯"]}
HELP = {
    "caller_number": "138 1234 5678", "caller_name": "王小明", "district": "东湖区", "street": "东湖街道",
    "address": "东湖路 8 号 3 单元", "content": "楼道灯坏了一个月", "category": "求助", "seat": "8001", "by": "8001",
}  # fmt: skip
COMPLAINT = HELP | {"caller_number": "13900001111", "caller_name": "李女士", "category": "投诉举报",
                    "content": "东湖路餐馆油烟直排"}  # fmt: skip


@dataclass
class Portal:
    client: TestClient[web.Request, web.Application]
    env: Env
    headers: dict[str, dict[str, str]]
    units: dict[str, int]

    async def call(self, who: str, method: str, path: str, status: int, body: Any = None) -> Any:
        async with self.client.request(method, path, json=body, headers=self.headers[who]) as resp:
            got = await resp.json()
            assert resp.status == status, (method, path, got)
            return got

    async def ticket(self, body: dict[str, Any], unit: str | None) -> int:
        made = await self.call("seat", "POST", "/api/tickets", 201, body)
        if unit is not None:
            move = {"to": "派单", "unit_id": self.units[unit], "by": "8001"}
            await self.call("seat", "POST", f"/api/tickets/{made['id']}/transitions", 200, move)
        return int(made["id"])


@pytest.fixture
async def portal(env: Env, tmp_path: Path) -> AsyncIterator[Portal]:
    users = tmp_path / "staff.json"
    add_user(users, "lead", "leader-pass", role="leader")
    add_user(users, "qa", "qa-password")
    staff = QaAuth(KEY, users)
    app = web.Application(middlewares=[errors, access.guard])
    app[access.ACCESS] = access.Access(SeatAuth(KEY, {"8001": "pw"}), staff)
    tickets_http.add_routes(app, env.tickets)
    units_portal_http.add_routes(app, env.tickets)
    seat = {"Authorization": f"Bearer {tokens.sign(KEY, '8001', int(time.time()) + 600)}"}
    async with TestClient(TestServer(app)) as client:
        lead = {"Authorization": f"Bearer {staff.login('lead', 'leader-pass')[0]}"}
        p = Portal(client, env, {"seat": seat, "lead": lead}, {})
        for key, unit in (("donghu", DONGHU), ("xihu", XIHU)):
            p.units[key] = (await p.call("lead", "POST", "/api/units", 201, unit))["id"]
            add_user(users, f"{key}-unit", "unit-password", role="unit", unit=p.units[key])
            p.headers[key] = {"Authorization": f"Bearer {staff.login(f'{key}-unit', 'unit-password')[0]}"}
        p.headers["qa"] = {"Authorization": f"Bearer {staff.login('qa', 'qa-password')[0]}"}
        yield p


async def test_a_unit_sees_only_its_own_tickets_as_the_unit_view(portal: Portal) -> None:
    p, dh, xh = portal, portal.units["donghu"], portal.units["xihu"]
    help_id = await p.ticket(HELP, "donghu")
    complaint_id = await p.ticket(COMPLAINT, "donghu")
    other_id = await p.ticket(HELP | {"district": "西湖区"}, "xihu")
    undispatched = await p.ticket(HELP, None)

    listed = await p.call("donghu", "GET", f"/api/units/{dh}/tickets", 200)
    assert listed["unit"] == {"id": dh, "name": "东湖区住建局"} and "三方通话" in listed["contact"]
    assert sorted(t["id"] for t in listed["tickets"]) == sorted([help_id, complaint_id])
    by_id = {t["id"]: t for t in listed["tickets"]}
    assert by_id[help_id]["caller"] == {"number": "138****5678", "name": "王先生/女士"}
    assert by_id[complaint_id]["caller"] is None and "举报人" in by_id[complaint_id]["caller_withheld"]
    assert by_id[help_id]["deadline"]["local"] == "2026-11-30 18:00"  # 求助: 3 working days from Wed 25 Nov
    text = json.dumps(listed, ensure_ascii=False)
    for private in ("13812345678", "王小明", "13900001111", "李女士", "8001", "西湖区住建局"):
        assert private not in text, private

    one = await p.call("donghu", "GET", f"/api/units/{dh}/tickets/{help_id}", 200)
    assert one["events"] == [{"at": one["events"][0]["at"], "to": "派单", "by": "市长热线", "comment": None}]
    assert one["moves"] == ["签收", "退回"] and one["return_until"]["local"] == "2026-11-26 18:00"
    assert not {"calls", "surveys", "threeway", "callbacks", "seat", "unit", "caller_number"} & set(one)

    # another unit's ticket, one not dispatched, and one that does not exist: the same 404, nothing confirmed
    missing = await p.call("donghu", "GET", f"/api/units/{dh}/tickets/999999", 404)
    for hidden in (other_id, undispatched):
        got = await p.call("donghu", "GET", f"/api/units/{dh}/tickets/{hidden}", 404)
        assert got["error"] == missing["error"] == "ticket-not-found"
        assert got["message"] == missing["message"].replace("999999", str(hidden))
        await p.call("donghu", "POST", f"/api/units/{dh}/tickets/{hidden}/transitions", 404, {"to": "签收"})
    assert (await p.env.tickets.get(other_id)).status == "派单"  # not moved

    # another unit's list, and the hotline's own routes, are refused to a unit
    assert (await p.call("donghu", "GET", f"/api/units/{xh}/tickets", 403))["error"] == "not-your-unit"
    await p.call("donghu", "GET", f"/api/tickets/{help_id}", 403)
    await p.call("donghu", "GET", "/api/tickets?phone=13812345678", 403)
    await p.call("donghu", "GET", "/api/units", 403)
    # and the unit routes to the hotline's logins: a unit's are its own
    for who in ("seat", "qa", "lead"):
        await p.call(who, "GET", f"/api/units/{dh}/tickets", 403)


async def test_sign_handle_reply_through_the_lifecycle(portal: Portal) -> None:
    p, dh = portal, portal.units["donghu"]
    tid = await p.ticket(HELP, "donghu")
    moves = f"/api/units/{dh}/tickets/{tid}/transitions"
    signed = await p.call("donghu", "POST", moves, 200, {"to": "签收"})
    assert signed["status"] == "签收" and signed["events"][-1]["by"] == "unit:donghu-unit"
    handling = await p.call("donghu", "POST", moves, 200, {"to": "办理"})
    assert handling["status"] == "办理" and handling["return_until"] is None

    refused = await p.call("donghu", "POST", moves, 400, {"to": "反馈"})
    assert refused["details"]["field"] == "comment" and "required for 反馈" in refused["message"]
    for to in ("派单", "办结", "督办", "回访"):  # the hotline's moves
        refused = await p.call("donghu", "POST", moves, 400, {"to": to})
        assert "a handling unit may move its tickets only to 签收, 办理, 反馈, 退回" in refused["message"], refused
    forged = await p.call("donghu", "POST", moves, 400, {"to": "反馈", "comment": "x", "by": "8001"})
    assert forged["details"]["field"] == "by"  # who did it is the login, never the request

    replied = await p.call("donghu", "POST", moves, 200, {"to": "反馈", "comment": "已更换楼道灯"})
    assert replied["status"] == "反馈" and replied["moves"] == []
    assert replied["events"][-1]["comment"] == "已更换楼道灯"
    full = (await p.env.tickets.get(tid)).to_json()  # the hotline's view: the same history, and the 回访 it creates
    assert full["status"] == "反馈" and [e["by"] for e in full["events"]][-3:] == ["unit:donghu-unit"] * 3
    assert full["callbacks"] and full["events"][-1]["comment"] == "已更换楼道灯"
    illegal = await p.call("donghu", "POST", moves, 409, {"to": "签收"})
    assert illegal["error"] == "illegal-transition" and "反馈 → 签收 is not allowed" in illegal["message"]


async def test_a_return_within_one_working_day_and_not_after(portal: Portal) -> None:
    p, dh = portal, portal.units["donghu"]
    late = await p.ticket(HELP, "donghu")
    on_time = await p.ticket(HELP, "donghu")
    path = f"/api/units/{dh}/tickets/{{}}/transitions"
    no_reason = await p.call("donghu", "POST", path.format(on_time), 400, {"to": "退回"})
    assert no_reason["details"]["field"] == "comment" and "退回理由" in no_reason["message"]
    returned = await p.call("donghu", "POST", path.format(on_time), 200, {"to": "退回", "comment": "属西湖区"})
    assert returned["status"] == "退回" and returned["events"][-1]["comment"] == "属西湖区"

    p.env.clock.now = at("2026-11-27 09:00")  # Friday: the return window ended Thursday 18:00
    refused = await p.call("donghu", "POST", path.format(late), 409, {"to": "退回", "comment": "不是我们的"})
    assert refused["error"] == "illegal-transition"
    assert "a unit may return a wrong dispatch only within 1 working day" in refused["message"]
    assert "2026-11-26 18:00" in refused["message"]
    assert (await p.env.tickets.get(late)).status == "派单"

    # the hotline re-dispatches the returned one (改派): it is the other unit's now, and gone from this one
    await p.call("seat", "POST", f"/api/tickets/{on_time}/transitions", 200,
                 {"to": "改派", "unit_id": p.units["xihu"], "by": "8001"})  # fmt: skip
    await p.call("donghu", "GET", f"/api/units/{dh}/tickets/{on_time}", 404)
    theirs = await p.call("xihu", "GET", f"/api/units/{p.units['xihu']}/tickets/{on_time}", 200)
    assert [e["to"] for e in theirs["events"]] == ["派单"]  # not the first unit's return, nor its reason
    assert "属西湖区" not in json.dumps(theirs, ensure_ascii=False)
