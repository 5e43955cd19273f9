"""Recording cost, storage and sampling speed.

    flock /tmp/hotline-it.lock .venv/bin/python -m bench.recordings [--calls 10] [--window 10] [--minutes 10]

1. Asterisk's CPU per concurrent call, recorded versus not: N real calls through the bench instance (sipp
   citizens sending audio, sipp seats answering), Asterisk's CPU seconds over a window while all N talk;
   once with recording off (global HOTLINE_RECORDING=no, set over AMI), once on (a stereo MixMonitor per call;
   the .raw → .ogg/.flac/.wav conversion after each call runs in the service, not in Asterisk).
2. Storage: one recorded conversation (Mandarin turns by espeak-ng, citizen left and seat right, through
   G.711 A-law as the phone network carries it, pauses between turns, a faint line noise), written as
   MixMonitor's .raw and finalised into each format by the service's own code (hotline/recordings/files.py): bytes
   per minute of talk and sox's conversion time per minute of audio, all from the same audio.
3. QA sampling of a day of 20,000 calls (200 seats): the pure draw, and the whole run over SQLite (the
   catalogue query with tickets and surveys, the draw, the inserts).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from ami_bridge.constants import CallState
from bench.parts import SIP_PORT, asterisk_pid, bench_service, cpu_seconds
from hotline.asterisk.instance import Instance
from hotline.bus import make_bus
from hotline.db.models import RecordingRow, SurveyResultRow, TicketCallRow, TicketRow
from hotline.db.store import Store
from hotline.demo import phones
from hotline.recordings import files
from hotline.recordings.formats import Format
from hotline.recordings.paths import relative_path
from hotline.recordings.retention import Retention
from hotline.recordings.sampling import Candidate, Rule, sample_day
from hotline.recordings.service import RecordingConfig, RecordingService
from hotline.recordings.store import RecordingStore
from hotline.service import Service
from tests.helpers import talking

DAY = date(2026, 11, 30)


async def _phase(svc: Service, inst: Instance, state: Path, calls: int, window: float, record: bool,
                 base: int) -> float:  # fmt: skip
    await svc.client.action("Setvar", {"Variable": "HOTLINE_RECORDING", "Value": "yes" if record else "no"})
    running = []
    for i in range(calls):
        running.append(await talking.citizen_talks(f"1390000{base + i:04d}", int((window + 15) * 1000), state,
                                                   index=base + i, sip_port=SIP_PORT))  # fmt: skip
    deadline = time.monotonic() + 40
    while sum(c.state is CallState.TALKING for c in svc.bridge.calls.active()) < calls:
        if time.monotonic() > deadline:
            raise RuntimeError("calls did not all connect within 40 s")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    pid = asterisk_pid(inst)
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    used, took = cpu_seconds(pid) - before, time.monotonic() - started
    for phone in running:
        await phone.wait(window + 30)
    return used / took  # CPU seconds per second


async def recording_cost(calls: int, window: float) -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-rec-") as tmp:
        state = Path(tmp)
        async with bench_service(state, wrapup_s=0, recording_settle_s=0.5) as (service, instance):
            seats = []
            for seat in phones.DEMO_SEATS[:calls]:
                await service.seats.login(seat)
                seats.append(await phones.seat_phone(seat, 300, state, calls=2))
            await asyncio.sleep(1)
            try:
                off = await _phase(service, instance, state, calls, window, record=False, base=0)
                await asyncio.sleep(3)
                on = await _phase(service, instance, state, calls, window, record=True, base=calls)
            finally:
                for phone in seats:
                    await phone.stop()
            await asyncio.sleep(2)
            rows = await service.recordings.store.listing(limit=1000)
    print(f"recording cost, {calls} concurrent calls with audio, {window:.0f} s window:")
    print(f"  Asterisk CPU unrecorded: {off * 100:.2f} % of a core = {off * 100 / calls:.3f} % per call")
    print(f"  Asterisk CPU recorded:   {on * 100:.2f} % of a core = {on * 100 / calls:.3f} % per call")
    print(f"  recording adds {(on - off) * 100 / calls:.3f} % of a core per concurrent call "
          f"({(on / off - 1) * 100 if off else float('nan'):.0f} % more)")  # fmt: skip
    ok = [r for r in rows if r["status"] == "ok"]
    size = sum(r["size"] for r in ok) / max(1, len(ok))
    seconds = sum(r["duration_s"] for r in ok) / max(1, len(ok))
    formats = sorted({Format.of_name(r["path"]).value for r in ok})
    print(f"  catalogued: {len(ok)} recordings of the recorded run ok (the unrecorded run's calls are flagged "
          f"missing, as they should be), {size / 1024:.0f} KiB for {seconds:.0f} s each "
          f"({size / max(seconds, 1) * 60 / 2**20:.3f} MiB a minute as {'/'.join(formats)}, stereo, 8 kHz; "
          "sipp sends a tone, not speech: see the storage figures for talk)")  # fmt: skip


TURNS = (  # (left: the citizen, or right: the seat), what is said
    (True, "您好，我要反映一个问题。我家小区门口的路灯已经坏了一个多星期了，晚上出门特别不方便。"),
    (False, "您好，这里是一二三四五市民服务热线，请问您的小区叫什么名字，在哪个区哪条街道？"),
    (True, "是西湖区文三路的丰潭小区，三号门那边，一共有四盏灯不亮。"),
    (False, "好的，我已经记录下来了，会转给城管部门处理，三个工作日内给您回复，请问您的联系电话是多少？"),
    (True, "一三九零五七一二三四五，谢谢你们。"),
    (False, "不客气，请您保持电话畅通，稍后可能会有工作人员与您联系，再见。"),
)
PAUSE_S = 0.7  # between turns: a call is silence on one side or the other most of the time
RAW = ["-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16"]


def _sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


def conversation(folder: Path, minutes: float) -> Path:
    """`minutes` of a two-sided call as MixMonitor's D writes it (headerless 16-bit stereo, 8 kHz)."""
    turns: list[tuple[bool, bytes]] = []
    for i, (citizen, text) in enumerate(TURNS):
        wav, alaw, pcm = folder / f"t{i}.wav", folder / f"t{i}.al", folder / f"t{i}.s16"
        subprocess.run(["espeak-ng", "-v", "cmn", "-s", "170", "-w", str(wav), text], check=True, capture_output=True)
        _sox(str(wav), "-t", "raw", "-r", "8000", "-c", "1", "-e", "a-law", str(alaw))  # the phone network: G.711
        _sox("-t", "raw", "-r", "8000", "-c", "1", "-e", "a-law", str(alaw), *RAW, "-c", "1", str(pcm))
        turns.append((citizen, pcm.read_bytes()))
    pause = bytes(int(PAUSE_S * 8000) * 2)
    left, right = bytearray(), bytearray()
    while len(left) < minutes * 60 * 8000 * 2:
        for citizen, speech in turns:
            quiet = bytes(len(speech))
            left += (speech if citizen else quiet) + pause
            right += (quiet if citizen else speech) + pause
    size = int(minutes * 60 * 8000) * 2
    (folder / "left.s16").write_bytes(left[:size])
    (folder / "right.s16").write_bytes(right[:size])
    talk, noise, raw = folder / "talk.raw", folder / "noise.raw", folder / "call.raw"
    _sox("-M", *RAW, "-c", "1", str(folder / "left.s16"), *RAW, "-c", "1", str(folder / "right.s16"), *RAW, str(talk))
    _sox("-n", *RAW, "-c", "2", str(noise), "synth", f"{minutes * 60}", "pinknoise", "vol", "0.002")  # the line
    _sox("-m", "-v", "1", *RAW, "-c", "2", str(talk), "-v", "1", *RAW, "-c", "2", str(noise), *RAW, str(raw))
    return raw


