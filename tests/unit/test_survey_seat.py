"""The survey's seat: MEMBERINTERFACE as the queue set it, else the seat of the bridge's live call
(hotline.survey.service.Ivr); stored and published either way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hotline.bus import InProcessBus
from hotline.db.store import Store
from hotline.settings import load_settings
from hotline.survey.service import Ivr
from hotline.survey.store import SurveyResult
from hotline.topics import TOPIC_SURVEY


def result(call_id: str, seat: str | None) -> SurveyResult:
    return SurveyResult(call_id, seat, "hotline", "13800138000", 5, 1, "非常满意", True, "answered", datetime.now(UTC))


async def test_a_survey_without_a_seat_takes_the_seat_of_the_call(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'hotline.db'}")
    bus = InProcessBus()
    calls = {"c1": "8003"}
    ivr = Ivr(load_settings({}), store, bus, seat_of=calls.get)
    try:
        async with bus.subscribe(TOPIC_SURVEY) as sub:
            await ivr.server.on_survey(result("c1", None))  # after a three-way call, say: no MEMBERINTERFACE
            await ivr.server.on_survey(result("c2", "8001"))  # the queue's seat wins
            await ivr.server.on_survey(result("c3", None))  # no live call either: stored without a seat
            published = [(await sub.get(timeout=1))[1] for _ in range(3)]
        assert [(m.call_id, m.seat) for m in published] == [("c1", "8003"), ("c2", "8001"), ("c3", None)]
        assert [(r.call_id, r.seat) for r in await store_results(ivr)] == [("c1", "8003"), ("c2", "8001"), ("c3", None)]
    finally:
        await store.close()


async def store_results(ivr: Ivr) -> list[SurveyResult]:
    return [r for r in [await ivr.surveys.get(c) for c in ("c1", "c2", "c3")] if r is not None]
