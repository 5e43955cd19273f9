"""/health says which part is down and why (issue 25): Asterisk's AMI link, the database, the bus."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.service import Service
from hotline.settings import Settings

pytestmark = pytest.mark.asterisk


async def get_health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as resp:
        return resp.status, await resp.json()


async def test_all_parts_up(service: Any) -> None:
    status, body = await get_health(service.url)
    assert status == 200 and body["status"] == "ok", body
    assert {name: part["ok"] for name, part in body["parts"].items()} == {"asterisk": True, "database": True,
                                                                           "bus": True}  # fmt: skip
    assert body["parts"]["database"]["pending"] == 0


async def test_a_refused_ami_secret_is_named(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    """After a config change the secret no longer matches: the service stays up and says why it follows no call."""
    local = settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}", "http_port": settings.http_port + 1,
        "ami_secret": "not-the-secret", "ivr": False, "survey": False,
    })  # fmt: skip
    async with Service(local) as svc:
        for _ in range(100):
            status, body = await get_health(svc.url)
            if "refused" in (body["parts"]["asterisk"]["why"] or ""):
                break
            await asyncio.sleep(0.1)
        assert status == 503 and body["status"] == "down", body
        assert "hotline-bridge" in body["parts"]["asterisk"]["why"], body  # names the AMI user
        assert body["parts"]["database"]["ok"] and body["parts"]["bus"]["ok"]
