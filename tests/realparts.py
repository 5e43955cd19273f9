"""Real parts for tests: the project's Asterisk with the test overlay, and sipp phones.

Used by the pytest fixtures (tests/conftest.py) and by scripts that record AMI transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from hotline.asterisk.instance import Instance, ami_secret
from hotline.asterisk.provision import find_or_provision
from hotline.settings import Settings, load_settings

TESTS = Path(__file__).resolve().parent
SIPP_DIR = TESTS / "sipp"
AMI_PORT = 15038
SIP_PORT = 15060
AGI_PORT = 14573
HTTP_PORT = 18080
SEAT_PORT_BASE = 25000  # seat 80NN listens on 25000 + NN (tests/asterisk-overlay/pjsip_wizard.local.conf)
CITIZEN_PORT_BASE = 26000


def test_settings(state_dir: Path, **overrides: object) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_STATE_DIR=str(state_dir),
        HOTLINE_ASTERISK_INSTANCE="test",
        HOTLINE_ASTERISK_OVERLAY=str(TESTS / "asterisk-overlay"),
        HOTLINE_AMI_PORT=str(AMI_PORT),
        HOTLINE_SIP_PORT=str(SIP_PORT),
        HOTLINE_AGI_PORT=str(AGI_PORT),
        HOTLINE_HTTP_PORT=str(HTTP_PORT),
        HOTLINE_AMI_PING_INTERVAL="2",
        HOTLINE_AMI_BACKOFF_INITIAL="0.2",
        HOTLINE_AMI_BACKOFF_MAX="2",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return load_settings(env, **overrides)


def start_asterisk(settings: Settings) -> Instance:
    instance = Instance(find_or_provision(settings), settings)
    instance.stop()  # a leftover from an interrupted run
    instance.start(fresh=True)
    return instance


def ami_credentials(settings: Settings) -> tuple[str, int, str, str]:
    return settings.ami_host, settings.ami_port, settings.ami_username, ami_secret(settings)


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
                self.process.kill()
                await self.process.wait()

    def errors(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.log_dir.glob("*errors.log"))


def _sipp() -> str:
    found = shutil.which("sipp")
    if not found:
        raise RuntimeError("sipp is not installed: `apt-get install -y sip-tester` (or `make system-deps`)")
    return found


async def _spawn(name: str, args: list[str], log_dir: Path) -> Phone:
    log_dir.mkdir(parents=True, exist_ok=True)
    base = [_sipp(), "-i", "127.0.0.1", "-nostdin", "-skip_rlimit", "-nr", "-trace_err", "-timeout", "60s"]
    process = await asyncio.create_subprocess_exec(
        *base, *args, cwd=log_dir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return Phone(name, process, log_dir)


async def seat_phone(seat: str, answer_after_ms: int, log_dir: Path, *, calls: int = 1) -> Phone:
    """A seat's phone that rings for `answer_after_ms` and then answers `calls` calls."""
    port = SEAT_PORT_BASE + int(seat[-2:])
    args = ["-sf", str(SIPP_DIR / "seat.xml"), "-p", str(port), "-d", str(answer_after_ms), "-m", str(calls)]
    return await _spawn(f"seat-{seat}", args, log_dir / f"seat-{seat}")


async def citizen_call(number: str, hold_ms: int, log_dir: Path, *, index: int = 0, dial: str = "12345") -> Phone:
    """A citizen calling 12345 from `number`, staying `hold_ms` after answer, then hanging up."""
    csv = log_dir / f"citizen-{index}.csv"
    log_dir.mkdir(parents=True, exist_ok=True)
    csv.write_text(f"SEQUENTIAL\n{number};\n")
    args = [
        "-sf", str(SIPP_DIR / "citizen.xml"), "-inf", str(csv), "-s", dial, "-p", str(CITIZEN_PORT_BASE + index),
        "-d", str(hold_ms), "-m", "1", f"127.0.0.1:{SIP_PORT}",
    ]
    return await _spawn(f"citizen-{number}", args, log_dir / f"citizen-{index}")


@contextlib.asynccontextmanager
async def phones(*coros: object) -> AsyncIterator[list[Phone]]:
    started: list[Phone] = [await c for c in coros]  # type: ignore[misc]
    try:
        yield started
    finally:
        for phone in started:
            await phone.stop()


def run_cli(instance: Instance, command: str) -> str:
    try:
        return instance.cli(command)
    except subprocess.TimeoutExpired:
        return ""
