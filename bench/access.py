"""What the access guard (hotline/access.py) costs a request.

    python -m bench.access [--requests 3000] [--staff-users 200]

Two figures, from one run:
- the check alone (token to principal to rule), per call: a seat's token (one HMAC) and a staff token (HMAC,
  and a stat of the staff file, read again when it changed, so that a removed user is refused at once),
  with that many users in it;
- a whole HTTP request over loopback (aiohttp client, keep-alive): GET /api/seats with no guard, and with the
  guard and a seat's token, and with a staff token: the guard's share of a request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ami_bridge.bridge import Bridge
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from hotline.access import ACCESS, Access, Need, check, guard, rule_of
from hotline.api import errors
from hotline.bus import InProcessBus
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.recordings.qaauth import QaAuth, add_user, hash_password
from hotline.seats import http as seats_http
from hotline.seats import tokens
from hotline.seats.auth import SeatAuth

KEY = b"bench-key-0123456789abcdef012345"


def staff_file(folder: Path, users: int) -> Path:
    """A staff file of `users` users (one real password; the others share a cheap hash, to fill it fast)."""
    path = folder / "staff.json"
    add_user(path, "lead", "leader-pass", role="leader")
    import json

    data = json.loads(path.read_text())
    filler = hash_password("x" * 8, n=2)
    for i in range(users - 1):
        data["users"][f"qa{i:04d}"] = {"scrypt": filler, "label": f"质检{i}", "role": "qa"}
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def per_call_us(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def app_for(access: Access | None) -> web.Application:
    bus = InProcessBus()
    bridge = Bridge(client=None, bus=bus, rule=RingRule())  # type: ignore[arg-type]
    app = web.Application(middlewares=[errors, guard] if access else [errors])
    if access:
        app[ACCESS] = access
    control = SeatControl(None, "hotline", ("小休",))  # type: ignore[arg-type]
    seats_http.add_routes(app, control, BridgeLive(bridge), bus, auth=access.seats if access else SeatAuth(KEY, {}),
                          pops=MemoryPops())  # fmt: skip
    return app


async def http_ms(app: web.Application, headers: dict[str, str], n: int) -> list[float]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    took = []
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            for i in range(n + 100):
                start = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/api/seats") as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                if i >= 100:  # warm-up left out
                    took.append((time.perf_counter() - start) * 1000)
    finally:
        await runner.cleanup()
    return took


async def run(requests: int, users: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        staff = QaAuth(KEY, staff_file(Path(tmp), users))
        access = Access(SeatAuth(KEY, {}), staff)
        seat_token = tokens.sign(KEY, "8001", int(time.time()) + 3600)
        staff_token = staff.login("lead", "leader-pass")[0]
        need = rule_of("GET", "/api/seats")
        assert need is Need.SIGNED_IN

        def seat_check() -> None:
            check(need, access.who(seat_token), None)

        def staff_check() -> None:
            check(need, access.who(staff_token), None)

        print(f"access guard, {requests} requests each, staff file of {users} users")
        seat_us, staff_us = per_call_us(seat_check, requests * 10), per_call_us(staff_check, requests)
        print(f"  check alone: seat token {seat_us:.1f} µs, staff token {staff_us:.1f} µs "
              f"({staff_us / seat_us:.1f}x: the staff file is looked at, and read when it changed)")  # fmt: skip
        open_ms = await http_ms(app_for(None), {}, requests)
        seat_ms = await http_ms(app_for(access), {"Authorization": f"Bearer {seat_token}"}, requests)
        staff_ms = await http_ms(app_for(access), {"Authorization": f"Bearer {staff_token}"}, requests)
        base = statistics.median(open_ms)
        for name, got in (("no guard", open_ms), ("seat token", seat_ms), ("staff token", staff_ms)):
            med = statistics.median(got)
            p99 = statistics.quantiles(got, n=100)[98]
            print(f"  GET /api/seats, {name:11}: median {med:.3f} ms, p99 {p99:.3f} ms ({med / base:.2f}x no guard)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--staff-users", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.staff_users))


if __name__ == "__main__":
    main()
