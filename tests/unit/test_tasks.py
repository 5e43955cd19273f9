"""hotline/tasks.py: how a service stops the tasks it owns."""

from __future__ import annotations

import asyncio

import pytest

from hotline import tasks


async def test_stop_cancels_waits_and_logs_a_task_that_had_failed(caplog: pytest.LogCaptureFixture) -> None:
    ended: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # its clean-up runs before stop returns
            ended.append(name)

    async def broken() -> None:
        raise RuntimeError("lost the link")

    running = [asyncio.create_task(forever("a")), asyncio.create_task(forever("b"))]
    failed = asyncio.create_task(broken(), name="broken-one")
    await asyncio.sleep(0.01)
    await tasks.stop([*running, None, failed])
    assert sorted(ended) == ["a", "b"] and all(t.cancelled() for t in running)
    assert "broken-one had failed" in caplog.text and "lost the link" in caplog.text


async def test_stop_of_nothing_is_nothing() -> None:
    await tasks.stop([])
    await tasks.stop([None])
