"""Real SIP phones played by sipp (Debian package sip-tester): seats that ring then answer,
citizens that call 12345 and hang up. Used by the demo (`hotline run --demo`) and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotline.errors import Unavailable

from . import dtmf

SCENARIOS = Path(__file__).resolve().parent / "sipp"
OVERLAY = Path(__file__).resolve().parent / "asterisk-overlay"
# The phones' SIP ports (UDP). The overlay names the seats', units' and called citizens' (render_overlay moves
# them all, with these, when several test runs share the machine: shift_ports).
SEAT_PORT_BASE = 25000  # seat 80NN listens on 25000 + NN (asterisk-overlay/pjsip_wizard.local.conf)
CITIZEN_PORT_BASE = 26000
UNIT_PORT = 27000  # handling units' phones behind the test trunk (asterisk-overlay/pjsip.local.conf trunk-units)
CALLED_CITIZEN_PORT = 27100  # citizens called back (回访) behind trunk-citizens (same file)
MEDIA_PORT_BASE = 28000  # RTP of the phones that send audio (DTMF as RFC 2833 events)
DEMO_SEATS = tuple(f"80{n:02d}" for n in range(1, 11))
RING_LOG = "rings.log"  # a load seat phone's log of the calls it rang for (load_seat_phone)


def shift_ports(offset: int) -> None:
    """Move every phone's ports by `offset`: test runs in parallel, each against its own Asterisk whose overlay
    was made by render_overlay with the same offset."""
    global SEAT_PORT_BASE, CITIZEN_PORT_BASE, UNIT_PORT, CALLED_CITIZEN_PORT, MEDIA_PORT_BASE
    SEAT_PORT_BASE, CITIZEN_PORT_BASE = SEAT_PORT_BASE + offset, CITIZEN_PORT_BASE + offset
    UNIT_PORT, CALLED_CITIZEN_PORT, MEDIA_PORT_BASE = (
        UNIT_PORT + offset,
        CALLED_CITIZEN_PORT + offset,
        MEDIA_PORT_BASE + offset,
    )


def render_overlay(dest: Path, offset: int) -> Path:
    """The demo overlay in `dest` with every phone's contact port moved by `offset` (see shift_ports)."""
    dest.mkdir(parents=True, exist_ok=True)
    for conf in OVERLAY.glob("*.conf"):
        text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{int(m[1]) + offset}", conf.read_text())
        (dest / conf.name).write_text(text)
    return dest


class PhoneError(Unavailable, RuntimeError):
    """A demo or test phone (sipp) could not start or do what it was asked."""

    error = "phone-failed"


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


