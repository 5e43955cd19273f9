"""The current pop of each seat, so a page that reconnects (a reload mid-ring) gets it again.

- ``MemoryPops``: a dict in this process (the in-process bus: one process serves every seat).
- ``RedisPops``: a Redis hash per seat, ``hotline:pop:<seat>`` with ``seq`` and ``pop`` and a TTL, so
  any web process can serve it (REDIS_URL set).

Each save carries `seq`, increasing with every change PopService makes; a save older than what is
stored is refused (atomically in Redis), so two changes racing for one seat (one call's pop ending
while the next call's opens) leave the newer one. Clearing a seat stores an empty pop with its seq,
for the same reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..bus import Bus, BusError, RedisBus, _safe_url

log = logging.getLogger(__name__)

PopJson = dict[str, Any]
KEY_PREFIX = "hotline:pop:"

# KEYS[1] the seat's key; ARGV: seq, the pop's JSON ("" clears), TTL in ms
_SAVE = """
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'pop', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class CurrentPops(Protocol):
    async def save(self, seat: str, seq: int, pop: PopJson | None, ttl_s: float) -> bool:
        """Store (or clear, with None) the seat's current pop; False when a newer one is stored."""
        ...

    async def get(self, seat: str) -> PopJson | None: ...


class MemoryPops:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._pops: dict[str, tuple[int, float, PopJson | None]] = {}  # seat -> (seq, expires, pop)

    async def save(self, seat: str, seq: int, pop: PopJson | None, ttl_s: float) -> bool:
        now = self.clock()
        known = self._pops.get(seat)
        if known is not None and known[0] >= seq and known[1] > now:
            return False
        self._pops[seat] = (seq, now + ttl_s, pop)
        if len(self._pops) > 10_000:  # never reached by a real floor; keeps a bug from growing without end
            self._pops = {k: v for k, v in self._pops.items() if v[1] > now}
        return True

    async def get(self, seat: str) -> PopJson | None:
        known = self._pops.get(seat)
        if known is None or known[1] <= self.clock():
            return None
        return known[2]


class RedisPops:
    def __init__(self, redis: aioredis.Redis, where: str = "Redis") -> None:
        self.redis, self.where = redis, where
        self._save = redis.register_script(_SAVE)

    async def save(self, seat: str, seq: int, pop: PopJson | None, ttl_s: float) -> bool:
        data = "" if pop is None else json.dumps(pop, ensure_ascii=False)
        try:
            done = await self._save(keys=[KEY_PREFIX + seat], args=[seq, data, max(1, round(ttl_s * 1000))])
        except (RedisError, OSError) as exc:
            raise BusError(f"cannot save seat {seat}'s pop at {self.where}: {exc}") from exc
        return bool(done)

    async def get(self, seat: str) -> PopJson | None:
        try:
            raw = await self.redis.hget(KEY_PREFIX + seat, "pop")
        except (RedisError, OSError) as exc:
            raise BusError(f"cannot read seat {seat}'s pop at {self.where}: {exc}") from exc
        if not raw:
            return None
        try:
            pop = json.loads(raw)
        except ValueError:
            log.warning("seat %s: the stored pop is not JSON; ignored", seat)
            return None
        return pop if isinstance(pop, dict) else None


def make_current_pops(bus: Bus) -> CurrentPops:
    """Beside the bus: Redis when the bus is Redis (any web process serves any seat), else this process."""
    if isinstance(bus, RedisBus):
        return RedisPops(bus.redis, f"Redis {_safe_url(bus.url)}")
    return MemoryPops()
