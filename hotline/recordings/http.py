"""HTTP for recordings and QA (质检). Every route needs a login: a QA token (POST /api/qa/session) or a seat's
token (POST /api/session); a seat only ever reaches its own calls. Every listen and download is audited.

POST /api/qa/session (or /api/staff/session)  {"user", "password"} -> {"user", "role", "token", "expires_at"}
GET  /api/qa/samples?day=&seat=&reason=&scored=true|false     the sampled calls (a seat: its own)
POST /api/qa/sample?day=YYYY-MM-DD        QA: run the day's sampling now (the nightly run does yesterday)
GET  /api/recordings?day=&seat=&status=   the catalogue (a seat: its own)
GET  /api/recordings/{call_id}            one recording's row, its tickets, its sample and score
GET  /api/recordings/{call_id}/audio      the file (ogg, flac, wav), HTTP Range (seek); ?download=1 to save it
POST /api/recordings/{call_id}/flag       QA: {"comment"}: a call a team leader wants heard (sampled next run)
GET  /api/qa/scores/{call_id}             the score sheet;  PUT /api/qa/scores/{call_id} (QA) saves it
GET  /api/qa/reports?period=week|month&by=seat|team&since=&until=   sampled, scored, errors, 质检差错率
GET  /api/qa/audit?call_id=               QA: who listened to or downloaded what, when
GET  /qa                                  the QA workplace (质检工作台); a seat sees its own scores there
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from aiohttp import web

from hotline.api import ApiError, dumps, json_body
from hotline.seats.auth import SeatAuth, token_of

from .formats import Format
from .paths import PathRefused, check_call_id, resolve
from .qaauth import Principal, QaAuth, QaAuthError
from .sampling import REASON_LABELS, Reason
from .scoring import STANDARDS, ScoreInvalid, parse_sheet, report, teams_by_seat
from .service import RecordingService

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"


class QaContext:
    def __init__(self, service: RecordingService, qa: QaAuth, seats: SeatAuth, teams: Mapping[str, list[str]]) -> None:
        self.service, self.qa, self.seats, self.teams = service, qa, seats, teams


QA: web.AppKey[QaContext] = web.AppKey("qa", QaContext)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def principal(request: web.Request, *, leader: bool = False) -> Principal:
    """Who is asking: QA or a seat (or, with `leader`, a team leader); 401 for anyone without a valid token,
    403 for a team leader where only QA and the seat's own may look."""
    ctx, token = request.app[QA], token_of(request)
    if not token:
        raise ApiError(401, "login-required", "log in first: recordings need a QA login (or the seat's own)")
    found = ctx.qa.verify(token)
    if found is not None and found.role not in ("qa", "leader"):  # a handling unit's login: its tickets only
        raise ApiError(403, "not-allowed", f"{found.who} may not do this: recordings and QA are the hotline's own")
    if found is not None and found.role == "leader" and not leader:
        raise ApiError(403, "qa-only", "team leaders may flag calls for QA; listening and scoring are for QA staff")
    if found is not None:
        return found
    return Principal("seat", ctx.seats.check(token).seat)


def qa_only(request: web.Request, *, leader: bool = False) -> Principal:
    who = principal(request, leader=leader)
    if who.role not in (("qa", "leader") if leader else ("qa",)):
        raise ApiError(403, "qa-only", "only QA staff (质检员) may do this" + (" (or a team leader)" if leader else ""))
    return who


def _seat_scope(who: Principal, asked: str | None) -> str | None:
    """The seat filter a principal may use: QA any, a seat only itself."""
    if who.role == "qa":
        return asked or None
    if asked and asked != who.name:
        raise ApiError(403, "not-your-seat", f"seat {who.name} may only see its own recordings, not seat {asked}'s")
    return who.name


async def _call_id(request: web.Request, who: Principal) -> str:
    raw = request.match_info["call_id"]
    try:
        return check_call_id(raw)
    except PathRefused as exc:
        await request.app[QA].service.store.audit(who.who, who.role, "refused", raw, str(exc), request.remote)
        log.warning("%s asked for a path-like recording id %r: refused", who.who, raw[:80])
        raise ApiError(400, "invalid-call-id", f"call_id: {exc}") from None


