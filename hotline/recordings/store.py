"""The recordings catalogue, QA samples, score sheets and the audit log in the database (the service's engine).

Rows are plain dicts out (the HTTP layer sends them as they are); the decisions are made in the pure
modules (checker, sampling, scoring, retention).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from hotline.db.models import (
    CallbackAttemptRow,
    CallbackTaskRow,
    CallRow,
    QaAuditRow,
    QaSampleRow,
    QaScoreRow,
    RecordingRow,
    SurveyResultRow,
    TicketCallRow,
    TicketRow,
)
from hotline.db.store import Store

from ..clock import utc_now
from .checker import RecStatus, Talk, talk_of
from .sampling import Candidate, Pick
from .scoring import Scored, Sheet, sheet_from_json

CALLBACK_QUEUE = "回访"  # the queue column of a callback's recording (the 回访 dialer's calls)
CATCH_UP_LONGEST_CALL = timedelta(
    hours=4
)  # calls looked at by their start: one that ended in the window began so long before
ID_CHUNK = 500  # call ids per IN (...) query: a week of files is far more than a statement's parameters
COLUMNS = ("call_id", "seat", "caller_number", "ticket_id", "queue", "day", "started_at", "call_s", "duration_s",
           "size", "sha256", "path", "status", "status_reason", "checked_at", "keep_until", "purged_at",
           "flagged_by", "flag_comment")  # fmt: skip


def recording_json(row: RecordingRow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in COLUMNS:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    out["flagged"] = RecStatus(row.status).flagged
    return out


def _ticket_links(call_ids: list[str]) -> Any:
    """(call id, ticket id) of the calls' tickets: ticket_calls, and a callback attempt's task's ticket."""
    calls = select(TicketCallRow.call_id, TicketCallRow.ticket_id).where(TicketCallRow.call_id.in_(call_ids))
    callbacks = (
        select(CallbackAttemptRow.id, CallbackTaskRow.ticket_id)
        .join(CallbackTaskRow, CallbackTaskRow.id == CallbackAttemptRow.task_id)
        .where(CallbackAttemptRow.id.in_(call_ids), CallbackTaskRow.ticket_id.is_not(None))
    )
    return calls.union_all(callbacks)


class RecordingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self._calls = Store(engine)  # the calls the bridge writes (hotline/db/store.py)

    # ------------------------------------------------------------------ catalogue
    async def save(self, values: dict[str, Any]) -> None:
        """Insert or replace the catalogue row of values["call_id"] (a leader's flag is kept)."""
        async with self._session.begin() as session:
            row = await session.get(RecordingRow, values["call_id"])
            if row is None:
                session.add(RecordingRow(**values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)

    async def get(self, call_id: str) -> dict[str, Any] | None:
        async with self._session() as session:
            row = await session.get(RecordingRow, call_id)
            return None if row is None else recording_json(row)

    async def catalogued(self, call_ids: Iterable[str]) -> set[str]:
        """Those of `call_ids` that have a catalogue row (purged ones too)."""
        ids, out = list(call_ids), set[str]()
        async with self._session() as session:
            for i in range(0, len(ids), ID_CHUNK):
                query = select(RecordingRow.call_id).where(RecordingRow.call_id.in_(ids[i : i + ID_CHUNK]))
                out.update(await session.scalars(query))
        return out

    async def set_status(self, call_id: str, status: RecStatus, reason: str, *, if_at: str | None = None,
                         **values: Any) -> bool:  # fmt: skip
        """Write the row's status (and `values`); with `if_at`, only while the row is not purged and still names
        that path (`hotline qa recompress` may have moved it to another file since it was read). False: no row
        was written."""
        query = update(RecordingRow).where(RecordingRow.call_id == call_id)
        if if_at is not None:
            query = query.where(RecordingRow.path == if_at, RecordingRow.status != RecStatus.PURGED.value)
        async with self._session.begin() as session:
            done = await session.execute(
                query.values(status=status.value, status_reason=reason, checked_at=utc_now(), **values)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def flag(self, call_id: str, by: str, comment: str) -> bool:
        async with self._session.begin() as session:
            done = await session.execute(
                update(RecordingRow).where(RecordingRow.call_id == call_id).values(flagged_by=by, flag_comment=comment)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def listing(self, *, day: str | None = None, seat: str | None = None, status: str | None = None,
                      limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
        query = select(RecordingRow).order_by(RecordingRow.started_at.desc()).limit(limit)
        if day:
            query = query.where(RecordingRow.day == day)
        if seat:
            query = query.where(RecordingRow.seat == seat)
        if status:
            query = query.where(RecordingRow.status == status)
        async with self._session() as session:
            return [recording_json(r) for r in await session.scalars(query)]

    async def kept(self, *, since: date | None = None, before: date | None = None) -> list[dict[str, Any]]:
        """Recordings not purged yet, of days from `since` and before `before` (the checker's and the purge's list)."""
        query = select(RecordingRow).where(RecordingRow.status != RecStatus.PURGED.value)
        if since is not None:
            query = query.where(RecordingRow.day >= since.isoformat())
        if before is not None:
            query = query.where(RecordingRow.day < before.isoformat())
        async with self._session() as session:
            return [recording_json(r) for r in await session.scalars(query)]

    async def categories(self, call_ids: Iterable[str]) -> dict[str, set[str]]:
        """Each call's ticket categories (through ticket_calls)."""
        ids = list(call_ids)
        out: dict[str, set[str]] = {c: set() for c in ids}
        links = _ticket_links(ids).subquery()
        query = select(links.c.call_id, TicketRow.category).join(TicketRow, TicketRow.id == links.c.ticket_id)
        async with self._session() as session:
            for call_id, category in await session.execute(query):
                if category:
                    out[call_id].add(category)
        return out

    async def tickets_of(self, call_id: str) -> list[int]:
        """The call's tickets; a callback attempt's (回访): the ticket called back about."""
        async with self._session() as session:
            return sorted({t for _, t in await session.execute(_ticket_links([call_id]))})

    async def callback_talk(self, attempt_id: str) -> Talk | None:
        """What the catalogue needs of a callback attempt (回访) the citizen answered; None if not answered."""
        async with self._session() as session:
            row = await session.get(CallbackAttemptRow, attempt_id)
            if row is None or row.answered_at is None or row.ended_at is None:
                return None
            return Talk(attempt_id, row.seat, row.number, CALLBACK_QUEUE, row.answered_at,
                        max(0.0, (row.ended_at - row.answered_at).total_seconds()))  # fmt: skip

    async def not_catalogued(self, since: datetime, until: datetime) -> list[Talk]:
        """Answered talks that ended in [since, until) and have no catalogue row: calls the bridge stored and
        callback attempts the citizen answered. What a process that died between a call's end and its catalogue
        (the settle pause) left behind; the next one catches up (RecordingService.catch_up). The database picks
        them (calls by their start's index, then their end), so a start reads only those."""
        catalogued = select(RecordingRow.call_id)
        calls = select(CallRow.call_id).where(
            CallRow.started_at >= since - CATCH_UP_LONGEST_CALL, CallRow.started_at < until,
            CallRow.answered_at.is_not(None), CallRow.ended_at >= since, CallRow.ended_at < until,
            CallRow.call_id.not_in(catalogued),
        )  # fmt: skip
        attempts = select(CallbackAttemptRow.id).where(
            CallbackAttemptRow.answered_at.is_not(None), CallbackAttemptRow.ended_at >= since,
            CallbackAttemptRow.ended_at < until, CallbackAttemptRow.id.not_in(catalogued),
        )  # fmt: skip
        async with self._session() as session:
            call_ids, attempt_ids = list(await session.scalars(calls)), list(await session.scalars(attempts))
        talks = [talk_of(c) for c in (await self._calls.calls(call_ids)).values()] if call_ids else []
        for attempt_id in attempt_ids:
            if (talk := await self.callback_talk(attempt_id)) is not None:
                talks.append(talk)
        return talks

    async def swept_talk(self, call_id: str) -> tuple[Talk, str] | None:
        """What the database knows of a recording the sweep found, and where from: a call the bridge wrote
        (`calls`, with its legs) or a callback attempt (`callback_attempts`); None when neither has the id.
        expected_s is None when the database never learned when the talk began and ended (the service was
        down when it did)."""
        call = await self._calls.get_call(call_id)
        if call is not None:
            if call.answered_at is not None and call.ended_at is not None:
                return talk_of(call), "calls"
            at = call.answered_at or call.started_at
            return Talk(call_id, call.seat, call.caller_number, call.queue, at, None), "calls"
        async with self._session() as session:
            row = await session.get(CallbackAttemptRow, call_id)
        if row is None:
            return None
        at = row.answered_at or row.seat_answered_at or row.started_at
        talk = None if row.answered_at is None or row.ended_at is None else row.ended_at - row.answered_at
        expected = None if talk is None else max(0.0, talk.total_seconds())
        return Talk(call_id, row.seat, row.number, CALLBACK_QUEUE, at, expected), "callback_attempts"

    # ------------------------------------------------------------------ sampling
    async def candidates(self, day: date) -> list[Candidate]:
        """The day's recorded calls with what makes them mandatory for QA."""
        query = select(RecordingRow).where(RecordingRow.day == day.isoformat(), RecordingRow.seat.is_not(None),
                                           RecordingRow.status != RecStatus.PURGED.value)  # fmt: skip
        async with self._session() as session:
            rows = list(await session.scalars(query))
            ids = [r.call_id for r in rows]
            unsatisfied = set(
                await session.scalars(
                    select(SurveyResultRow.call_id).where(
                        SurveyResultRow.call_id.in_(ids), SurveyResultRow.satisfied.is_(False)
                    )
                )
            )
        categories = await self.categories(ids)
        return [
            Candidate(
                r.call_id, r.seat or "", r.started_at or datetime.min.replace(tzinfo=UTC), r.call_s,
                complaint="投诉举报" in categories[r.call_id], unsatisfied=r.call_id in unsatisfied,
                flagged=r.flagged_by is not None,
            )
            for r in rows
        ]  # fmt: skip

    async def sampled_ids(self) -> set[str]:
        async with self._session() as session:
            return set(await session.scalars(select(QaSampleRow.call_id)))

    async def add_samples(self, day: date, picks: Iterable[Pick]) -> int:
        """Insert picks not sampled yet; returns how many were new."""
        known = await self.sampled_ids()
        new = [p for p in picks if p.call_id not in known]
        async with self._session.begin() as session:
            for p in new:
                session.add(QaSampleRow(call_id=p.call_id, day=day.isoformat(), seat=p.seat,
                                        reasons=[r.value for r in p.reasons], created_at=utc_now()))  # fmt: skip
        return len(new)

    async def samples(self, *, day: str | None = None, seat: str | None = None, reason: str | None = None,
                      scored: bool | None = None, since: str | None = None, until: str | None = None,
                      limit: int = 500) -> list[dict[str, Any]]:  # fmt: skip
        query = (
            select(QaSampleRow, RecordingRow, QaScoreRow)
            .join(RecordingRow, RecordingRow.call_id == QaSampleRow.call_id, isouter=True)
            .join(QaScoreRow, QaScoreRow.call_id == QaSampleRow.call_id, isouter=True)
            .order_by(QaSampleRow.day.desc(), QaSampleRow.seat, RecordingRow.started_at)
            .limit(limit)
        )
        if day:
            query = query.where(QaSampleRow.day == day)
        if since:
            query = query.where(QaSampleRow.day >= since)
        if until:
            query = query.where(QaSampleRow.day <= until)
        if seat:
            query = query.where(QaSampleRow.seat == seat)
        if scored is not None:
            query = query.where(QaScoreRow.call_id.is_not(None) if scored else QaScoreRow.call_id.is_(None))
        out = []
        async with self._session() as session:
            for sample, rec, score in await session.execute(query):
                if reason and reason not in sample.reasons:
                    continue
                out.append({
                    "call_id": sample.call_id, "day": sample.day, "seat": sample.seat, "reasons": sample.reasons,
                    "recording": None if rec is None else recording_json(rec),
                    "score": None if score is None else _score_json(score),
                })  # fmt: skip
        return out

    async def sample(self, call_id: str) -> dict[str, Any] | None:
        async with self._session() as session:
            row = await session.get(QaSampleRow, call_id)
            return None if row is None else {"call_id": row.call_id, "day": row.day, "seat": row.seat,
                                             "reasons": row.reasons}  # fmt: skip

    # ------------------------------------------------------------------ scores
    async def save_score(self, call_id: str, seat: str, day: str, scorer: str, sheet: Sheet) -> dict[str, Any]:
        async with self._session.begin() as session:
            row = await session.get(QaScoreRow, call_id)
            if row is None:
                row = QaScoreRow(call_id=call_id)
                session.add(row)
            row.seat, row.day, row.scorer, row.sheet = seat, day, scorer, sheet.to_json()
            row.error, row.scored_at = sheet.error, utc_now()
            return _score_json(row)

    async def score(self, call_id: str) -> dict[str, Any] | None:
        async with self._session() as session:
            row = await session.get(QaScoreRow, call_id)
            return None if row is None else _score_json(row)

    async def scored_rows(self, since: str, until: str, seat: str | None = None) -> list[Scored]:
        query = (
            select(QaSampleRow, QaScoreRow)
            .join(QaScoreRow, QaScoreRow.call_id == QaSampleRow.call_id, isouter=True)
            .where(QaSampleRow.day >= since, QaSampleRow.day <= until)
        )
        if seat:
            query = query.where(QaSampleRow.seat == seat)
        async with self._session() as session:
            return [
                Scored(s.call_id, s.seat, date.fromisoformat(s.day), None if sc is None else sheet_from_json(sc.sheet))
                for s, sc in await session.execute(query)
            ]

    # ------------------------------------------------------------------ audit
    async def audit(
        self, who: str, role: str, action: str, call_id: str, detail: str | None, remote: str | None
    ) -> None:
        async with self._session.begin() as session:
            session.add(QaAuditRow(at=utc_now(), who=who, role=role, action=action, call_id=call_id[:100],
                                   detail=(detail or "")[:200] or None, remote=remote))  # fmt: skip

    async def audit_log(self, *, call_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = select(QaAuditRow).order_by(QaAuditRow.id.desc()).limit(limit)
        if call_id:
            query = query.where(QaAuditRow.call_id == call_id)
        async with self._session() as session:
            return [
                {"at": r.at.isoformat(), "who": r.who, "role": r.role, "action": r.action, "call_id": r.call_id,
                 "detail": r.detail, "remote": r.remote}
                for r in await session.scalars(query)
            ]  # fmt: skip


def _score_json(row: QaScoreRow) -> dict[str, Any]:
    return {"call_id": row.call_id, "seat": row.seat, "day": row.day, "scorer": row.scorer, "sheet": row.sheet,
            "error": row.error, "scored_at": row.scored_at.isoformat() if row.scored_at else None}  # fmt: skip