def storage(minutes: float, tries: int = 3) -> None:
    """Bytes per minute of talk and conversion time per minute of audio, for each format, from one .raw."""
    with tempfile.TemporaryDirectory(prefix="hotline-bench-store-") as tmp:
        root = Path(tmp) / "rec"
        raw = conversation(Path(tmp), minutes)
        audio_min = raw.stat().st_size / (8000 * 2 * 2) / 60
        print(f"storage of {audio_min:.1f} min of talk (Mandarin turns, G.711, both sides), 8 kHz stereo, by format:")
        wav_size, per_minute = None, {}
        for fmt in (Format.WAV, Format.FLAC, Format.OGG):
            took, size, seconds = [], 0, 0.0
            for i in range(tries):  # the fastest of a few runs: sox alone, not the machine's other work
                rel = relative_path(DAY, f"1764432000.{i}", fmt)
                made = root / rel
                made.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(raw, files.raw_of(made))
                started = time.perf_counter()
                files.finalise(root, rel)
                took.append(time.perf_counter() - started)
                measured = files.measure(made)
                size, seconds = measured.facts.size, measured.facts.duration_s or 0.0
            wav_size, per_minute[fmt] = wav_size or size, size / audio_min
            options = " ".join(fmt.sox_options) or "none"
            print(f"  {fmt.value:4} (sox {options:5}): {size / audio_min / 2**20:6.3f} MiB a minute "
                  f"({size / audio_min / 1000:5.0f} kB/min, {size / wav_size * 100:3.0f} % of WAV), "
                  f"sox {min(took) / audio_min * 1000:5.0f} ms per minute of audio, soxi {seconds:.3f} s")  # fmt: skip
        kept = 183 * 2000 * 3  # minutes: the default retention, 2,000 answered calls a day of 3 minutes of talk
        print(f"  a centre of 2,000 answered calls a day, 3 min of talk each, kept 183 days ({kept:,} min): "
              + ", ".join(f"{f.value} {per_minute[f] * kept / 2**30:.0f} GiB" for f in per_minute))  # fmt: skip