async def _spawn(name: str, args: list[str], log_dir: Path, *, timeout_s: int = 120, ip: str = "127.0.0.1") -> Phone:
    log_dir.mkdir(parents=True, exist_ok=True)
    base = [sipp_binary(), "-i", ip, "-nostdin", "-skip_rlimit", "-nr", "-trace_err"]
    if timeout_s:  # 0: no time limit (the demo's phones, up until Ctrl-C)
        base += ["-timeout", f"{timeout_s}s"]
    process = await asyncio.create_subprocess_exec(
        *base, *args, cwd=log_dir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return Phone(name, process, log_dir)


async def seat_phone(seat: str, answer_after_ms: int, log_dir: Path, *, calls: int = 1, timeout_s: int = 120) -> Phone:
    """A seat's phone that rings for `answer_after_ms` and then answers, `calls` times (sipp quits after
    `timeout_s`; 0: never)."""
    if seat not in DEMO_SEATS:
        raise PhoneError(f"seat {seat} has no sipp phone in the overlay (seats {DEMO_SEATS[0]}–{DEMO_SEATS[-1]})")
    port = SEAT_PORT_BASE + int(seat[-2:])
    folder = log_dir / f"seat-{seat}"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "seat.xml"
    scenario.write_text((SCENARIOS / "seat.xml").read_text().replace("ANSWER_AFTER_MS", str(int(answer_after_ms))))
    args = ["-sf", str(scenario), "-p", str(port), "-m", str(calls)]
    return await _spawn(f"seat-{seat}", args, folder, timeout_s=timeout_s)


def _fill(scenario: str, folder: Path, values: dict[str, int]) -> Path:
    """A copy of `scenario` in `folder` with its placeholders (e.g. TALK_MS) replaced by `values`."""
    text = (SCENARIOS / scenario).read_text()
    for key, value in values.items():
        text = text.replace(key, str(int(value)))
    path = folder / scenario
    path.write_text(text)
    return path


async def load_seat_phone(
    seat: str, ring_ms: Sequence[int], log_dir: Path, *, talk_ms: int = 3000, calls: int = 100000,
    timeout_s: int = 3600,
) -> Phone:  # fmt: skip
    """A seat's phone for load runs: its n-th call rings for ring_ms[n] ms (cycling), unless Asterisk cancels
    it first; an answered call is hung up by the seat after `talk_ms`. Each call adds lines to
    `ring_log(phone)` (kind;caller;ms from the INVITE by sipp's clock: see sipp/seat-load.xml)."""
    if seat not in DEMO_SEATS:
        raise PhoneError(f"seat {seat} has no sipp phone in the overlay (seats {DEMO_SEATS[0]}–{DEMO_SEATS[-1]})")
    if not ring_ms or min(ring_ms) < 0:
        raise PhoneError(f"ring times: need at least one, none negative (got {list(ring_ms)[:5]}...)")
    folder = log_dir / f"seat-{seat}"
    folder.mkdir(parents=True, exist_ok=True)
    delays = folder / "ring-ms.csv"
    delays.write_text("SEQUENTIAL\n" + "".join(f"{int(ms)};\n" for ms in ring_ms))
    scenario = _fill("seat-load.xml", folder, {"TALK_MS": talk_ms})
    args = ["-sf", str(scenario), "-inf", str(delays), "-p", str(SEAT_PORT_BASE + int(seat[-2:])), "-m", str(calls),
            "-trace_logs", "-log_file", str(folder / RING_LOG)]  # fmt: skip
    return await _spawn(f"seat-{seat}", args, folder, timeout_s=timeout_s)


def ring_log(phone: Phone) -> Path:
    """Where a load seat phone logs each call it rang for."""
    return phone.log_dir / RING_LOG


async def citizens_load(
    numbers: list[str], log_dir: Path, *, sip_port: int, rate: float, concurrency: int, max_call_ms: int,
    index: int = 0, dial: str = "12345", timeout_s: int = 3600,
) -> Phone:  # fmt: skip
    """One sipp placing a call from each of `numbers` to `dial`, `rate` new calls per second, at most
    `concurrency` at once. Each citizen stays until Asterisk hangs up (after the seat did), at most
    `max_call_ms`. sipp's statistics, one row a second, go to `stats.csv` in the phone's folder."""
    folder = log_dir / f"citizens-{index}"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "numbers.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    scenario = _fill("citizen-load.xml", folder, {"MAX_CALL_MS": max_call_ms})
    args = [
        "-sf", str(scenario), "-inf", str(csv), "-s", dial, "-p", str(CITIZEN_PORT_BASE + index),
        "-r", f"{rate:g}", "-l", str(concurrency), "-m", str(len(numbers)),
        "-trace_stat", "-stf", str(folder / "stats.csv"), "-fd", "1", f"127.0.0.1:{sip_port}",
    ]  # fmt: skip
    return await _spawn(f"citizens-{index}", args, folder, timeout_s=timeout_s)


def voice_file(folder: Path) -> Path:
    """One second of a 440 Hz tone then silence, raw A-law at 8 kHz (looped by sipp): a citizen's "voice"."""
    path = folder / "voice.alaw"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["sox", "-n", "-r", "8000", "-c", "1", "-e", "a-law", "-t", "raw", str(path), "synth", "1", "sine", "440",
             "vol", "0.3", "pad", "0", "0.5"],
            check=True,
        )  # fmt: skip
    return path


