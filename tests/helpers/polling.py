"""Waiting in tests: for a bus message, a condition, the floor view, AMI frames. Every wait is bounded."""

from __future__ import annotations

import asyncio
from typing import Any

from ami_bridge.client import AmiClient
from ami_bridge.protocol import Frame
from hotline.topics import as_json


async def wait_for(sub: Any, predicate: Any, timeout: float = 30) -> dict[str, Any]:
    """The first bus message whose JSON (what a browser gets: hotline/topics.py `as_json`) matches; that JSON."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        _, message = await sub.get(timeout=max(0.01, deadline - loop.time()))
        if predicate(data := as_json(message)):
            return data


async def until(check: Any, timeout: float = 15) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.2)


async def floor_until(service: Any, predicate: Any, timeout: float = 10) -> dict[str, Any]:
    """The floor view once `predicate` holds (the tracker follows the bus a few ms behind)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        view: dict[str, Any] = service.floor.view()
        if predicate(view) or loop.time() > deadline:
            return view
        await asyncio.sleep(0.05)


async def frames_until(client: AmiClient, predicate: Any, timeout: float) -> list[tuple[float, Frame]]:
    """(loop time, frame) of every event up to and including the first that matches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: list[tuple[float, Frame]] = []
    while True:
        async with asyncio.timeout(max(0.01, deadline - loop.time())):
            item = await client.stream.get()
        if isinstance(item, Frame):
            seen.append((loop.time(), item))
            if predicate(item):
                return seen
