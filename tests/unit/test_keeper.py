"""The keeper (hotline/keeper.py) with a stand-in service: a child that says it is up and sleeps, or one that fails
before it is up. Each run is its own interpreter (the keeper forks: never inside the test process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotline.keeper import BACKOFF_S, describe, pause_after

CHILD = """
import logging, os, sys, time
from hotline.keeper import keep
logging.basicConfig(level=logging.INFO)
out, mode = sys.argv[1], sys.argv[2]
def child(ready):
    with open(out, "a") as f:
        f.write(f"{os.getpid()}\\n")
    if mode == "fail":
        sys.exit(3)
    if mode == "fatal":
        sys.exit(78)
    ready()
    time.sleep(60)
    return 0
sys.exit(keep(child))
"""


def start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "starts"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(out), mode], stderr=subprocess.PIPE, text=True)
    return proc, out


def pids(out: Path, at_least: int, within_s: float = 10) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = [int(p) for p in out.read_text().split()] if out.exists() else []
        if len(found) >= at_least:
            return found
        time.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} service processes started in {within_s} s")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_service_process_that_was_up_and_died_is_replaced_at_once(tmp_path: Path) -> None:
    proc, out = start(tmp_path, "up")
    try:
        (first,) = pids(out, 1)
        time.sleep(0.2)  # it said it is up
        killed = time.monotonic()
        os.kill(first, signal.SIGKILL)
        second = pids(out, 2)[1]
        assert time.monotonic() - killed < 1.0 and second != first
        proc.send_signal(signal.SIGTERM)  # passed to the service process, which stops; then the keeper
        assert proc.wait(10) == 0
        assert not alive(second)
        assert "was killed by SIGKILL" in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()


def test_a_service_that_cannot_start_is_retried_with_growing_pauses(tmp_path: Path) -> None:
    proc, out = start(tmp_path, "fail")
    try:
        time.sleep(2.0)  # starts at about 0, 0, 0.5, 1.5 s: pauses 0, 0.5, 1 after the deaths in a row
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        starts = len(pids(out, 1))
        assert 3 <= starts <= 5, starts
        log = proc.stderr.read() if proc.stderr else ""
        assert "exited with status 3 after" in log and "(before it was up)" in log and "in 0.5 s (2 in a row)" in log
    finally:
        proc.kill()


def test_the_service_process_stops_when_the_keeper_dies(tmp_path: Path) -> None:
    proc, out = start(tmp_path, "up")
    try:
        (child,) = pids(out, 1)
        proc.kill()
        proc.wait(5)
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(child), "the service process outlived its keeper"
    finally:
        proc.kill()


def test_the_words_and_the_pauses() -> None:
    assert describe(-9) == "was killed by SIGKILL" and describe(137) == "exited with status 137"
    assert [pause_after(n) for n in (0, 1, 2, 3)] == [0.0, 0.0, 0.5, 1.0]
    assert pause_after(99) == BACKOFF_S[-1]


def test_a_service_that_cannot_run_as_configured_is_not_started_again(tmp_path: Path) -> None:
    """A refused AMI secret (FATAL, 78): the keeper says so once and exits with it, nothing is retried."""
    proc, out = start(tmp_path, "fatal")
    try:
        assert proc.wait(10) == 78
        assert len(pids(out, 1)) == 1
        assert "not started again" in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
