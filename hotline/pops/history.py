"""Where a pop's history comes from: the caller's previous tickets and the last callback result.

``History`` is what PopService needs; the ticket store (hotline/tickets) provides it. ``NoHistory``
stands in until one is wired; ``MemoryHistory`` serves tests and benchmarks.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from .model import is_open

Ticket = dict[str, Any]


class History(Protocol):
    async def history(self, phone: str, limit: int = 20) -> list[Ticket]:
        """The caller's tickets, open ones first, then newest first; each with at least id, status, unit."""
        ...

    async def last_callback(self, phone: str) -> Ticket | None:
        """The last callback (回访) result for this number, or None."""
        ...


class NoHistory:
    async def history(self, phone: str, limit: int = 20) -> list[Ticket]:
        return []

    async def last_callback(self, phone: str) -> Ticket | None:
        return None


class MemoryHistory:
    """Tickets and callbacks per phone number, in memory; `delay` seconds per lookup mimic a database."""

    def __init__(
        self,
        tickets: dict[str, list[Ticket]] | None = None,
        callbacks: dict[str, Ticket] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        self.tickets = tickets or {}
        self.callbacks = callbacks or {}
        self.delay = delay
        self.lookups = 0
        self.fail: Exception | None = None  # raised by the next lookups while set

    async def history(self, phone: str, limit: int = 20) -> list[Ticket]:
        await self._wait()
        found = self.tickets.get(phone, [])
        return ([t for t in found if is_open(t)] + [t for t in found if not is_open(t)])[:limit]

    async def last_callback(self, phone: str) -> Ticket | None:
        await self._wait()
        return self.callbacks.get(phone)

    async def _wait(self) -> None:
        self.lookups += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
