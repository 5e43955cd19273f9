"""The demo files the ticket each answered call's seat would have filed (hotline run --demo), through the real
ticket store on SQLite and PostgreSQL: bound to the call, 直办 on the call or dispatched to a unit that takes
the category; repeat callers then have a history for their screen pop."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from ami_bridge.constants import CallState
from ami_bridge.snapshots import CallSnapshot
from hotline.demo.driver import MATTERS, REPEAT_CALLERS, demo_caller, file_ticket
from hotline.tickets.model import Category, Unit
from tests.helpers.tickets_env import Env, env_fixture  # noqa: F401  (the `env` fixture)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_each_answered_call_gets_the_ticket_its_seat_would_file(env: Env) -> None:
    units = [
        Unit(None, "市住建局", "市直", ("057187001200",), (Category.COMPLAINT, Category.HELP), ("物业",), ""),
        Unit(None, "区城管局", "东湖区", ("057186102000",), (), ("噪音",), ""),  # takes any category
    ]
    for unit in units:
        await env.tickets.units.add(unit)
    rng = random.Random(7)
    lines = []
    for n in range(30):
        call = CallSnapshot(f"1764032523.{n}", CallState.ENDED, REPEAT_CALLERS[n % 3], None, "12345", T0, seat="8001")
        lines.append(await file_ticket(env.tickets, call, rng))
    tickets = [t.to_json() for number in REPEAT_CALLERS for t in await env.tickets.history(number, 100)]
    assert len(tickets) == 30 and {t["category"] for t in tickets} == {c.value for c, _ in MATTERS}
    statuses = Counter((t["category"], t["status"]) for t in tickets)
    assert {s for (c, s) in statuses if c in ("咨询", "表扬")} == {"直办"}
    assert {s for (c, s) in statuses if c not in ("咨询", "表扬")} == {"派单"}
    first = (await env.tickets.get(tickets[0]["id"])).to_json()
    assert first["seat"] == "8001" and first["calls"] and first["calls"][0].startswith("1764032523.")
    assert all(line.startswith("  ticket #") and "seat 8001" in line for line in lines)
    assert any("dispatched to 市住建局" in line for line in lines)
    board = await env.tickets.deadline_board(env.clock())
    assert board["counts"]["open"] == sum(n for (c, s), n in statuses.items() if s == "派单")


def test_one_call_in_three_is_a_repeat_caller() -> None:
    rng = random.Random(1)
    numbers = [demo_caller(rng) for _ in range(3000)]
    repeats = sum(n in REPEAT_CALLERS for n in numbers)
    assert 800 < repeats < 1200 and all(len(n) == 11 and n.startswith("13") for n in numbers)
