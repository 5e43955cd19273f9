"""Real parts for tests: the project's Asterisk with the test overlay, and sipp phones.

Used by the pytest fixtures (tests/conftest.py) and by scripts that record AMI transcripts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hotline.asterisk.instance import Instance, ami_secret
from hotline.asterisk.provision import find_or_provision
from hotline.demo import phones
from hotline.demo.phones import Phone
from hotline.settings import Settings, load_settings

TESTS = Path(__file__).resolve().parent
AMI_PORT = 15038
SIP_PORT = 15060
AGI_PORT = 14573
HTTP_PORT = 18080


def test_settings(state_dir: Path, **overrides: object) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_STATE_DIR=str(state_dir),
        HOTLINE_ASTERISK_INSTANCE="test",
        HOTLINE_ASTERISK_OVERLAY=str(phones.OVERLAY),
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


async def citizen_call(number: str, hold_ms: int, log_dir: Path, *, index: int = 0) -> Phone:
    return await phones.citizen_call(number, hold_ms, log_dir, sip_port=SIP_PORT, index=index)


seat_phone = phones.seat_phone


def run_cli(instance: Instance, command: str) -> str:
    try:
        return instance.cli(command)
    except subprocess.TimeoutExpired:
        return ""
