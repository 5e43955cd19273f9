"""The ring-twice rule under load: `python -m bench.ring` (in `make bench`). Prints figures; asserts nothing.

The real Asterisk 22 (its own "bench" instance) and the service in-process, with SQLite in a temp dir.
The demo seats log in, each with a sipp phone that lets every call ring a random time, uniform around the
two-ring limit (default 2–14 s against 10 s), then answers, talks and hangs up; a call that rings out at
one seat moves on to the next. One sipp places the citizens' calls, at most N at once.

A seat that lets a call ring out is paused by the bridge (未接, after misses_to_pause misses in a row: 1 as
in production); the bench resumes it a little later (--resume-after-ms) when the bus shows the pause, so the
run goes on.

Printed: calls per second held (answered calls / wall time from the first call to the last hang-up) and the
most calls up at once; the share answered within two rings as the bridge counts it (floor view, last 24 h:
within_two_rings / answered) and as the seats' sipp phones saw it (their own clock, INVITE received → 200 OK
sent, for calls no seat let ring out), and the calls on which they differ; CPU seconds per call of this
process (bridge, store, floor, web, and the bench's own bus watcher; sipp and Asterisk are other processes);
event lag (Asterisk's Timestamp → applied by the bridge) at p50 and p99, over every event of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ami_bridge.client import AmiError
from ami_bridge.constants import CallState, SeatState
from ami_bridge.snapshots import CallSnapshot, SeatSnapshot
from ami_bridge.topics import TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT, CallChange, MissChange
from bench.parts import SIP_PORT, asterisk_pid, bench_service, bench_settings, cpu_seconds
from hotline.demo import phones
from hotline.floor.stats import Figures, Targets, count_call
from hotline.service import Service
from hotline.settings import Settings

DROPPED_MS = 500  # a BYE from Asterisk this soon after the seat's 200 OK: it had given up on the seat


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    seats = len(phones.DEMO_SEATS)
    p = argparse.ArgumentParser(prog="python -m bench.ring", description=__doc__, formatter_class=_Help)
    p.add_argument("-n", "--concurrency", type=int, default=10, help="citizens' calls up at once (sipp -l)")
    p.add_argument("--calls", type=int, default=30, help="calls in all (sipp -m)")
    p.add_argument("--rate", type=float, default=2.0, help="new calls per second, up to N at once (sipp -r)")
    p.add_argument("--seats", type=int, default=seats, help=f"seats logged in, each with a sipp phone (1–{seats})")
    p.add_argument("--answer-min-ms", type=int, default=2000, help="shortest ring before a seat answers")
    p.add_argument("--answer-max-ms", type=int, default=14000, help="longest (uniform); past 10 s the call moves on")
    p.add_argument("--talk-ms", type=int, default=2000, help="talk time; then the seat hangs up")
    p.add_argument("--misses-to-pause", type=int, default=1, help="the rule's setting (1–10)")
    p.add_argument("--resume-after-ms", type=int, default=3000, help="a seat paused for misses resumes after this")
    p.add_argument("--timeout-s", type=int, default=300, help="stop waiting for the calls after this long")
    p.add_argument("--seed", type=int, default=12345, help="seeds the seats' ring times (sipp's own are alike)")
    p.add_argument("--keep", type=Path, help="work in this folder and keep it (sipp scenarios and logs, database)")
    args = p.parse_args(argv)
    if not 1 <= args.seats <= seats:
        p.error(f"--seats: 1 to {seats} (the overlay's sipp seats)")
    if not 0 <= args.answer_min_ms <= args.answer_max_ms:
        p.error("--answer-min-ms must be between 0 and --answer-max-ms")
    return args


@dataclass
class Observer:
    """What the bench watches while the calls run: the bus (calls, misses, pauses) and the bridge's lag."""

    service: Service
    calls: dict[str, CallSnapshot] = field(default_factory=dict)
    seat_states: dict[str, str] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    lag_overflows: int = 0  # polls that found the bridge's 1000-sample buffer full (samples lost)
    live_max: int = 0
    misses: int = 0
    pauses: int = 0
    resumed: int = 0
    dropped: int = 0
    resume_after_s: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _resumes: set[asyncio.Task[None]] = field(default_factory=set)

    async def watch_bus(self) -> None:
        async with self.service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_MISS) as sub:
            self.ready.set()
            async for _topic, message in sub:
                self.dropped = sub.dropped
                if isinstance(message, CallChange):
                    self.calls[message.call.call_id] = message.call
                elif isinstance(message, MissChange):
                    self.misses += 1
                elif isinstance(message, SeatSnapshot):
                    await self._on_seat(message.seat, message.state, message.pause_reason)

    async def _on_seat(self, seat: str, state: str, reason: str | None) -> None:
        before, self.seat_states[seat] = self.seat_states.get(seat), state
        if state != SeatState.PAUSED or reason != self.service.settings.miss_reason or before == state:
            return
        self.pauses += 1
        task = asyncio.create_task(self._resume(seat))
        self._resumes.add(task)
        task.add_done_callback(self._resumes.discard)

    async def _resume(self, seat: str) -> None:
        """The seat comes back after a while (at once, the call it missed would ring there again)."""
        await asyncio.sleep(self.resume_after_s)
        try:
            await self.service.seats.resume(seat)
            self.resumed += 1
        except AmiError as exc:
            print(f"  (could not resume seat {seat}: {exc})")

    async def stop(self) -> None:
        for task in self._resumes:
            task.cancel()
        await asyncio.gather(*self._resumes, return_exceptions=True)

    async def sample(self) -> None:
        while True:
            self.drain()
            self.live_max = max(self.live_max, len(self.service.bridge.calls.active()))
            await asyncio.sleep(0.1)

    def drain(self) -> None:
        """Take the bridge's lag samples so far (it keeps the last 1000), leaving it an empty list."""
        stats = self.service.bridge.stats
        self.lag_overflows += len(stats.lag_ms) >= 1000
        self.lags.extend(stats.lag_ms)
        stats.lag_ms = []


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    cpu_split: tuple[float, float, float]  # user, system, main thread's user+system
    asterisk_cpu_s: float | None
    citizens_rc: int | None
    sipp_max_calls: int | None
    floor: dict[str, object]
    targets: Targets
    observer: Observer