async def citizen_talks(number: str, hold_ms: int, log_dir: Path, *, sip_port: int, index: int = 0) -> Phone:
    """A citizen who talks: as citizen_call, and sends audio for the whole call (the plain citizen sends no RTP,
    so its recording would hold silence and be flagged empty)."""
    folder = log_dir / f"citizen-talk-{index}"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "citizen-talk.xml"
    text = (SCENARIOS / "citizen-talk.xml").read_text()
    scenario.write_text(text.replace("AUDIO_FILE", str(voice_file(folder))))
    csv = folder / "citizen.csv"
    csv.write_text(f"SEQUENTIAL\n{number};\n")
    args = [
        "-sf", str(scenario), "-inf", str(csv), "-s", "12345", "-p", str(CITIZEN_PORT_BASE + index),
        "-d", str(hold_ms), "-m", "1", f"127.0.0.1:{sip_port}",
    ]  # fmt: skip
    return await _spawn(f"citizen-{number}", args, folder)


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


SEAT_DIALS_IP = "127.0.0.2"  # not the carrier's address (127.0.0.1 in the overlay): Asterisk knows the seat by name


async def seat_dials(seat: str, password: str, number: str, talk_ms: int, log_dir: Path, *, sip_port: int) -> Phone:
    """The seat's phone dials `number` itself (extensions.conf [seats] → [outbound]), answering the digest
    challenge with the seat's SIP password; it talks `talk_ms` after the answer, then hangs up."""
    folder = log_dir / f"seat-{seat}-dials"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "seat-dials.xml"
    scenario.write_text((SCENARIOS / "seat-dials.xml").read_text().replace("AUDIO_FILE", str(voice_file(folder))))
    csv = folder / "seat.csv"
    csv.write_text(f"SEQUENTIAL\n{seat};\n")
    args = [
        "-sf", str(scenario), "-inf", str(csv), "-s", number, "-au", seat, "-ap", password,
        "-p", str(SEAT_PORT_BASE + 100 + int(seat[-2:])), "-d", str(talk_ms), "-m", "1", f"127.0.0.1:{sip_port}",
    ]  # fmt: skip
    return await _spawn(f"seat-{seat}-dials", args, folder, ip=SEAT_DIALS_IP)


async def unit_phone(
    log_dir: Path,
    *,
    ring_ms: int,
    answer: bool = True,
    code: int = 486,
    talk_ms: int = 60000,
    name: str = "unit",
    port: int | None = None,
    calls: int = 1,
    timeout_s: int = 120,
) -> Phone:
    """A handling unit's phone behind the test trunk (any number dialled there reaches it): rings for `ring_ms`,
    then answers and hangs up itself after `talk_ms` (unless Asterisk hangs up first), or rejects with `code`
    (486 busy, 404...). Asterisk's CANCEL while ringing (no answer, cancel) ends it cleanly. With
    port=CALLED_CITIZEN_PORT it is a citizen called back by the 回访 dialer (default: UNIT_PORT)."""
    folder = log_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    values = {"RING_MS": ring_ms, "ANSWER": int(answer), "TALK_MS": talk_ms, "CODE": code}
    scenario = _fill("unit.xml", folder, values)
    args = [
        "-sf",
        str(scenario),
        "-p",
        str(UNIT_PORT if port is None else port),
        "-m",
        str(calls),
        "-trace_msg",
        "-message_file",
        str(folder / "msg.log"),
    ]
    return await _spawn(name, args, folder, timeout_s=timeout_s)