def day_of_calls(n: int, seats: int) -> list[Candidate]:
    t0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    return [
        Candidate(f"{1764432000 + i}.{i}", f"{8001 + i % seats}", t0 + timedelta(seconds=4 * i), 30 + i % 600,
                  complaint=i % 97 == 0, unsatisfied=i % 89 == 0, flagged=i % 500 == 0)
        for i in range(n)
    ]  # fmt: skip


async def fill(store: Store, candidates: list[Candidate]) -> None:
    """The day's catalogue rows, a 投诉举报 ticket for each complaint call, a survey for each unsatisfied one."""
    day, t0 = DAY.isoformat(), datetime(2026, 11, 30, tzinfo=UTC)
    recordings = [
        {"call_id": c.call_id, "seat": c.seat, "day": day, "started_at": c.started_at, "call_s": c.duration_s,
         "path": relative_path(DAY, c.call_id, Format.OGG), "status": "ok", "flagged_by": "班长" if c.flagged else None}
        for c in candidates
    ]  # fmt: skip
    complaints = [c for c in candidates if c.complaint]
    tickets = [{"id": i + 1, "status": "受理", "category": "投诉举报", "urgency": "normal", "caller_number": "1",
                "content": "…", "created_at": t0, "updated_at": t0} for i in range(len(complaints))]  # fmt: skip
    links = [{"ticket_id": i + 1, "call_id": c.call_id, "added_at": t0} for i, c in enumerate(complaints)]
    surveys = [{"call_id": c.call_id, "seat": c.seat, "scale": 5, "level": 5, "label": "非常不满意", "satisfied": False,
                "reason": "answered", "at": t0} for c in candidates if c.unsatisfied]  # fmt: skip
    async with store.engine.begin() as conn:
        for table, rows in ((RecordingRow, recordings), (TicketRow, tickets), (TicketCallRow, links),
                            (SurveyResultRow, surveys)):  # fmt: skip
            await conn.execute(insert(table), rows)


async def sampling_speed(n: int = 20_000, seats: int = 200) -> None:
    candidates = day_of_calls(n, seats)
    started = time.perf_counter()
    plan = sample_day(DAY, candidates, Rule(0.05, 2))
    pure_ms = (time.perf_counter() - started) * 1000
    print(f"sampling {n} calls of {seats} seats: {len(plan.picks)} picked; the draw alone {pure_ms:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="hotline-bench-qa-") as tmp:
        store = await Store.open(f"sqlite:///{tmp}/hotline.db")
        config = RecordingConfig(Path(tmp) / "rec", ZoneInfo("Asia/Shanghai"), 0, 1.5, Retention(183, 730),
                                 Rule(0.05, 2), dtime(1, 30))  # fmt: skip
        bus = make_bus("")
        svc = RecordingService(None, bus, RecordingStore(store.engine), config)
        await fill(store, candidates)
        started = time.perf_counter()
        plan, added = await svc.sample(DAY)
        whole = time.perf_counter() - started
        print(f"  the whole run over SQLite (catalogue query, tickets, surveys, draw, {added} inserts): {whole:.2f} s")
        await bus.close()
        await store.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.recordings")
    p.add_argument("--calls", type=int, default=10, help="concurrent calls (at most 10: the overlay's sipp seats)")
    p.add_argument("--window", type=float, default=15.0, help="seconds of CPU measurement per phase")
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of talk for the storage figures")
    p.add_argument("--skip-asterisk", action="store_true", help="only the storage and sampling figures")
    args = p.parse_args(argv)
    storage(args.minutes)
    asyncio.run(sampling_speed())
    if not args.skip_asterisk:
        asyncio.run(recording_cost(min(args.calls, len(phones.DEMO_SEATS)), args.window))


if __name__ == "__main__":
    main()
