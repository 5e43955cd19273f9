"""Record an AMI event transcript from the real Asterisk for the state-machine tests.

    python tests/record_transcript.py answered tests/transcripts/answered_call.jsonl

Scenarios: answered (seat 8001 answers after 2 s), missed (8001 rings past two rings, 8002
answers), abandoned (the citizen hangs up while 8001 rings). Each line of the output is one
frame's headers as a JSON list of [name, value] pairs, in the order Asterisk sent them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ami_bridge.client import AmiClient
from ami_bridge.protocol import Frame
from tests.helpers import realparts

SCENARIOS = {
    # name: (seats {seat: answer_ms}, citizen hold_ms, seconds to record)
    "answered": ({"8001": 2000}, 4000, 8),
    "missed": ({"8001": 30000, "8002": 1500}, 15000, 20),
    "abandoned": ({"8001": 30000}, 0, 8),
}


async def record(name: str, out: Path) -> None:
    seats, hold_ms, seconds = SCENARIOS[name]
    work = Path(tempfile.mkdtemp(prefix="transcript-"))
    settings = realparts.test_settings(work)
    instance = realparts.start_asterisk(settings)
    host, port, user, secret = realparts.ami_credentials(settings)
    client = AmiClient(host, port, user, secret)
    runner = asyncio.create_task(client.run())
    await client.connected.wait()

    async def login(seat: str) -> None:
        await client.action(
            "QueueAdd",
            {"Queue": "hotline", "Interface": f"PJSIP/{seat}", "MemberName": seat, "StateInterface": f"PJSIP/{seat}"},
        )

    first, *later = seats  # later seats log in once the first one rings, so the first rings first
    await login(first)
    frames: list[Frame] = []
    phones = [await realparts.seat_phone(seat, ms, work) for seat, ms in seats.items()]
    await asyncio.sleep(0.5)
    if name == "abandoned":
        citizen = await realparts.citizen_call("13800138000", 1000, work)
    else:
        citizen = await realparts.citizen_call("13800138000", hold_ms, work)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            item = await asyncio.wait_for(client.stream.get(), end - loop.time())
        except TimeoutError:
            break
        if isinstance(item, Frame):
            frames.append(item)
        if isinstance(item, Frame) and item.name == "AgentCalled" and later:
            for seat in later:
                await login(seat)
            later = []
        if name == "abandoned" and isinstance(item, Frame) and item.name == "AgentCalled":
            await asyncio.sleep(1.5)
            await citizen.stop()  # the citizen gives up while the seat rings
    for phone in [*phones, citizen]:
        await phone.stop()
    await client.close()
    runner.cancel()
    instance.stop()
    out.write_text("".join(json.dumps(list(map(list, f.headers)), ensure_ascii=False) + "\n" for f in frames))
    print(f"{len(frames)} frames -> {out}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1], Path(sys.argv[2])))
