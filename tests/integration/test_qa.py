"""The QA workplace with real parts: a real recorded call, served over HTTP with Range to QA only (a seat only
its own, anonymous nobody), path-like and forged ids refused, every listen and download audited; then the QA
page in real headless Chromium plays the call, seeks, and scores it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright, expect

from hotline.asterisk.instance import seat_passwords
from hotline.recordings.paths import resolve
from hotline.recordings.qaauth import add_user
from hotline.recordings.scoring import STANDARD_KEYS
from tests.helpers.polling import until
from tests.helpers.recordings import answered_call

pytestmark = pytest.mark.asterisk

QA_USER, QA_PASSWORD = "qa-li", "correct horse battery"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


async def login(http: aiohttp.ClientSession, url: str, path: str, body: dict[str, str]) -> str:
    async with http.post(f"{url}{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        token: str = (await resp.json())["token"]
    return token


async def recorded_and_sampled(service: Any, seat: str, caller: str, tmp_path: Path) -> dict[str, Any]:
    """A real call recorded and in the day's QA sample (the QA user exists)."""
    add_user(service.settings.qa_users_path, QA_USER, QA_PASSWORD, "李质检")
    ended = await answered_call(service, seat, caller, 6000, tmp_path)
    row = await until(lambda: service.recordings.store.get(ended["call_id"]))
    assert row is not None and row["status"] == "ok", row
    plan, _ = await service.recordings.sample(date.fromisoformat(row["day"]))
    assert ended["call_id"] in {p.call_id for p in plan.picks}  # one call that day: within the minimum
    return row  # type: ignore[no-any-return]