async def drive(service: Service, args: argparse.Namespace, numbers: list[str], state: Path, ast: int | None) -> Run:
    obs = Observer(service, resume_after_s=args.resume_after_ms / 1000)
    tasks = [asyncio.create_task(obs.watch_bus()), asyncio.create_task(obs.sample())]
    await obs.ready.wait()
    obs.drain()  # the lag of what happened before the run (log-ins) is not the run's
    cpu0, ast0, wall0 = usage(), cpu_seconds(ast) if ast else None, time.perf_counter()
    citizens = await phones.citizens_load(
        numbers, state, sip_port=SIP_PORT, rate=args.rate, concurrency=args.concurrency,
        max_call_ms=args.timeout_s * 1000, timeout_s=args.timeout_s + 60,
    )  # fmt: skip
    rc: int | None = None
    try:
        rc = await citizens.wait(args.timeout_s)
    except TimeoutError:
        print(f"  (the citizens' sipp had not finished after {args.timeout_s} s: stopped)")
    finally:
        await citizens.stop()
    deadline = time.monotonic() + 15
    while service.bridge.calls.active() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    wall, cpu1 = time.perf_counter() - wall0, usage()
    cpu = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], cpu1[2] - cpu0[2])
    ast_cpu = cpu_seconds(ast) - ast0 if ast and ast0 is not None else None
    await asyncio.sleep(1.5)  # the floor view follows the bus at its own pace
    obs.drain()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await obs.stop()
    floor, targets = service.floor.view()["last_24h"], service.floor.tracker.targets
    most = sipp_max_calls(citizens.log_dir / "stats.csv")
    return Run(wall, cpu[0] + cpu[1], cpu, ast_cpu, rc, most, floor, targets, obs)


def usage() -> tuple[float, float, float]:
    """CPU seconds of this process so far: user, system, and the main thread's (the event loop's) user+system."""
    process, main = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_THREAD)
    return process.ru_utime, process.ru_stime, main.ru_utime + main.ru_stime