async def _recording(request: web.Request, who: Principal) -> dict[str, Any]:
    """The catalogue row the principal may reach: 404 unknown, 403 another seat's call (audited)."""
    call_id = await _call_id(request, who)
    store = request.app[QA].service.store
    row = await store.get(call_id)
    if row is None:
        raise ApiError(404, "recording-not-found", f"no recording of call {call_id}")
    if who.role == "seat" and row["seat"] != who.name:
        await store.audit(who.who, who.role, "refused", call_id, "another seat's call", request.remote)
        raise ApiError(403, "not-your-call", f"seat {who.name} may only hear its own calls; QA hears the others")
    return row


def _day(value: str | None, field: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ApiError(400, "invalid-input", f"{field}: a date as YYYY-MM-DD, not {value[:20]!r}") from None


# ------------------------------------------------------------------ handlers
async def qa_login(request: web.Request) -> web.Response:
    body = await json_body(request)
    user, password = body.get("user"), body.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise ApiError(400, "invalid-input", "user and password: required", field="user")
    try:
        token, expires = request.app[QA].qa.login(user, password)
    except QaAuthError:
        log.warning("staff login refused for %r from %s", user[:32], request.remote)
        raise
    role, unit = request.app[QA].qa.role(user), request.app[QA].qa.unit(user)
    log.info("staff user %s (%s%s) logged in from %s", user, role, f" of unit {unit}" if unit else "", request.remote)
    return _json({"user": user, "role": role, "unit": unit, "token": token,
                  "expires_at": datetime.fromtimestamp(expires, UTC).isoformat()})  # fmt: skip


async def list_samples(request: web.Request) -> web.Response:
    who, q = principal(request), request.query
    scored = {"true": True, "false": False}.get(q.get("scored", ""))
    reason = q.get("reason") or None
    if reason and reason not in {r.value for r in Reason}:
        raise ApiError(400, "invalid-input", f"reason: one of {', '.join(r.value for r in Reason)}", field="reason")
    rows = await request.app[QA].service.store.samples(
        day=_day(q.get("day"), "day"), seat=_seat_scope(who, q.get("seat")), reason=reason, scored=scored
    )
    return _json({"samples": rows, "reasons": {r.value: REASON_LABELS[r] for r in Reason}, "role": who.role,
                  "name": who.name})  # fmt: skip


async def run_sampling(request: web.Request) -> web.Response:
    who = qa_only(request)
    service = request.app[QA].service
    day = _day(request.query.get("day"), "day") or (service.today() - timedelta(days=1)).isoformat()
    plan, added = await service.sample(date.fromisoformat(day))
    log.info("QA sampling of %s run by %s: %d new", day, who.who, added)
    return _json({"day": day, "picked": len(plan.picks), "added": added})


async def list_recordings(request: web.Request) -> web.Response:
    who, q = principal(request), request.query
    rows = await request.app[QA].service.store.listing(
        day=_day(q.get("day"), "day"), seat=_seat_scope(who, q.get("seat")), status=q.get("status") or None
    )
    return _json({"recordings": rows})


async def get_recording(request: web.Request) -> web.Response:
    who = principal(request)
    row = await _recording(request, who)
    store = request.app[QA].service.store
    call_id = row["call_id"]
    tickets, sample, score = await store.tickets_of(call_id), await store.sample(call_id), await store.score(call_id)
    return _json({"recording": row, "tickets": tickets, "sample": sample, "score": score})


async def audio(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    row = await _recording(request, who)
    ctx = request.app[QA]
    try:
        path = resolve(ctx.service.root, row["path"])
    except PathRefused as exc:
        log.error("call %s: catalogue path refused (%s): not served", row["call_id"], exc)
        raise ApiError(409, "recording-path-refused", f"the stored path of call {row['call_id']} is refused") from None
    if row["status"] == "purged" or not path.is_file():
        raise ApiError(410, "recording-gone", f"the recording of call {row['call_id']} is {row['status']}, no file")
    download = request.query.get("download") == "1"
    action = "download" if download else "listen"
    await ctx.service.store.audit(who.who, who.role, action, row["call_id"], request.headers.get("Range"),
                                  request.remote)  # fmt: skip
    log.info("call %s: recording %s by %s (%s)", row["call_id"], action, who.who, request.headers.get("Range", "all"))
    fmt = Format.of_name(path.name)  # the file's own: a .wav made before a switch of format stays a .wav
    headers = {"Content-Type": fmt.content_type, "Cache-Control": "private, no-store"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{row["call_id"]}{fmt.suffix}"'
    return web.FileResponse(path, headers=headers)


async def flag(request: web.Request) -> web.Response:
    who = qa_only(request, leader=True)
    call_id = await _call_id(request, who)
    comment = (await json_body(request)).get("comment", "")
    if not isinstance(comment, str) or len(comment) > 500:
        raise ApiError(400, "invalid-input", "comment: a text of at most 500 characters", field="comment")
    if not await request.app[QA].service.store.flag(call_id, who.name, comment):
        raise ApiError(404, "recording-not-found", f"no recording of call {call_id}")
    return _json({"call_id": call_id, "flagged_by": who.name})


async def get_score(request: web.Request) -> web.Response:
    who = principal(request)
    row = await _recording(request, who)
    return _json({"score": await request.app[QA].service.store.score(row["call_id"]),
                  "standards": [{"key": k, "label": v} for k, v in STANDARDS]})  # fmt: skip


async def put_score(request: web.Request) -> web.Response:
    who = qa_only(request)
    row = await _recording(request, who)
    store = request.app[QA].service.store
    sample = await store.sample(row["call_id"])
    if sample is None:
        raise ApiError(409, "not-sampled", f"call {row['call_id']} is not in a QA sample: run the sampling first")
    try:
        sheet = parse_sheet(await json_body(request))
    except ScoreInvalid as exc:
        raise ApiError(400, "invalid-input", str(exc), field=exc.field) from None
    saved = await store.save_score(row["call_id"], sample["seat"], sample["day"], who.name, sheet)
    log.info("call %s: scored by %s: %s, failed %s", row["call_id"], who.name, sheet.overall, list(sheet.failed))
    return _json({"score": saved})


async def reports(request: web.Request) -> web.Response:
    who, q = principal(request), request.query
    period = q.get("period", "week")
    if period not in ("week", "month"):
        raise ApiError(400, "invalid-input", "period: week or month", field="period")
    by = q.get("by", "seat")
    if by not in ("seat", "team") or (by == "team" and who.role != "qa"):
        raise ApiError(400, "invalid-input", "by: seat or team (team: QA only)", field="by")
    ctx = request.app[QA]
    today = ctx.service.today()  # the hotline's day: the samples' days are local
    since = _day(q.get("since"), "since") or (today - timedelta(days=62)).isoformat()
    until = _day(q.get("until"), "until") or today.isoformat()
    rows = await ctx.service.store.scored_rows(since, until, _seat_scope(who, q.get("seat")))
    group = teams_by_seat(ctx.teams) if by == "team" else None
    lines = report(rows, cast(Literal["week", "month"], period), group)
    return _json({"period": period, "by": by, "since": since, "until": until, "lines": [x.to_json() for x in lines],
                  "standards": [{"key": k, "label": v} for k, v in STANDARDS]})  # fmt: skip


async def audit_log(request: web.Request) -> web.Response:
    qa_only(request)
    call_id = request.query.get("call_id") or None
    return _json({"audit": await request.app[QA].service.store.audit_log(call_id=call_id)})


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "qa.html")


def add_routes(app: web.Application, ctx: QaContext) -> None:
    app[QA] = ctx
    app.router.add_get("/qa", page)
    app.router.add_post("/api/qa/session", qa_login)
    app.router.add_post("/api/staff/session", qa_login)  # the same login for team leaders (hotline/access.py)
    app.router.add_get("/api/qa/samples", list_samples)
    app.router.add_post("/api/qa/sample", run_sampling)
    app.router.add_get("/api/qa/reports", reports)
    app.router.add_get("/api/qa/audit", audit_log)
    app.router.add_get("/api/qa/scores/{call_id}", get_score)
    app.router.add_put("/api/qa/scores/{call_id}", put_score)
    app.router.add_get("/api/recordings", list_recordings)
    app.router.add_get("/api/recordings/{call_id}", get_recording)
    app.router.add_get("/api/recordings/{call_id}/audio", audio)
    app.router.add_post("/api/recordings/{call_id}/flag", flag)