async def test_recordings_over_http_roles_range_and_audit(service: Any, tmp_path: Path) -> None:
    row = await recorded_and_sampled(service, "8005", "13600136005", tmp_path)
    call_id, url = row["call_id"], service.url
    audio_url = f"{url}/api/recordings/{call_id}/audio"
    data = resolve(service.recordings.root, row["path"]).read_bytes()
    async with aiohttp.ClientSession() as http:
        # anonymous: refused everywhere
        for path in (
            f"/api/recordings/{call_id}/audio",
            "/api/qa/samples",
            "/api/recordings",
            f"/api/recordings/{call_id}",
        ):
            async with http.get(f"{url}{path}") as resp:
                assert resp.status == 401, (path, resp.status)
        async with http.get(audio_url, headers={"Authorization": "Bearer v1.8005.9999999999.forged"}) as resp:
            assert resp.status == 401
        qa = await login(http, url, "/api/qa/session", {"user": QA_USER, "password": QA_PASSWORD})
        async with http.post(f"{url}/api/qa/session", json={"user": QA_USER, "password": "wrong one"}) as resp:
            assert resp.status == 401
        passwords = seat_passwords(service.settings)
        other = await login(http, url, "/api/session", {"seat": "8006", "password": passwords["8006"]})
        own = await login(http, url, "/api/session", {"seat": "8005", "password": passwords["8005"]})
        qa_h, other_h, own_h = ({"Authorization": f"Bearer {t}"} for t in (qa, other, own))

        # another seat: refused; the seat itself: its own call only
        async with http.get(audio_url, headers=other_h) as resp:
            assert resp.status == 403 and (await resp.json())["error"] == "not-your-call"
        async with http.get(f"{url}/api/qa/samples?seat=8005", headers=other_h) as resp:
            assert resp.status == 403
        async with http.get(f"{url}/api/qa/samples", headers=other_h) as resp:
            assert resp.status == 200 and (await resp.json())["samples"] == []
        async with http.get(audio_url, headers=own_h) as resp:
            assert resp.status == 200 and await resp.read() == data
        async with http.put(f"{url}/api/qa/scores/{call_id}", headers=own_h, json={}) as resp:
            assert resp.status == 403  # a seat cannot score

        # QA: the whole file, and byte ranges (seek)
        async with http.get(audio_url, headers=qa_h) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "audio/ogg"  # the default format
            assert resp.headers.get("Accept-Ranges") == "bytes" and await resp.read() == data
        for header, start, end in (("bytes=100-1123", 100, 1123), ("bytes=-500", len(data) - 500, len(data) - 1),
                                   (f"bytes={len(data) - 10}-", len(data) - 10, len(data) - 1)):  # fmt: skip
            async with http.get(audio_url, headers={**qa_h, "Range": header}) as resp:
                assert resp.status == 206, header
                assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
                assert await resp.read() == data[start : end + 1]
        async with http.get(f"{audio_url}?download=1", headers=qa_h) as resp:
            assert resp.status == 200 and resp.headers["Content-Disposition"] == f'attachment; filename="{call_id}.ogg"'
            assert resp.headers["Content-Type"] == "audio/ogg" and await resp.read() == data

        # path-like and forged ids never reach outside the root
        for bad in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", "1764468000.1%2F..%2F..%2Fx", "a%00b",
                    "%2Fetc%2Fpasswd"):  # fmt: skip
            async with http.get(f"{url}/api/recordings/{bad}/audio", headers=qa_h) as resp:
                assert resp.status in (400, 404), (bad, resp.status)
                assert b"root:" not in await resp.read()
        forged = {
            "call_id": "1764468000.999",
            "seat": "8005",
            "day": "2026-11-30",
            "call_s": 5.0,
            "status": "ok",
            "path": "2026/11/30/../../../../../../etc/passwd",
        }  # a row altered in the database
        await service.recordings.store.save(forged)
        async with http.get(f"{url}/api/recordings/1764468000.999/audio", headers=qa_h) as resp:
            assert resp.status == 409 and b"root:" not in await resp.read()

        # every listen and download is in the audit log, with who
        async with http.get(f"{url}/api/qa/audit?call_id={call_id}", headers=qa_h) as resp:
            audit = (await resp.json())["audit"]
        actions = [(a["who"], a["action"]) for a in audit]
        assert ("seat:8005", "listen") in actions and ("qa:qa-li", "download") in actions
        assert actions.count(("qa:qa-li", "listen")) == 4 and ("seat:8006", "refused") in actions
        assert any(a["detail"] == "bytes=100-1123" for a in audit)
        async with http.get(f"{url}/api/qa/audit", headers=own_h) as resp:
            assert resp.status == 403

        # scoring: a fail needs a comment; the seat sees its score, the report counts the error
        items = {k: {"passed": True, "comment": ""} for k in STANDARD_KEYS}
        items["tone"] = {"passed": False, "comment": ""}
        async with http.put(
            f"{url}/api/qa/scores/{call_id}", headers=qa_h, json={"items": items, "overall": "合格"}
        ) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["details"]["field"] == "items.tone.comment", body
        items["tone"]["comment"] = "语速过快"
        async with http.put(
            f"{url}/api/qa/scores/{call_id}", headers=qa_h, json={"items": items, "overall": "不合格"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(f"{url}/api/qa/scores/{call_id}", headers=own_h) as resp:
            score = (await resp.json())["score"]
            assert score["sheet"]["items"]["tone"] == {"passed": False, "comment": "语速过快"} and score["error"]
        async with http.get(f"{url}/api/qa/reports?period=month", headers=own_h) as resp:
            lines = (await resp.json())["lines"]
            assert [(x["key"], x["sampled"], x["scored"], x["errors"], x["by_standard"]["tone"], x["error_rate"])
                    for x in lines] == [("8005", 1, 1, 1, 1, 1.0)]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def test_the_qa_page_plays_seeks_and_scores_a_real_call(service: Any, browser: Browser, tmp_path: Path) -> None:
    row = await recorded_and_sampled(service, "8007", "13600136007", tmp_path)
    call_id = row["call_id"]
    context = await browser.new_context(locale="zh-CN")
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{service.url}/qa")
        await page.fill("#login-user", QA_USER)
        await page.fill("#login-password", QA_PASSWORD)
        await page.click("#login-button")
        await expect(page.locator("#who")).to_have_text(f"质检员 {QA_USER}")
        line = page.locator(f'#samples tr[data-call="{call_id}"]')
        await expect(line).to_contain_text("13600136007")
        await expect(line).to_contain_text("未评分")
        await line.click()
        await expect(page.locator("#d-call")).to_contain_text(call_id)

        # play, then seek: the browser fetches the file in ranges (Ogg Vorbis, the default format)
        assert row["path"].endswith(".ogg"), row
        player = page.locator("#player")
        await player.evaluate("a => a.play()")
        await page.wait_for_function("document.getElementById('player').currentTime > 0.3", timeout=10_000)
        duration = await player.evaluate("a => a.duration")
        assert abs(duration - row["duration_s"]) < 0.2, (duration, row["duration_s"])
        await player.evaluate("a => { a.currentTime = a.duration - 1.5; }")
        await page.wait_for_function(
            "document.getElementById('player').currentTime >= (document.getElementById('player').duration - 1.5)"
        )
        audit = await service.recordings.store.audit_log(call_id=call_id)
        assert any(a["action"] == "listen" and a["who"] == f"qa:{QA_USER}" for a in audit), audit
        assert any((a["detail"] or "").startswith("bytes=") for a in audit), audit  # the player asked for ranges

        # score: 业务准确 fails with a comment, overall 不合格
        row_accuracy = page.locator('#standards .std[data-key="accuracy"]')
        await row_accuracy.locator("input[value=fail]").check()
        await row_accuracy.locator("input[type=text]").fill("政策答复不准确")
        await page.select_option("#overall", "不合格")
        await page.click("#save-score")
        await expect(page.locator("#saved")).to_be_visible()
        await expect(line).to_contain_text("不合格")

        # the seat logs in on the same page and sees its own score and the comment, read-only
        await page.click("#logout")
        await page.fill("#login-user", "8007")
        await page.fill("#login-password", seat_passwords(service.settings)["8007"])
        await page.click("#login-button")
        await expect(page.locator("#who")).to_have_text("坐席 8007")
        await page.locator(f'#samples tr[data-call="{call_id}"]').click()
        comment = page.locator('#standards .std[data-key="accuracy"] input[type=text]')
        await expect(comment).to_have_value("政策答复不准确")
        await expect(comment).to_be_disabled()
        await expect(page.locator("#save-score")).to_be_hidden()
        assert not errors, errors
    finally:
        await context.close()
    score = await service.recordings.store.score(call_id)
    assert score is not None and score["scorer"] == QA_USER and score["error"]
    assert score["sheet"]["items"]["accuracy"] == {"passed": False, "comment": "政策答复不准确"}
    assert score["sheet"]["overall"] == "不合格"
