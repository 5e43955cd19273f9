"""A crash in the middle of a busy floor: the service SIGKILLed with 200 live calls and 50 seats logged in, then
started again, twice in one run: (1) the service process killed under `hotline run`'s keeper, which forks the next
one from the code it loaded (hotline/keeper.py); (2) the keeper killed too, and `hotline run` started cold, as a
process manager would. Prints, for each, the time from the kill to /health 200 and to a complete, merged view
(every live call back in /api/calls with its queue entry measured, not estimated). Goal (issue 25): <= 2 s.

    python -m bench.restart [--calls 100] [--seats 50]

Real parts: the bench Asterisk instance (bench/parts.py) with the overlay's ten sipp seats answering, the other
seats logged in paused; one sipp placing the citizens' calls, which stay until the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.parts import HTTP_PORT, SIP_PORT, bench_settings
from hotline.asterisk.instance import Instance
from hotline.demo import phones
from tests.helpers.realparts import start_asterisk, test_env

URL = f"http://127.0.0.1:{HTTP_PORT}"


def service_env(state: Path) -> dict[str, str]:
    env = test_env(state, asterisk_instance="bench", ami_port=str(bench_settings(state).ami_port),
                   sip_port=str(SIP_PORT), http_port=str(HTTP_PORT), ivr="false", survey="false")  # fmt: skip
    env["DATABASE_URL"] = f"sqlite:///{state / 'hotline.db'}"
    return env


LOG: Path | None = None  # --log: the service's output, appended (else dropped)


async def spawn(env: dict[str, str]) -> asyncio.subprocess.Process:
    """`hotline run` as deployed: the keeper, and the service process it forks."""
    exe = str(Path(sys.executable).with_name("hotline"))
    out = LOG.open("a") if LOG is not None else asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(exe, "run", "--no-asterisk", env=env, stdout=out, stderr=out)


def service_pid(keeper: int) -> int:
    """The service process the keeper runs now."""
    for _ in range(500):
        children = Path(f"/proc/{keeper}/task/{keeper}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise TimeoutError(f"the keeper {keeper} runs no service process")


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        time.sleep(0.001)


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    return "gone"


async def measure(http: aiohttp.ClientSession, calls: int, killed: float) -> tuple[float, float]:
    """Seconds from the kill to /health 200, and to every call back and merged."""
    await until(lambda: health(http), 30)
    to_health = time.monotonic() - killed
    try:
        await until(lambda: _merged(http, calls), 30)
    except TimeoutError:
        live = await live_calls(http)
        estimated = [c["call_id"] for c in live if "queued_at" in c["estimated"]]
        raise TimeoutError(
            f"not merged within 30 s: {len(live)} of {calls} calls live, {len(estimated)} with their "
            f"queue entry estimated"
        ) from None
    return to_health, time.monotonic() - killed


async def until(check: Any, limit_s: float = 60) -> float:
    """Seconds until `check()` is true, polled every 10 ms."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > limit_s:
            raise TimeoutError(f"not within {limit_s:.0f} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def health(http: aiohttp.ClientSession) -> bool:
    with contextlib.suppress(aiohttp.ClientError):
        async with http.get(f"{URL}/health") as resp:
            return resp.status == 200
    return False


async def live_calls(http: aiohttp.ClientSession) -> list[dict[str, Any]]:
    with contextlib.suppress(aiohttp.ClientError):
        async with http.get(f"{URL}/api/calls") as resp:
            if resp.status == 200:
                live: list[dict[str, Any]] = (await resp.json())["live"]
                return live
    return []


async def run(calls: int, seats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-restart-") as tmp:
        state = Path(tmp)
        instance: Instance = start_asterisk(bench_settings(state))
        running: list[phones.Phone] = []
        proc: asyncio.subprocess.Process | None = None
        try:
            env = service_env(state)
            proc = await spawn(env)
            leader = await login_leader(state, env)
            async with aiohttp.ClientSession(headers=leader) as http:
                await until(lambda: health(http), 30)
                await seats_in(http, seats, state, running)
                numbers = [f"1380013{i:04d}" for i in range(calls)]
                running.append(await phones.citizens_load(numbers, state, sip_port=SIP_PORT, rate=20,
                                                          concurrency=calls, max_call_ms=600_000))  # fmt: skip
                await until(lambda: _count(http, calls), 60)
                await asyncio.sleep(1.0)  # the write-behind has saved what it saw
                print(f"restart: SIGKILL with {calls} live calls and {seats} seats logged in; from the kill to "
                      "/health 200, and to all calls back and merged (queue entry measured); goal 2 s")  # fmt: skip
                killed = time.monotonic()
                await asyncio.to_thread(kill_and_wait, service_pid(proc.pid))
                report("service process killed, the keeper forks the next", *await measure(http, calls, killed))
                await asyncio.sleep(1.0)
                child = service_pid(proc.pid)
                killed = time.monotonic()
                proc.send_signal(signal.SIGSTOP)  # the keeper neither forks another nor tells the service to stop
                await asyncio.to_thread(kill_and_wait, child)
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                proc = await spawn(env)
                report("keeper and service killed, `hotline run` started cold", *await measure(http, calls, killed))
        finally:
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
            for phone in running:
                await phone.stop()
            instance.stop()


def report(what: str, to_health: float, merged: float) -> None:
    print(f"  {what}: /health {to_health:.2f} s, merged view {merged:.2f} s "
          f"(goal 2 s: {'met' if merged <= 2 else 'MISSED'})")  # fmt: skip


async def login_leader(state: Path, env: dict[str, str]) -> dict[str, str]:
    """A team leader's token (the API's calls need a staff login)."""
    from hotline.recordings.qaauth import QaAuth, add_user
    from hotline.seats.auth import session_key

    settings = bench_settings(state)
    add_user(settings.qa_users_path, "bench", "bench-password", "班长", role="leader")
    token, _ = QaAuth(session_key(settings.state_dir), settings.qa_users_path).login("bench", "bench-password")
    return {"Authorization": f"Bearer {token}"}  # the key is in the state folder: good across the restart


async def seats_in(http: aiohttp.ClientSession, seats: int, state: Path, running: list[phones.Phone]) -> None:
    """The overlay's sipp seats answer after 1 s and talk for ten minutes; the others are logged in, paused: ten
    calls talking, the rest waiting in the queue."""
    for n in range(1, seats + 1):
        seat = f"80{n:02d}"
        async with http.post(f"{URL}/api/seats/{seat}/login") as resp:
            assert resp.status == 200, await resp.text()
        if seat in phones.DEMO_SEATS:
            running.append(await phones.load_seat_phone(seat, [1000], state, talk_ms=600_000))
        else:
            async with http.post(f"{URL}/api/seats/{seat}/pause", json={"reason": "小休"}) as resp:
                assert resp.status == 200, await resp.text()


async def _count(http: aiohttp.ClientSession, calls: int) -> bool:
    live = await live_calls(http)
    return len(live) >= calls


async def _merged(http: aiohttp.ClientSession, calls: int) -> bool:
    """Every call back; each one that reached the queue with its queue entry measured, not estimated (a call still
    hearing the no-seat-free prompt has not reached it: it is arriving, without a queue entry, as in Asterisk)."""
    live = await live_calls(http)
    in_queue = [c for c in live if c["state"] in ("queued", "ringing", "talking", "after_seat")]
    return len(live) >= calls and all(c.get("queued_at") and "queued_at" not in c["estimated"] for c in in_queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)  # the figure
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--log", type=Path, help="append the service's log (INFO) to this file")
    args = parser.parse_args()
    global LOG
    LOG = args.log
    os.environ.setdefault("HOTLINE_LOG_LEVEL", "INFO" if LOG else "WARNING")
    # sipp keeps a few sockets per call and is started with -skip_rlimit: the files it may open are ours
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    asyncio.run(run(args.calls, args.seats))


if __name__ == "__main__":
    main()
