"""/health says which part is down and why (issue 25): Asterisk's AMI link, the database, the bus."""

from __future__ import annotations

import asyncio
import contextlib
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


async def test_redis_down_at_start_the_service_waits_for_it_and_health_says_why(
    asterisk: Any, settings: Settings, tmp_path: Path
) -> None:
    """`hotline run` with REDIS_URL at a Redis not started yet: the service process says in one line per try why it
    cannot start and tries again after growing pauses; meanwhile /health answers 503 naming the bus and why; once
    Redis is up the service comes up by itself."""
    import socket
    import sys

    from tests.helpers import realparts

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = settings.http_port + 1
    env = realparts.test_env(settings.state_dir, ivr="false", survey="false", http_port=str(http))
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'hotline.db'}", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    exe = str(Path(sys.executable).with_name("hotline"))
    out_to = {"stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.STDOUT}
    keeper = await asyncio.create_subprocess_exec(exe, "run", "--no-asterisk", env=env, **out_to)  # type: ignore[arg-type]
    redis = None
    lines: list[str] = []

    async def read() -> None:
        assert keeper.stdout is not None
        async for raw in keeper.stdout:
            lines.append(raw.decode(errors="replace"))

    reader = asyncio.create_task(read())
    try:
        status, body = await _health_after_tries(lines, f"http://127.0.0.1:{http}", 2)
        assert status == 503 and body["status"] == "starting", (status, body)
        assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in body["parts"]["bus"]["why"], body
        server = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
        redis = await asyncio.create_subprocess_exec(*server, stdout=asyncio.subprocess.DEVNULL)
        status, body = 0, {}
        for _ in range(150):  # the next try comes after a pause of at most a few seconds
            try:
                status, body = await get_health(f"http://127.0.0.1:{http}")
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
                continue
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200 and body["parts"]["bus"]["ok"], body
        keeper.terminate()
        assert await asyncio.wait_for(keeper.wait(), 20) == 0
        await asyncio.wait_for(reader, 5)
        out = "".join(lines)
        assert f"the service cannot start: cannot reach Redis at redis://127.0.0.1:{port}/0" in out, out[-3000:]
        assert "; trying again in 1.0 s (try 2)" in out, out[-3000:]
    finally:
        if keeper.returncode is None:
            keeper.kill()
        reader.cancel()
        if redis is not None:
            redis.kill()
            await redis.wait()


async def _health_after_tries(lines: list[str], url: str, tries: int) -> tuple[int, dict[str, Any]]:
    """/health once the log says `tries` tries failed (not a fixed sleep: a loaded machine starts Python slowly)."""
    for _ in range(300):
        if sum("trying again in" in line for line in lines) >= tries:
            with contextlib.suppress(aiohttp.ClientError):
                return await get_health(url)
        await asyncio.sleep(0.1)
    return 0, {}