def sipp_max_calls(stats_csv: Path) -> int | None:
    """The most calls sipp had up at once (its per-second CurrentCall column)."""
    try:
        rows = [line.split(";") for line in stats_csv.read_text().splitlines() if line.strip()]
        column = rows[0].index("CurrentCall")
        return max(int(row[column]) for row in rows[1:])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class SippCall:
    """One citizen's call as the seats' phones saw it: ring times (ms, by the phone's clock) of its rings."""

    answered: list[float] = field(default_factory=list)  # every 200 OK a seat sent
    cancelled: list[float] = field(default_factory=list)  # rings Asterisk cancelled (the ring limit)
    too_late: list[float] = field(default_factory=list)  # 200 OKs Asterisk did not take: CANCEL crossed, or BYE at once

    def add(self, kind: str, ms: float) -> None:
        """One line of a seat phone's log (hotline/demo/sipp/seat-load.xml)."""
        if kind == "answered":
            self.answered.append(ms)
        elif kind == "cancelled":
            self.cancelled.append(ms)
        elif self.answered and (kind == "late-cancel" or (kind == "bye-in" and ms - self.answered[-1] < DROPPED_MS)):
            self.too_late.append(self.answered[-1])

    def was_answered(self) -> bool:
        return len(self.answered) > len(self.too_late)

    def within(self, limit_ms: int) -> bool:
        return self.was_answered() and not self.cancelled and not self.too_late and self.answered[0] <= limit_ms


def read_rings(seat_phones: list[phones.Phone]) -> dict[str, SippCall]:
    calls: dict[str, SippCall] = {}
    for phone in seat_phones:
        path = phones.ring_log(phone)
        for line in path.read_text().splitlines() if path.exists() else []:
            kind, caller, ms = [*line.split(";"), "", ""][:3]
            with contextlib.suppress(ValueError):
                calls.setdefault(caller, SippCall()).add(kind, float(ms))
    return calls


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def compare(run: Run, sipp: dict[str, SippCall], limit_ms: int) -> tuple[float, float]:
    """Print the two-ring figures, bridge against sipp; return both shares."""
    floor = run.floor
    within_b, answered_b = int(str(floor["within_two_rings"])), int(str(floor["answered"]))
    answered_s = [c for c in sipp.values() if c.was_answered()]
    within_s = sum(c.within(limit_ms) for c in answered_s)
    b, s = share(within_b, answered_b), share(within_s, len(answered_s))
    print(f"within two rings ({limit_ms / 1000:g} s): bridge {b:.1%} ({within_b}/{answered_b}), "
          f"sipp {s:.1%} ({within_s}/{len(answered_s)}); bridge − sipp {100 * (b - s):+.1f} points")  # fmt: skip
    differ, offsets = [], []
    for call in run.observer.calls.values():
        seen = sipp.get(call.caller_number or "")
        figures = Figures()
        count_call(figures, call, run.targets)
        if seen is None or not figures.answered:
            continue
        if call.misses == 0 and seen.within(10**9) and call.ring_ms is not None:
            offsets.append(call.ring_ms - seen.answered[0])
        if bool(figures.within_two_rings) != seen.within(limit_ms):
            differ.append(f"{call.caller_number}: bridge ring {call.ring_ms} ms, {call.misses} misses; sipp ms: "
                          f"answered {seen.answered}, too late {seen.too_late}, rang out {seen.cancelled}")  # fmt: skip
    if offsets:
        print(f"  answering seat's ring, bridge (AgentCalled→AgentConnect) − sipp (INVITE in→200 OK out): median "
              f"{statistics.median(offsets):+.0f} ms, max {max(offsets):+.0f} ms over {len(offsets)}")  # fmt: skip
    late = sorted(ms for c in sipp.values() for ms in c.too_late)
    if late:
        print(f"  seats' answers Asterisk did not take (its ring limit ran out first; the bridge counts a miss): "
              f"{len(late)}, at {late[0]:.0f}–{late[-1]:.0f} ms by the seat's clock")  # fmt: skip
    print(f"  calls counted differently: {len(differ)}" + "".join(f"\n    {d}" for d in differ[:5]))
    return b, s


