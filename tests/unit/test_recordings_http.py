"""The audio route (hotline/recordings/http.py) over files sox really made: each format served with its own
Content-Type and download name, with HTTP Range, whatever format new recordings are made in now (an old .wav
stays playable after a switch to ogg). The stand-in catalogue is a dict; roles and audit are in test_qa."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.api import errors
from hotline.floor import http as floor_http
from hotline.recordings import files
from hotline.recordings import http as recordings_http
from hotline.recordings.formats import Format
from hotline.recordings.http import QaContext, add_routes
from hotline.recordings.qaauth import QaAuth, add_user
from tests.helpers.recordings import KEY, raw_tone

DAY = "2026/11/30"


class Catalogue:
    """The few store calls the audio route makes."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.audited: list[tuple[str, str | None]] = []

    async def get(self, call_id: str) -> dict[str, Any] | None:
        return self.rows.get(call_id)

    async def audit(self, who: str, role: str, action: str, call_id: str, detail: str | None, remote: str | None
                    ) -> None:  # fmt: skip
        self.audited.append((action, detail))


class Recordings:
    def __init__(self, root: Path) -> None:
        self.root, self.store = root, Catalogue()


def recorded(root: Path, call_id: str, fmt: Format, seconds: float = 4) -> str:
    """A call's .raw finalised into `fmt`, as after a real call; its relative path."""
    rel = f"{DAY}/{call_id}.{fmt.value}"
    raw_tone(files.raw_of(root / rel), seconds)
    assert files.finalise(root, rel)
    return rel


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Recordings, str]]:
    users = tmp_path / "staff.json"
    add_user(users, "qa", "qa-password")
    staff = QaAuth(KEY, users)
    service = Recordings(tmp_path / "rec")
    app = web.Application(middlewares=[errors])
    add_routes(app, QaContext(service, staff, object(), {}))  # type: ignore[arg-type]
    token, _ = staff.login("qa", "qa-password")
    async with TestClient(TestServer(app)) as http:
        yield http, service, token


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [(Format.OGG, "audio/ogg", b"OggS"), (Format.FLAC, "audio/flac", b"fLaC"), (Format.WAV, "audio/wav", b"RIFF")],
)
async def test_each_format_is_served_with_its_type_name_and_ranges(
    client: tuple[TestClient[Any, Any], Recordings, str], fmt: Format, content_type: str, magic: bytes
) -> None:
    http, service, token = client
    call_id = "1764468000.7"
    rel = recorded(service.root, call_id, fmt)
    service.store.rows[call_id] = {"call_id": call_id, "seat": "8001", "path": rel, "status": "ok"}
    data = (service.root / rel).read_bytes()
    assert data.startswith(magic) and len(data) > 2000
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/api/recordings/{call_id}/audio"

    resp = await http.get(url, headers=auth)
    assert resp.status == 200 and resp.headers["Content-Type"] == content_type
    assert resp.headers["Accept-Ranges"] == "bytes" and await resp.read() == data
    for header, start, end in (("bytes=100-1123", 100, 1123), ("bytes=-500", len(data) - 500, len(data) - 1),
                               (f"bytes={len(data) - 10}-", len(data) - 10, len(data) - 1)):  # fmt: skip
        resp = await http.get(url, headers={**auth, "Range": header})
        assert resp.status == 206, header
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert resp.headers["Content-Type"] == content_type
        assert await resp.read() == data[start : end + 1]
    resp = await http.get(f"{url}?download=1", headers=auth)
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{call_id}.{fmt.value}"'
    assert resp.headers["Content-Type"] == content_type and await resp.read() == data
    assert [a for a, _ in service.store.audited] == ["listen"] * 4 + ["download"]


async def test_an_old_wav_and_a_new_ogg_side_by_side(client: tuple[TestClient[Any, Any], Recordings, str]) -> None:
    """After a switch from WAV to Ogg Vorbis the catalogue holds both; each row is served as its file is."""
    http, service, token = client
    for call_id, fmt in (("1764468000.1", Format.WAV), ("1764468000.2", Format.OGG)):
        service.store.rows[call_id] = {"call_id": call_id, "seat": "8001", "status": "ok",
                                       "path": recorded(service.root, call_id, fmt)}  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    old = await http.get("/api/recordings/1764468000.1/audio", headers=auth)
    new = await http.get("/api/recordings/1764468000.2/audio", headers=auth)
    assert (old.headers["Content-Type"], new.headers["Content-Type"]) == ("audio/wav", "audio/ogg")
    assert len(await new.read()) * 6 < len(await old.read())  # the point of it


async def test_reports_and_sampling_count_days_on_the_hotline_clock(tmp_path: Path) -> None:
    """At 00:30 in Beijing it is still yesterday in UTC: the night shift's scored calls are on today's local
    day, so the report's default window must reach it (it ended at the UTC date, and missed them), and the
    sampling run's default is the local yesterday."""
    from datetime import UTC, date, datetime, time
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from hotline.bus import make_bus
    from hotline.recordings.retention import Retention
    from hotline.recordings.sampling import Rule
    from hotline.recordings.service import RecordingConfig, RecordingService

    asked: list[tuple[str, str]] = []

    class Scored:
        async def scored_rows(self, since: str, until: str, seat: str | None) -> list[Any]:
            asked.append((since, until))
            return []

    config = RecordingConfig(tmp_path, ZoneInfo("Asia/Shanghai"), 0, 1.5, Retention(30, 90), Rule(0.05, 2), time(1, 30))
    service = RecordingService(None, make_bus(""), Scored(), config)  # type: ignore[arg-type]
    service.clock = lambda: datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 2 December, 00:30 in Beijing
    sampled: list[date] = []

    async def sample(day: date) -> tuple[Any, int]:
        sampled.append(day)
        return SimpleNamespace(picks=[]), 0

    service.sample = sample  # type: ignore[method-assign]
    users = tmp_path / "staff.json"
    add_user(users, "qa", "qa-password")
    staff = QaAuth(KEY, users)
    app = web.Application(middlewares=[errors])
    add_routes(app, QaContext(service, staff, object(), {}))  # type: ignore[arg-type]
    token, _ = staff.login("qa", "qa-password")
    auth = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(app)) as http:
        async with http.get("/api/qa/reports?period=month", headers=auth) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert (body["since"], body["until"]) == ("2026-10-01", "2026-12-02") and asked == [
            ("2026-10-01", "2026-12-02")
        ]
        async with http.post("/api/qa/sample", headers=auth) as resp:
            assert resp.status == 200 and (await resp.json())["day"] == "2026-12-01"
    assert sampled == [date(2026, 12, 1)]


def test_the_qa_page_is_where_the_route_serves_it_from() -> None:
    assert (recordings_http.STATIC / "qa.html").is_file()
    assert recordings_http.STATIC == floor_http.STATIC  # one folder of pages
