"""Real SIP phones played by sipp (Debian package sip-tester): seats that ring then answer,
citizens that call 12345 and hang up. Used by the demo (`hotline run --demo`) and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "sipp"
OVERLAY = Path(__file__).resolve().parent / "asterisk-overlay"
SEAT_PORT_BASE = 25000  # seat 80NN listens on 25000 + NN (asterisk-overlay/pjsip_wizard.local.conf)
CITIZEN_PORT_BASE = 26000
DEMO_SEATS = tuple(f"80{n:02d}" for n in range(1, 11))


class PhoneError(RuntimeError):
    pass


@dataclass
class Phone:
    """A sipp process playing one phone."""

    name: str
    process: asyncio.subprocess.Process
    log_dir: Path

    async def wait(self, timeout: float = 30) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGUSR1)  # sipp: stop gracefully
            try:
                await asyncio.wait_for(self.process.wait(), 3)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()

    def errors(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.log_dir.glob("*errors.log"))


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if not found:
        raise PhoneError("sipp is not installed: `apt-get install -y sip-tester` (or `make system-deps`)")
    return found


async def _spawn(name: str, args: list[str], log_dir: Path) -> Phone:
    log_dir.mkdir(parents=True, exist_ok=True)
    base = [sipp_binary(), "-i", "127.0.0.1", "-nostdin", "-skip_rlimit", "-nr", "-trace_err", "-timeout", "120s"]
    process = await asyncio.create_subprocess_exec(
        *base, *args, cwd=log_dir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return Phone(name, process, log_dir)


async def seat_phone(seat: str, answer_after_ms: int, log_dir: Path, *, calls: int = 1) -> Phone:
    """A seat's phone that rings for `answer_after_ms` and then answers, `calls` times."""
    if seat not in DEMO_SEATS:
        raise PhoneError(f"seat {seat} has no sipp phone in the overlay (seats {DEMO_SEATS[0]}–{DEMO_SEATS[-1]})")
    port = SEAT_PORT_BASE + int(seat[-2:])
    folder = log_dir / f"seat-{seat}"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "seat.xml"
    scenario.write_text((SCENARIOS / "seat.xml").read_text().replace("ANSWER_AFTER_MS", str(int(answer_after_ms))))
    args = ["-sf", str(scenario), "-p", str(port), "-m", str(calls)]
    return await _spawn(f"seat-{seat}", args, folder)


async def citizen_call(
    number: str, hold_ms: int, log_dir: Path, *, sip_port: int, index: int = 0, dial: str = "12345"
) -> Phone:
    """A citizen calling `dial` from `number`, staying `hold_ms` after Asterisk answers, then hanging up."""
    log_dir.mkdir(parents=True, exist_ok=True)
    csv = log_dir / f"citizen-{index}.csv"
    csv.write_text(f"SEQUENTIAL\n{number};\n")
    args = [
        "-sf", str(SCENARIOS / "citizen.xml"), "-inf", str(csv), "-s", dial, "-p", str(CITIZEN_PORT_BASE + index),
        "-d", str(hold_ms), "-m", "1", f"127.0.0.1:{sip_port}",
    ]  # fmt: skip
    return await _spawn(f"citizen-{number}", args, log_dir / f"citizen-{index}")
