"""Real parts for tests: the project's Asterisk with the test overlay, and sipp phones.

Used by the pytest fixtures (tests/conftest.py) and by scripts that record AMI transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from hotline.asterisk.instance import Instance, ami_secret, seat_passwords
from hotline.asterisk.provision import find_or_provision
from hotline.demo import phones
from hotline.demo.phones import Phone
from hotline.recordings.qaauth import add_user, load_users
from hotline.seats import tokens
from hotline.settings import Settings, load_settings

TESTS = Path(__file__).resolve().parent.parent
# pytest-xdist runs the suite in several processes (make test: -n 2), each with its own Asterisk instance, ports and
# sipp phones: worker gwN moves Asterisk's ports by 100·N and the phones' by 4000·N (above Asterisk's RTP range,
# 10000–20000; the overlay is rendered with the same offset).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_NUMBER = int(WORKER.removeprefix("gw") or 0)
AMI_PORT = 15038 + 100 * WORKER_NUMBER
SIP_PORT = 15060 + 100 * WORKER_NUMBER
AGI_PORT = 14573 + 100 * WORKER_NUMBER
HTTP_PORT = 18080 + 100 * WORKER_NUMBER  # and the next port, for a second service in a test
PHONE_OFFSET = 4000 * WORKER_NUMBER
if PHONE_OFFSET:
    phones.shift_ports(PHONE_OFFSET)


def test_settings(state_dir: Path, **overrides: object) -> Settings:
    return load_settings(test_env(state_dir), **overrides)


def test_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of the test settings (for a `hotline` process of a test); `extra` adds HOTLINE_<NAME>s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    overlay = phones.render_overlay(state_dir / "overlay", PHONE_OFFSET) if PHONE_OFFSET else phones.OVERLAY
    env.update(
        HOTLINE_STATE_DIR=str(state_dir),
        HOTLINE_ASTERISK_INSTANCE=f"test-{WORKER}" if WORKER else "test",
        HOTLINE_ASTERISK_OVERLAY=str(overlay),
        HOTLINE_AMI_PORT=str(AMI_PORT),
        HOTLINE_SIP_PORT=str(SIP_PORT),
        HOTLINE_AGI_PORT=str(AGI_PORT),
        HOTLINE_HTTP_PORT=str(HTTP_PORT),
        HOTLINE_AMI_PING_INTERVAL="2",
        HOTLINE_AMI_BACKOFF_INITIAL="0.2",
        HOTLINE_AMI_BACKOFF_MAX="2",
        HOTLINE_THREEWAY_TRUNK="trunk-units",  # units are sipp phones (asterisk-overlay/pjsip.local.conf)
        HOTLINE_THREEWAY_RING_S="6",
        # the 回访 dialer off: it would ring ready seats to call back the tests' lost calls and call-back
        # requests in working hours (tests/integration/test_callbacks.py turns it on with its own clock)
        HOTLINE_CALLBACKS="false",
        # no recordings sweep at start: every test has its own database but the session shares one recordings
        # folder, so it would catalogue the earlier tests' files as unknown calls (test_recordings_sweep_live.py
        # turns it on)
        HOTLINE_RECORDING_SWEEP="false",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update({f"HOTLINE_{name.upper()}": value for name, value in extra.items()})
    return env


def start_asterisk(settings: Settings) -> Instance:
    instance = Instance(find_or_provision(settings), settings)
    instance.stop()  # a leftover from an interrupted run
    # the test instance's recordings start empty: a sweep in one run must not wade through every earlier run's
    # files (hundreds on a machine that ran the suite all day; a live call could end before it reached its file)
    if settings.recordings_dir is None:  # the instance's own folder, never one named in the environment
        shutil.rmtree(instance.recordings, ignore_errors=True)
    instance.start(fresh=True)
    return instance


def ami_credentials(settings: Settings) -> tuple[str, int, str, str]:
    return settings.ami_host, settings.ami_port, settings.ami_username, ami_secret(settings)


async def citizen_call(number: str, hold_ms: int, log_dir: Path, *, index: int = 0) -> Phone:
    return await phones.citizen_call(number, hold_ms, log_dir, sip_port=SIP_PORT, index=index)


seat_phone = phones.seat_phone


async def traced_seat_phone(seat: str, answer_after_ms: int, log_dir: Path) -> Phone:
    """A seat's sipp phone (as seat_phone) that also writes every SIP message it gets to a log:
    messages_of(phone) reads it."""
    if seat not in phones.DEMO_SEATS:
        raise phones.PhoneError(f"seat {seat} has no sipp phone in the overlay ({', '.join(phones.DEMO_SEATS)})")
    port = phones.SEAT_PORT_BASE + int(seat[-2:])
    folder = log_dir / f"traced-seat-{seat}"
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "seat.xml"
    scenario.write_text((phones.SCENARIOS / "seat.xml").read_text().replace("ANSWER_AFTER_MS", str(answer_after_ms)))
    args = ["-sf", str(scenario), "-p", str(port), "-m", "1", "-trace_msg", "-message_file", str(folder / "msg.log")]
    return await phones._spawn(f"seat-{seat}", args, folder)


async def hang_up_all(client: Any) -> None:
    """Hang up every channel and wait until Asterisk has none. Call it before stopping sipp phones that are
    still on a call: Asterisk's BYE to a stopped phone is resent for 32 s and lands on the next test's
    phone on the same port, which sipp takes as its one call and aborts."""
    with contextlib.suppress(Exception):
        await client.action("Hangup", {"Channel": "/.*/"})
    for _ in range(50):
        if not await client.action_list("CoreShowChannels"):
            return
        await asyncio.sleep(0.1)


async def conference(client: Any, call_id: str) -> list[str]:
    """The channels in the call's three-way conference (tw-<call id>), as Asterisk lists them."""
    try:
        frames = await client.action_list("ConfbridgeList", {"Conference": f"tw-{call_id}"})
    except Exception:
        return []
    return sorted(f.get("Channel") for f in frames if f.name == "ConfbridgeList")


