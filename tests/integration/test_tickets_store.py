"""Tickets and units in the database, over SQLite and the real PostgreSQL at postgresql://localhost/test."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

from ami_bridge.constants import CallState
from ami_bridge.snapshots import CallSnapshot
from hotline.db.models import TicketEventRow
from hotline.survey.store import SurveyResult, SurveyStore
from hotline.tickets import validate
from hotline.tickets.lifecycle import IllegalTicketTransition, TicketNotEditable
from hotline.tickets.model import Category, TicketStatus, Transition, Unit, Urgency
from hotline.tickets.store import TicketClosed, TicketNotFound, history_query
from hotline.tickets.unitstore import UnitConflict
from hotline.tickets.validate import InvalidInput
from tests.helpers.tickets_env import Env, at, env_fixture, everything  # noqa: F401  (the `env` fixture)

S = TicketStatus


HOUSING = Unit(
    None, "市住建局", "市直", ("057187001200",), (Category.COMPLAINT, Category.HELP), ("物业", "电梯"), "周一至周五"
)
CITY = Unit(None, "东湖区城管局", "东湖区", ("057186102000", "13800571200"), (), ("占道经营", "噪音"), "")


def new(**fields: Any) -> Any:
    body = {"caller_number": "13800138000", "content": "小区门口夜间施工噪音扰民，已持续一周", "category": "投诉举报"}
    return validate.new_ticket({**body, **fields})


async def test_a_ticket_round_trip_with_its_first_event(env: Env) -> None:
    case = await env.tickets.create(new(seat="8001", district="东湖区", address="东湖路 8 号"))
    assert await env.tickets.get(case.id) == case  # typed values: the same case file, read again
    assert (case.status, case.ticket.category, case.deadline and case.deadline.kind) == (
        S.ACCEPTED, Category.COMPLAINT, "dispatch",
    )  # fmt: skip
    assert [(e.from_status, e.to_status) for e in case.events] == [(None, S.ACCEPTED)]
    got = case.to_json()  # what the API returns
    assert (got["status"], got["category"], got["caller_number"], got["seat"]) == (
        "受理",
        "投诉举报",
        "13800138000",
        "8001",
    )
    assert got["deadline"] == {
        "at": at("2026-11-26 18:00").astimezone(UTC).isoformat(), "local": "2026-11-26 18:00",
        "provisional": False, "kind": "dispatch",
    }  # fmt: skip
    assert [(e["from"], e["to"], e["by"]) for e in got["events"]] == [(None, "受理", "8001")]
    assert got["allowed"] == ["派单"] and got["is_open"] and not got["overdue"]
    with pytest.raises(TicketNotFound, match="no ticket with id 999"):
        await env.tickets.get(999)


async def test_a_ticket_bound_to_a_call_takes_the_number_and_seat_from_it(env: Env) -> None:
    call = CallSnapshot(
        call_id="1764032523.11", state=CallState.ENDED, caller_number="13900139000", caller_name=None,
        dialed="12345", started_at=env.clock.now, seat="8002",
    )  # fmt: skip
    await env.store.save_call(call)
    view = (await env.tickets.create(new(caller_number=None, call_id=call.call_id))).to_json()
    assert (view["caller_number"], view["seat"], view["calls"]) == ("13900139000", "8002", [call.call_id])
    await env.store.save_call(replace(call, call_id="anon.1", caller_number="anonymous"))
    before = await everything(env)
    with pytest.raises(InvalidInput, match=r"caller_number: call anon\.1 came from 'anonymous'"):
        await env.tickets.create(new(caller_number=None, call_id="anon.1"))
    assert await everything(env) == before


async def test_the_whole_lifecycle_records_who_when_and_why(env: Env) -> None:
    unit = await env.tickets.units.add(HOUSING)
    view = (await env.tickets.create(new(seat="8001"))).to_json()
    tid = view["id"]
    steps = [
        (S.DISPATCHED, "8001", unit.id, "请核实施工许可"),
        (S.SIGNED, "市住建局 王科长", None, None),
        (S.HANDLING, "市住建局 王科长", None, None),
        (S.REPLIED, "市住建局 王科长", None, "已责令夜间停工"),
        (S.CALLED_BACK, "8003", None, "市民满意"),
        (S.CLOSED, "8003", None, None),
    ]
    for i, (to, by, unit_id, comment) in enumerate(steps):
        env.clock.now += timedelta(hours=1)
        view = (await env.tickets.transition(tid, Transition(to, by, unit_id, comment))).to_json()
        assert view["status"] == to and len(view["events"]) == i + 2
    events = view["events"]
    assert [(e["from"], e["to"]) for e in events][1:3] == [("受理", "派单"), ("派单", "签收")]
    assert events[1]["unit_id"] == unit.id and events[1]["comment"] == "请核实施工许可"
    assert events[1]["at"] == (at("2026-11-25 11:00")).astimezone(UTC).isoformat()
    assert view["unit"]["name"] == "市住建局" and not view["is_open"] and view["allowed"] == []
    assert view["closed_at"] == (at("2026-11-25 16:00")).astimezone(UTC).isoformat()
    assert view["deadline"]["local"] == "2026-12-09 18:00"  # 10 working days from the dispatch


async def test_refused_moves_and_edits_change_nothing(env: Env) -> None:
    unit = await env.tickets.units.add(HOUSING)
    tid = (await env.tickets.create(new())).id
    before = await everything(env)
    with pytest.raises(IllegalTicketTransition, match="受理 → 办结 is not allowed"):
        await env.tickets.transition(tid, Transition(S.CLOSED, "8001"))
    with pytest.raises(InvalidInput, match="unit_id: no unit with id 42"):
        await env.tickets.transition(tid, Transition(S.DISPATCHED, "8001", 42))
    with pytest.raises(IllegalTicketTransition, match="only 咨询 and 表扬"):
        await env.tickets.transition(tid, Transition(S.DIRECT, "8001"))
    assert await everything(env) == before
    await env.tickets.transition(tid, Transition(S.DISPATCHED, "8001", unit.id))
    before = await everything(env)
    with pytest.raises(TicketNotEditable, match="content can no longer be changed"):
        await env.tickets.update(tid, {"content": "改了", "address": "东湖路 9 号"}, "8001")
    env.clock.now = at("2026-12-01 10:00")  # past the 1 working day for 退回
    with pytest.raises(IllegalTicketTransition, match="could be returned until 2026-11-26 18:00"):
        await env.tickets.transition(tid, Transition(S.RETURNED, "市住建局"))
    assert await everything(env) == before


async def test_a_refused_direct_close_saves_no_ticket(env: Env) -> None:
    with pytest.raises(IllegalTicketTransition, match="only 咨询 and 表扬"):
        await env.tickets.create(new(direct=True, call_id="c1"))
    assert await everything(env) == {"tickets": [], "ticket_calls": [], "ticket_events": [], "units": []}
    done = (
        await env.tickets.create(new(category="咨询", content="公积金提取需要什么材料", direct=True, seat="8001"))
    ).to_json()
    assert done["status"] == "直办" and not done["is_open"] and done["deadline"] is None
    assert [(e["from"], e["to"]) for e in done["events"]] == [(None, "受理"), ("受理", "直办")]


async def test_out_of_scope_calls_are_recorded_with_the_number_given(env: Env) -> None:
    view = (await env.tickets.create(new(category=None, content="家中被盗", guided_to="110", seat="8001"))).to_json()
    assert (view["status"], view["guided_to"], view["guided_label"], view["is_open"]) == (
        "非受理",
        "110",
        "公安报警",
        False,
    )
    assert view["events"][0]["comment"] == "guided to 110" and view["allowed"] == []


async def test_edits_before_dispatch_recompute_the_deadline_and_are_logged(env: Env) -> None:
    tid = (await env.tickets.create(new())).id
    view = (await env.tickets.update(tid, {"urgency": Urgency.EMERGENCY, "address": "东湖路 8 号"}, "8001")).to_json()
    assert view["urgency"] == "emergency" and view["deadline"]["local"] == "2026-11-25 10:00"  # at once
    assert view["events"][-1]["changes"] == {"urgency": ["normal", "emergency"], "address": [None, "东湖路 8 号"]}
    assert view["overdue"] is False
    env.clock.now += timedelta(minutes=5)
    assert (await env.tickets.get(tid)).overdue is True


async def test_an_emergency_dispatch_says_whom_to_phone(env: Env) -> None:
    unit = await env.tickets.units.add(CITY)
    tid = (await env.tickets.create(new(urgency="emergency"))).id
    view = (await env.tickets.transition(tid, Transition(S.DISPATCHED, "8001", unit.id))).to_json()
    assert view["phone_unit"] == {"name": "东湖区城管局", "phones": ["057186102000", "13800571200"]}
    assert view["deadline"]["local"] == "2026-11-25 10:00"


async def test_repeat_calls_are_added_once_and_not_to_closed_tickets(env: Env) -> None:
    tid = (await env.tickets.create(new(call_id="c1"))).id
    await env.tickets.add_call(tid, "c2", "8002")
    view = (await env.tickets.add_call(tid, "c2", "8002")).to_json()  # again: nothing new
    assert view["calls"] == ["c1", "c2"] and len(view["events"]) == 2
    closed = (await env.tickets.create(new(category=None, guided_to="120"))).id
    with pytest.raises(TicketClosed, match="starts a new ticket"):
        await env.tickets.add_call(closed, "c3", "8002")


async def test_a_ticket_shows_the_survey_of_each_of_its_calls(env: Env) -> None:
    surveys = SurveyStore(env.store.engine)
    tid = (await env.tickets.create(new(call_id="c1", seat="8001"))).id
    await env.tickets.add_call(tid, "c2", "8002")
    assert (await env.tickets.get(tid)).parts["surveys"] == []  # not rated (yet): a survey may come after the ticket
    first = at("2026-11-25 10:01")
    await surveys.save(SurveyResult("c1", "8001", "hotline", "13800138000", 5, 2, "满意", True, "answered", first))
    await surveys.save(
        SurveyResult("c2", "8002", "hotline", "13800138000", 5, None, "未评价", None, "timeout", first + timedelta(1))
    )
    await surveys.save(SurveyResult("c9", "8003", "hotline", "13900000000", 3, 1, "满意", True, "answered", first))
    view = (await env.tickets.get(tid)).to_json()
    assert [(s["call_id"], s["seat"], s["label"], s["level"], s["reason"]) for s in view["surveys"]] == [
        ("c1", "8001", "满意", 2, "answered"),
        ("c2", "8002", "未评价", None, "timeout"),
    ]
    assert view["surveys"][0]["at"] == first.astimezone(UTC).isoformat()
    assert [r.to_json() for r in await surveys.for_ticket(tid)] == view["surveys"]


async def test_a_survey_asked_again_never_erases_a_given_level(env: Env) -> None:
    """After a cut survey the citizen is asked again ([survey-again]): a later answer replaces, no answer does not."""
    surveys = SurveyStore(env.store.engine)
    first = at("2026-11-25 10:01")
    given = SurveyResult("c1", "8001", "hotline", "13800138000", 5, 2, "满意", True, "answered", first)
    await surveys.save(given)
    await surveys.save(SurveyResult("c1", "8001", "hotline", "13800138000", 5, None, "未评价", None, "hangup", first))
    assert await surveys.get("c1") == given
    later = SurveyResult("c1", "8001", "hotline", "13800138000", 5, 4, "不满意", False, "answered", first)
    await surveys.save(later)
    assert await surveys.get("c1") == later
    unanswered = SurveyResult("c2", "8002", "hotline", "13800138000", 5, None, "未评价", None, "timeout", first)
    await surveys.save(unanswered)
    await surveys.save(replace(unanswered, reason="hangup"))
    assert (await surveys.get("c2")).reason == "hangup"  # type: ignore[union-attr]  # no level either way: the last


async def test_history_puts_open_tickets_first_then_the_newest(env: Env) -> None:
    unit = await env.tickets.units.add(HOUSING)
    ids = []
    for i, category in enumerate(["咨询", "投诉举报", "求助", "咨询"]):
        env.clock.now = at("2026-11-20 09:00") + timedelta(hours=i)
        direct = category == "咨询"
        ids.append(
            (await env.tickets.create(new(category=category, direct=direct, content=f"第{i}件" + "很长" * 40))).id
        )
    await env.tickets.create(new(caller_number="13900139000"))  # someone else
    await env.tickets.transition(ids[1], Transition(S.DISPATCHED, "8001", unit.id))
    history = [h.to_json() for h in await env.tickets.history("138 0013 8000")]
    assert [h["id"] for h in history] == [ids[2], ids[1], ids[3], ids[0]]
    assert [h["is_open"] for h in history] == [True, True, False, False]
    first = history[1]
    assert first["unit_name"] == "市住建局" and first["unit"] == "市住建局" and first["open"] is True
    assert first["content"].startswith("第1件") and first["content"].endswith("…") and len(first["content"]) == 41
    assert set(first) >= {"id", "status", "category", "content", "unit_name", "created_at", "deadline", "is_open"}
    assert len(await env.tickets.history("13800138000", limit=2)) == 2
    assert await env.tickets.history("anonymous") == []


async def test_the_unit_directory(env: Env) -> None:
    assert await env.tickets.units.seed([HOUSING, CITY]) == 2
    assert await env.tickets.units.seed([HOUSING]) == 0  # not empty: the file never overwrites the database
    units = await env.tickets.units.search()
    assert [u.name for u in units] == ["市住建局", "东湖区城管局"]  # 市直 first
    assert [u.name for u in await env.tickets.units.search(q="噪音")] == ["东湖区城管局"]
    assert [u.name for u in await env.tickets.units.search(category=Category.SUGGESTION)] == ["东湖区城管局"]
    with pytest.raises(UnitConflict, match="another unit is already called '市住建局'"):
        await env.tickets.units.add(HOUSING)
    renamed = await env.tickets.units.replace(units[0].id or 0, replace(HOUSING, name="市住房和城乡建设局"))
    assert (await env.tickets.units.get(units[0].id or 0)).name == renamed.name == "市住房和城乡建设局"
    tid = (await env.tickets.create(new())).id
    await env.tickets.transition(tid, Transition(S.DISPATCHED, "8001", units[1].id))
    with pytest.raises(UnitConflict, match="has 1 ticket"):
        await env.tickets.units.delete(units[1].id or 0)
    await env.tickets.units.delete(units[0].id or 0)
    assert await env.tickets.units.count() == 1


def _sql(env: Env, number: str) -> str:
    dialect = postgresql.dialect() if env.store.engine.dialect.name == "postgresql" else sqlite.dialect()
    return str(history_query(number, 20).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def test_history_reads_the_caller_index(env: Env) -> None:
    await env.tickets.create(new())
    async with env.store.engine.connect() as conn:
        if env.store.engine.dialect.name == "sqlite":
            plan = " ".join(
                str(r) for r in (await conn.execute(text("EXPLAIN QUERY PLAN " + _sql(env, "13800138000")))).all()
            )
            assert "ix_tickets_caller_number_created_at" in plan, plan
            return
        await conn.execute(text("SET enable_seqscan = off"))  # a tiny table: ask which index it would use
        plan = (await conn.execute(text("EXPLAIN " + _sql(env, "13800138000")))).scalars().all()
        assert "ix_tickets_caller_number_created_at" in " ".join(plan), plan


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("Plans", []) for n in _nodes(child)]


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # the production database only
async def test_history_stays_fast_with_a_million_tickets(env: Env) -> None:
    """The screen pop asks at every ring: with 1,000,000 tickets on PostgreSQL the caller's history must come
    from the index (EXPLAIN ANALYZE), in milliseconds."""
    assert env.store.engine.dialect.name == "postgresql"
    async with env.store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tickets (status, category, urgency, caller_number, content, created_at, updated_at,"
                " closed_at) SELECT CASE WHEN g % 7 = 0 THEN '受理' ELSE '办结' END, '咨询', 'normal',"
                " '139' || lpad((g % 200000)::text, 8, '0'), '历史工单 ' || g,"
                " now() - g * interval '1 minute', now(), CASE WHEN g % 7 = 0 THEN NULL ELSE now() END"
                " FROM generate_series(1, 1000000) AS g"
            )
        )
        await conn.execute(text("ANALYZE tickets"))
    async with env.store.engine.connect() as conn:
        plan = (await conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + _sql(env, "13900012345")))).scalar_one()
    scans = [
        (node["Node Type"], node.get("Index Name"))
        for node in _nodes(plan[0]["Plan"])
        if node.get("Relation Name") == "tickets"
    ]
    assert scans == [("Index Scan", "ix_tickets_caller_number_created_at")], plan
    assert plan[0]["Execution Time"] < 50, plan  # milliseconds
    started = time.perf_counter()
    history = [h.to_json() for h in await env.tickets.history("13900012345")]
    assert time.perf_counter() - started < 0.5
    # g = 12345 + k * 200000 for k = 0..4: only k = 1 is open (g % 7 == 0); the others newest (smallest g) first
    assert [(h["id"], h["is_open"]) for h in history] == [
        (212345, True),
        (12345, False),
        (412345, False),
        (612345, False),
        (812345, False),
    ]


async def test_a_ticket_is_read_in_one_snapshot_while_others_commit(env: Env) -> None:
    """The case file reads in several statements (the ticket, its calls, events, each feature's part). A commit
    that lands between them must not show in the later ones: the ticket's view agrees with itself (REPEATABLE
    READ on PostgreSQL, one transaction on SQLite). A part that commits an event from another connection, then
    counts the ticket's events in the view's own session, stands in for a unit's reply landing mid-read."""
    ticket = await env.tickets.create(new(seat="8001"))

    async def concurrent_reply(session: Any, ticket_id: int, call_ids: list[str]) -> int:
        async with env.store.engine.begin() as other:  # another connection: a commit mid-read
            reply = {"ticket_id": ticket_id, "at": env.clock(), "by": "unit:x", "from_status": "受理"}
            await other.execute(insert(TicketEventRow).values(**reply, to_status="受理", comment="mid-read"))
        return len((await session.execute(text("SELECT id FROM ticket_events WHERE ticket_id = :t"),
                                          {"t": ticket_id})).all())  # fmt: skip

    env.tickets.parts["seen_events"] = concurrent_reply
    try:
        view = (await env.tickets.get(ticket.id)).to_json()
    finally:
        del env.tickets.parts["seen_events"]
    assert view["seen_events"] == len(view["events"]) == 1, "the view saw a commit made after it began"
    assert [e.comment for e in (await env.tickets.get(ticket.id)).events][-1] == "mid-read"
