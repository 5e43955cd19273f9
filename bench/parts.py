"""Real parts for the benchmarks: the project's Asterisk 22 as its own instance ("bench", with the test
overlay's sipp seats and carrier) on ports of its own, and the service in-process against it.

    async with bench_service(Path(tmp), wrapup_s=0) as (service, instance):
        ...

Anything that starts it must run under the integration lock (`flock /tmp/hotline-it.lock ...`): the sipp
phones' ports are the tests' ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from hotline.asterisk.instance import Instance
from hotline.service import Service
from hotline.settings import Settings
from tests.helpers.realparts import start_asterisk, test_settings

AMI_PORT = 16038
SIP_PORT = 16060
HTTP_PORT = 18180


def bench_settings(state_dir: Path, **overrides: object) -> Settings:
    """The test settings (overlay, SQLite in `state_dir`), on the bench instance and its ports."""
    return test_settings(state_dir, asterisk_instance="bench", ami_port=AMI_PORT, sip_port=SIP_PORT,
                         http_port=HTTP_PORT, **overrides)  # fmt: skip


@contextlib.asynccontextmanager
async def bench_service(state_dir: Path, **overrides: object) -> AsyncIterator[tuple[Service, Instance]]:
    """A fresh Asterisk (a leftover bench instance is stopped first) and the service, resynced; both
    stopped on the way out."""
    settings = bench_settings(state_dir, **overrides)
    instance = start_asterisk(settings)
    try:
        async with Service(settings) as service:
            await asyncio.wait_for(service.bridge.resynced.wait(), 15)
            yield service, instance
    finally:
        instance.stop()


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process so far (this one by default)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def asterisk_pid(instance: Instance) -> int | None:
    pidfile = instance.host_path(instance.inner / "run" / "asterisk.pid")
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