def report(args: argparse.Namespace, run: Run, sipp: dict[str, SippCall], limit_ms: int) -> None:
    obs = run.observer
    answered = sum(1 for c in obs.calls.values() if c.answered_at is not None and c.state is CallState.ENDED)
    rate = answered / run.wall_s
    print(f"held: {rate:.2f} calls/s ({answered} of {args.calls} calls answered and ended in {run.wall_s:.1f} s); "
          f"at most {obs.live_max} calls up at once (bridge), {run.sipp_max_calls} (sipp); lost (呼损) "
          f"{run.floor['lost']}, unknown {run.floor['unknown']}; citizens' sipp exit {run.citizens_rc}")  # fmt: skip
    b, s = compare(run, sipp, limit_ms)
    missed = sum(len(c.cancelled) + len(c.too_late) for c in sipp.values())
    print(f"misses: {obs.misses} seen by the bridge, {missed} seen by sipp (cancelled, or answered too late); "
          f"{obs.pauses} seats paused (未接), {obs.resumed} resumed by the bench")  # fmt: skip
    cpu_call = run.cpu_s / answered if answered else math.nan
    ast = f"{run.asterisk_cpu_s / answered:.3f} s/call" if run.asterisk_cpu_s and answered else "n/a"
    user, system, loop = run.cpu_split
    print(f"bridge CPU: {cpu_call:.3f} s/call ({run.cpu_s:.2f} s in this process: user {user:.2f} s, "
          f"system {system:.2f} s; event loop thread {loop:.2f} s); Asterisk, for scale: {ast}")  # fmt: skip
    p50, p99 = pct(obs.lags, 0.5), pct(obs.lags, 0.99)
    lost = f", {obs.lag_overflows} polls found the buffer full" if obs.lag_overflows else ""
    print(f"event lag (Asterisk's Timestamp → applied): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {max(obs.lags, default=math.nan):.1f} ms over {len(obs.lags)} events{lost}"
          + (f"; bus messages dropped by the bench's subscription: {obs.dropped}" if obs.dropped else ""))  # fmt: skip
    print(f"summary: N={args.concurrency} {rate:.2f} calls/s held, within two rings bridge {b:.1%} vs sipp {s:.1%}, "
          f"bridge CPU {cpu_call:.3f} s/call, event lag p50 {p50:.1f} ms p99 {p99:.1f} ms")  # fmt: skip


def header(args: argparse.Namespace, settings: Settings) -> None:
    print(f"ring bench: {args.calls} calls, at most N={args.concurrency} at once, {args.rate:g} new/s; {args.seats} "
          f"seats answering after {args.answer_min_ms / 1000:g}–{args.answer_max_ms / 1000:g} s (uniform, seed "
          f"{args.seed}), talking {args.talk_ms / 1000:g} s, wrap-up {settings.wrapup_s} s; ring limit "
          f"{settings.ring_timeout_s} s")  # fmt: skip
    print(f"  the bridge pauses a seat (未接) after {settings.misses_to_pause} miss(es) in a row; the bench "
          f"resumes it {args.resume_after_ms / 1000:g} s after the bus shows the pause")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    numbers = [f"139{n:08d}" for n in range(1, args.calls + 1)]
    rng, lo, hi = random.Random(args.seed), args.answer_min_ms, args.answer_max_ms
    with contextlib.ExitStack() as stack:
        state = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-ring-")))
        state.mkdir(parents=True, exist_ok=True)
        header(args, bench_settings(state, misses_to_pause=args.misses_to_pause))
        async with bench_service(state, misses_to_pause=args.misses_to_pause) as (service, instance):
            running: list[phones.Phone] = []
            try:
                for seat in phones.DEMO_SEATS[: args.seats]:
                    ring_ms = [round(rng.uniform(lo, hi)) for _ in range(4 * args.calls)]
                    running.append(await phones.load_seat_phone(
                        seat, ring_ms, state, talk_ms=args.talk_ms, timeout_s=args.timeout_s + 120))  # fmt: skip
                    await service.seats.login(seat)
                await asyncio.sleep(1)
                run = await drive(service, args, numbers, state, asterisk_pid(instance))
            finally:
                for phone in running:
                    await phone.stop()
            sipp = read_rings(running)
            limit_ms = service.settings.ring_timeout_s * 1000
    report(args, run, sipp, limit_ms)
    print(f"(the bench took {time.perf_counter() - started:.0f} s, Asterisk's start and stop included)")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
