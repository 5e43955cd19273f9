"""回访 tasks in the database (SQLite and PostgreSQL), with a clock the test moves: created on the unit's
reply (反馈), claimed once, retried, 无法联系 after the last try, the IVR's requests, the leader's view."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import event, select

from hotline.callbacks import outcome
from hotline.callbacks.schedule import AttemptOutcome, Policy, Task, TaskStatus
from hotline.callbacks.store import CallbackStore
from hotline.db.models import CallbackRequestRow, CallbackTaskRow, CallRow
from hotline.tickets import validate
from hotline.tickets.model import CaseFile, Category, TicketStatus, Transition, Unit
from tests.helpers.tickets_env import Env, at, env_fixture  # noqa: F401  (the `env` fixture)

S = TicketStatus
UNIT = Unit(None, "市住建局", "市直", ("057187001200",), (Category.COMPLAINT,), ("物业",), "")


async def replied_ticket(env: Env, number: str = "13800138000") -> CaseFile:
    unit = await env.tickets.units.add(UNIT)
    body = {"caller_number": number, "content": "小区电梯坏了一周", "category": "投诉举报", "seat": "8002"}
    view = await env.tickets.create(validate.new_ticket(body))
    for move in (Transition(S.DISPATCHED, "8002", unit_id=unit.id), Transition(S.SIGNED, "unit"),
                 Transition(S.REPLIED, "unit", comment="已修复")):  # fmt: skip
        view = await env.tickets.transition(view.id, move)
    return view


def callbacks(env: Env) -> CallbackStore:
    return CallbackStore(env.store.engine, env.tickets.calendar, Policy(), clock=env.clock)


async def test_a_reply_creates_one_callback_task(env: Env) -> None:
    env.clock.now = at("2026-09-30 17:00")  # the day before 国庆节
    view = await replied_ticket(env)
    assert [c["status"] for c in view.parts["callbacks"]] == ["pending"]
    task = view.parts["callbacks"][0]
    assert task["deadline"] == {"at": at("2026-10-10 18:00").astimezone(UTC).isoformat(), "provisional": False}
    assert (task["preferred_seat"], task["number"], task["kind"]) == ("8002", "13800138000", "回访")
    store = callbacks(env)
    due = await store.due(at("2026-10-08 09:00"))
    assert [t.id for t in due] == [task["id"]]
    # 重办 and a second reply: a second task, for the second reply
    await env.tickets.transition(view.id, Transition(S.REDO, "8002", comment="不满意"))
    again = await env.tickets.transition(view.id, Transition(S.REPLIED, "unit"))
    assert len(again.parts["callbacks"]) == 2


async def test_a_reply_in_december_reaching_2027_is_provisional(env: Env) -> None:
    env.clock.now = at("2026-12-30 10:00")
    task = (await replied_ticket(env)).parts["callbacks"][0]
    assert task["deadline"]["provisional"] is True
    view = await callbacks(env).leader_view(at("2026-12-30 11:00"))
    assert view["calendar_warnings"] and "2027" in view["calendar_warnings"][0]


async def test_claimed_once_retried_then_unreachable(env: Env) -> None:
    view = await replied_ticket(env)
    store = callbacks(env)
    task = await store.task(view.parts["callbacks"][0]["id"])
    first = await store.claim(task, "8002", near=False)
    assert first is not None
    assert await store.claim(task, "8003", near=False) is None  # never twice at once
    assert await store.busy_tickets() == frozenset({view.id})
    after = await store.end_attempt(first, AttemptOutcome.BUSY, "BUSY")
    assert after is not None and after.status is TaskStatus.PENDING and after.attempts == 1
    assert await store.end_attempt(first, AttemptOutcome.BUSY, "BUSY") is None  # an end seen twice
    assert await store.due(env.clock.now) == []  # spaced
    for n in range(2):
        env.clock.now = after.next_at
        attempt = await store.claim(await store.task(task.id), "8002", near=False)
        assert attempt == f"cb-{task.id}-{n + 2}"
        after = await store.end_attempt(attempt, AttemptOutcome.NO_ANSWER, "NOANSWER")
        assert after is not None
    assert after.status is TaskStatus.UNREACHABLE
    got = await store.get(task.id)
    assert got["outcome"] == "无法联系"
    assert [a["outcome"] for a in got["history"]] == ["busy", "no_answer", "no_answer"]
    assert (await callbacks(env).last_callback("138-0013-8000")).outcome == "无法联系"  # type: ignore[union-attr]


async def reached(env: Env, seat: str) -> tuple[CaseFile, CallbackStore, Task, str]:
    """A replied ticket whose callback attempt by `seat` reached the citizen: (ticket, store, task, attempt)."""
    view = await replied_ticket(env)
    store = callbacks(env)
    task = await store.task(view.parts["callbacks"][0]["id"])
    attempt = await store.claim(task, seat, near=False)
    assert attempt is not None
    await store.mark(attempt, "seat")
    await store.mark(attempt, "citizen")
    return view, store, task, attempt


async def test_reached_then_recorded(env: Env) -> None:
    _, store, task, attempt = await reached(env, "8002")
    assert (await store.task(task.id)).status is TaskStatus.REACHED
    after = await store.end_attempt(attempt, AttemptOutcome.NO_ANSWER, "ANSWER")
    assert after is not None and after.status is TaskStatus.REACHED  # answered is answered
    voicemail = await store.not_reached(task.id, "8002", "语音信箱")  # a counted try, retried later
    assert (voicemail.status, voicemail.attempts) == (TaskStatus.PENDING, 1)
    env.clock.now = voicemail.next_at
    attempt = await store.claim(await store.task(task.id), "8002", near=False)
    assert attempt is not None
    await store.mark(attempt, "citizen")
    done = await store.record(task.id, "满意", "修好了", "8002")
    assert done.status is TaskStatus.DONE
    rates = await store.satisfaction(at("2026-11-01 00:00"))
    assert rates["all"] == {"reached": 1, "satisfied": 1, "rate": 1.0}
    assert rates["per_unit"] == {"市住建局": rates["all"]} and rates["per_category"] == {"投诉举报": rates["all"]}


async def test_an_outcome_moves_the_ticket_and_ends_the_task_in_one_transaction(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seat's 不满意 sends the ticket to 重办 and ends the task, together: when the task's write fails after
    the ticket's move was written, neither is saved (the seat can record it again); when it succeeds, both are."""
    view, store, task, _ = await reached(env, "8002")
    real = outcome.record_in

    async def lost_midway(*args: Any) -> Task:
        await real(*args)
        raise RuntimeError("the database went away mid-transaction")

    monkeypatch.setattr(outcome, "record_in", lost_midway)
    body = {"outcome": "不满意", "comment": "电梯还是坏的", "by": "8002"}
    with pytest.raises(RuntimeError, match="went away"):
        await outcome.record_outcome(store, env.tickets, None, task.id, body)
    assert (await env.tickets.get(view.id)).status == S.REPLIED.value
    assert (await store.task(task.id)).status is TaskStatus.REACHED
    monkeypatch.setattr(outcome, "record_in", real)
    done = await outcome.record_outcome(store, env.tickets, None, task.id, body)
    assert done["status"] == TaskStatus.DONE.value and done["outcome"] == "不满意"
    assert (await env.tickets.get(view.id)).status == S.REDO.value