async def citizen_ivr_call(
    number: str, keys: Sequence[tuple[int, str]], log_dir: Path, *, sip_port: int, index: int = 0,
    hold_ms: int = 60000, dial: str = "12345",
) -> Phone:  # fmt: skip
    """A citizen who calls `dial` and, for each (pause_ms, keys) in `keys`, waits pause_ms and presses the
    keys as RFC 2833 telephone-events; then waits up to hold_ms for Asterisk to hang up, else hangs up."""
    folder = log_dir / f"citizen-ivr-{index}"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "number.csv"
    csv.write_text(f"SEQUENTIAL\n{number};\n")
    text = (SCENARIOS / "citizen-ivr.xml").read_text().replace("KEYS", _key_steps(keys, folder))
    scenario = folder / "citizen-ivr.xml"
    scenario.write_text(text.replace("HOLD_MS", str(int(hold_ms))))
    args = ["-sf", str(scenario), "-inf", str(csv), "-s", dial, "-p", str(CITIZEN_PORT_BASE + index),
            "-mp", str(MEDIA_PORT_BASE + 10 * index), "-m", "1", "-trace_msg", f"127.0.0.1:{sip_port}"]  # fmt: skip
    return await _spawn(f"citizen-{number}", args, folder)


def _key_steps(keys: Sequence[tuple[int, str]], folder: Path) -> str:
    """sipp steps: for each (pause_ms, keys), a pause then the keys as RFC 2833 events, each press its own
    RTP numbers (hotline.demo.dtmf)."""
    steps, presses = [], 0
    for pause_ms, pressed in keys:
        steps.append(f'  <pause milliseconds="{int(pause_ms)}"/>')
        for key in pressed:
            pcap = folder / f"key-{presses}.pcap"
            pcap.write_bytes(dtmf.press_pcap(key, presses))
            presses += 1
            steps.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
            steps.append('  <pause milliseconds="250"/>')
    return "\n".join(steps)


async def called_citizen_ivr(
    keys: Sequence[tuple[int, str]], log_dir: Path, *, ring_ms: int = 500, hold_ms: int = 60000,
    name: str = "citizen-survey", port: int | None = None,
) -> Phone:  # fmt: skip
    """A citizen called back (behind trunk-citizens) who answers after ring_ms and, for each (pause_ms, keys),
    waits pause_ms and presses the keys (the 回访 dialer's automated survey); then waits up to hold_ms for
    Asterisk to hang up, else hangs up."""
    folder = log_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    text = (SCENARIOS / "called-citizen-ivr.xml").read_text().replace("KEYS", _key_steps(keys, folder))
    scenario = folder / "called-citizen-ivr.xml"
    scenario.write_text(text.replace("RING_MS", str(int(ring_ms))).replace("HOLD_MS", str(int(hold_ms))))
    port = CALLED_CITIZEN_PORT if port is None else port
    args = ["-sf", str(scenario), "-p", str(port), "-mp", str(MEDIA_PORT_BASE + 500), "-m", "1", "-trace_msg",
            "-message_file", str(folder / "msg.log")]  # fmt: skip
    return await _spawn(name, args, folder)


async def hanging_up_seat_phone(seat: str, answer_after_ms: int, talk_ms: int, log_dir: Path) -> Phone:
    """A seat's phone that answers after answer_after_ms, talks talk_ms and hangs up first (→ survey)."""
    if seat not in DEMO_SEATS:
        raise PhoneError(f"seat {seat} has no sipp phone in the overlay (seats {DEMO_SEATS[0]}–{DEMO_SEATS[-1]})")
    folder = log_dir / f"seat-{seat}"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = _fill("seat-hangup.xml", folder, {"ANSWER_AFTER_MS": answer_after_ms, "TALK_MS": talk_ms})
    args = ["-sf", str(scenario), "-p", str(SEAT_PORT_BASE + int(seat[-2:])), "-m", "1", "-trace_msg"]
    return await _spawn(f"seat-{seat}", args, folder)