def messages_of(phone: Phone) -> str:
    path = phone.log_dir / "msg.log"
    return path.read_text(errors="replace") if path.exists() else ""


def run_cli(instance: Instance, command: str) -> str:
    try:
        return instance.cli(command)
    except subprocess.TimeoutExpired:
        return ""


LEADER, LEADER_PASSWORD = "leader", "leader-password"


def seat_headers(service: Any, seat: str) -> dict[str, str]:
    """The seat's own login (as POST /api/session gives it) for HTTP calls on its behalf."""
    return {"Authorization": f"Bearer {tokens.sign(service.auth.key, seat, int(time.time()) + 3600)}"}


def leader_headers(service: Any) -> dict[str, str]:
    """A team leader's (班长) login: the user is added to the service's staff file the first time."""
    path = service.settings.qa_users_path
    if LEADER not in load_users(path):
        add_user(path, LEADER, LEADER_PASSWORD, "班长", role="leader")
    token, _ = service.staff.login(LEADER, LEADER_PASSWORD)
    return {"Authorization": f"Bearer {token}"}


async def wallboard_login(page: Any, service: Any) -> None:
    """Open the wallboard in the browser and log in there as the team leader, as a person would."""
    leader_headers(service)  # the user exists
    await page.goto(f"{service.url}/")
    await page.fill("#login-user", LEADER)
    await page.fill("#login-password", LEADER_PASSWORD)
    await page.click("#login-button")


async def seat_page_login(page: Any, service: Any, seat: str) -> None:
    """Open the seat page in the browser and log in as the seat would: its number and its phone's SIP password."""
    await page.goto(f"{service.url}/seat")
    await page.fill("#seat-input", seat)
    await page.fill("#password-input", seat_passwords(service.settings)[seat])
    await page.click("#login")


def cli_env(monkeypatch: Any, tmp_path: Path, root: Path, db: Path, **extra: str) -> None:
    """The environment of a `hotline` command run in a test: none of the machine's settings, the state in
    tmp_path, recordings under `root`, SQLite at `db`, recordings as flac (so the setting is seen to reach
    the command), and an AMI port nothing listens on (0.5 s to find out); `extra` adds HOTLINE_<NAME>s."""
    for name in [k for k in os.environ if k.startswith("HOTLINE_") or k in ("DATABASE_URL", "REDIS_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(root))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("HOTLINE_RECORDING_FORMAT", "flac")
    monkeypatch.setenv("HOTLINE_AMI_PORT", "1")
    monkeypatch.setenv("HOTLINE_AMI_CONNECT_TIMEOUT", "0.5")
    for name, value in extra.items():
        monkeypatch.setenv(f"HOTLINE_{name.upper()}", value)