async def test_a_task_and_its_history_come_from_one_snapshot(env: Env) -> None:
    """A survey that falls back ends the attempt and moves the task in one transaction; a reader must never see
    the attempt ended but the task still reached (two SELECTs could, between them: a flaky CI run did)."""
    view, store, task, attempt = await reached(env, "IVR")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(env.store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        got = await store.get(task.id)
        assert len(statements) == 1, statements  # one statement: one snapshot, whatever the isolation level
        assert (got["status"], [a["ended_at"] for a in got["history"]]) == ("reached", [None])
        await store.survey_fallback(attempt, AttemptOutcome.ANSWERED, "timeout")
        statements.clear()
        [got] = await store.for_ticket(view.id)
        assert len(statements) == 1, statements
    finally:
        event.remove(env.store.engine.sync_engine, "before_cursor_execute", seen)
    assert (got["status"], got["survey"], got["history"][0]["dial_status"]) == ("pending", False, "timeout")
    assert got["history"][0]["ended_at"] is not None
    assert await store.get(task.id) == got  # the same view either way


async def test_ivr_requests_become_tasks_and_the_leader_view(env: Env) -> None:
    env.clock.now = at("2026-11-27 19:00")  # Friday evening: due Monday's end
    async with env.store.engine.begin() as conn:
        await conn.execute(
            CallbackRequestRow.__table__.insert().values(  # type: ignore[attr-defined]
                call_id="c1",
                caller_number="13900139000",
                number="13900139000",
                queue="hotline",
                status="pending",
                created_at=env.clock.now,
            )
        )
    store = callbacks(env)
    assert await store.import_requests() == 1
    assert await store.import_requests() == 0
    async with env.store.engine.connect() as conn:
        row = (await conn.execute(select(CallbackTaskRow.__table__))).one()  # type: ignore[attr-defined]
    assert row.kind == "回拨" and row.deadline_at == at("2026-11-30 18:00")
    await replied_ticket(env, "13700137000")  # due Wednesday 2 December
    view = await store.leader_view(at("2026-11-30 17:00"))
    assert view["counts"] == {"overdue": 0, "today": 1, "tomorrow": 0, "later": 1}
    assert [t["kind"] for t in view["raised"]] == ["回拨"]
    view = await store.leader_view(at("2026-12-01 09:00"))
    assert view["counts"]["overdue"] == 1 and view["counts"]["tomorrow"] == 1
    assert view["per_seat"]["8002"]["tomorrow"] == 1
    assert view["overdue"][0]["number"] == "13900139000"


async def test_lost_calls_are_called_back_unless_they_got_through(env: Env) -> None:
    env.clock.now = at("2026-11-25 10:30")

    def call(call_id: str, number: str | None, *, answered: bool, wait_ms: int, minute: int) -> dict[str, Any]:
        start = at(f"2026-11-25 10:{minute:02d}")
        return dict(
            call_id=call_id, state="ended", caller_number=number, started_at=start, ended_at=start,
            answered_at=start if answered else None, outcome="answered" if answered else "abandoned", wait_ms=wait_ms,
        )  # fmt: skip

    rows = [
        call("lost-1", "13900139001", answered=False, wait_ms=30000, minute=1),  # called back
        call("lost-2", "13900139002", answered=False, wait_ms=3000, minute=2),  # too short a wait
        call("lost-3", "anonymous", answered=False, wait_ms=30000, minute=3),  # withheld
        call("lost-4", "13900139004", answered=False, wait_ms=30000, minute=4),
        call("back-4", "13900139004", answered=True, wait_ms=1000, minute=6),  # got through later
    ]
    async with env.store.engine.begin() as conn:
        await conn.execute(CallRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    store = callbacks(env)
    assert await store.import_missed(at("2026-11-25 00:00"), 10000) == 1
    assert await store.import_missed(at("2026-11-25 00:00"), 10000) == 0  # one task per lost call
    (task,) = await store.due(env.clock.now)
    assert (task.kind.value, task.number, task.deadline_at) == ("呼损", "13900139001", at("2026-11-25 18:00"))
    assert await store.settle_missed() == 0
    async with env.store.engine.begin() as conn:  # the citizen calls again and gets through
        await conn.execute(
            CallRow.__table__.insert(),  # type: ignore[attr-defined]
            [call("back-1", "13900139001", answered=True, wait_ms=1000, minute=20)],
        )
    assert await store.settle_missed() == 1
    assert (await store.get(task.id))["outcome"] == "已接通" and await store.due(env.clock.now) == []
