"""The keeper: `hotline run` loads the service's code once, then runs the service in a forked child, and when the
child dies (SIGKILL, a crash, the OOM killer) forks the next one at once. A restart then costs a fork, the
service's start and the resync (the record is Asterisk's and the database's, never the process's), not Python
importing its libraries again (about 1.5 s of a cold start on a 2-CPU box: bench/restart.py).

    keep(lambda ready: asyncio.run(serve(ready)))   # serve calls ready() once it answers; keep returns when asked
                                                    # to stop (SIGTERM, SIGINT) or when the service ends by itself

A child that was up (it called `ready`) and died is replaced at once. One that dies before it was up (a database
down, a wrong setting) is started again after a growing pause (BACKOFF_S), each death one log line with the exit
status, so a service that cannot start yet is retried without spinning. SIGTERM and SIGINT are passed to the
child, which stops cleanly; the keeper then exits. The child gets SIGTERM if the keeper itself dies (Linux's
parent-death signal), so no service is left behind.
The keeper runs no event loop and no thread: it forks before anything asynchronous exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)
Ready = Callable[[], None]  # what the service process calls once it answers

FATAL = 78  # EX_CONFIG: the service process cannot run as configured (a refused AMI secret): not started again
BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # the pause before the next child, by quick deaths in a row
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1
KEEPER_START = "HOTLINE_KEEPER_START"  # in a service process: which of the keeper's starts it is (1 = the first)


def describe(status: int) -> str:
    """An exit status as os.waitstatus_to_exitcode gives it, in words."""
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:  # a real-time signal has no name
            return f"was killed by signal {-status}"
    if status == FATAL:
        return "stopped: it cannot run as configured"
    return f"exited with status {status}"


def pause_after(quick_deaths: int) -> float:
    return BACKOFF_S[min(quick_deaths, len(BACKOFF_S)) - 1] if quick_deaths > 0 else 0.0


class Keeper:
    def __init__(self, run_child: Callable[[Ready], int]) -> None:
        self.run_child = run_child
        self.stopping = False
        self.child = 0
        self.starts = 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signum)

    def keep(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        early = 0  # deaths in a row before the service was up
        while not self.stopping:
            started = time.monotonic()
            readable, writable = os.pipe()
            self.child = self._fork(writable)
            os.close(writable)
            status = self._wait(self.child)
            was_up = _was_up(readable)
            lived, pid, self.child = time.monotonic() - started, self.child, 0
            if self.stopping or status == 0:
                return 0 if status in (0, *(-s for s in STOP_SIGNALS)) else status
            if status == FATAL:  # another try would fail the same way: say so and stop
                log.error("service process %d %s; not started again (fix the setting, then start again)", pid,
                          describe(status))  # fmt: skip
                return status
            early = 0 if was_up else early + 1
            pause = pause_after(early)
            log.error("service process %d %s after %.1f s%s; starting another%s", pid, describe(status), lived,
                      "" if was_up else " (before it was up)",
                      f" in {pause:.1f} s ({early} in a row)" if pause else " now")  # fmt: skip
            deadline = time.monotonic() + pause
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(min(0.1, deadline - time.monotonic()))
        return 0

    def _fork(self, writable: int) -> int:
        """The next service process. The stop signals are held back around the fork: one that comes meanwhile is
        handled after it, in the keeper, which then passes it on to the child it knows by then (never lost in the
        child before its own handlers are set, never missed by the keeper)."""
        self.starts += 1
        keeper = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # nothing of the keeper's buffers printed twice by the child
            with contextlib.suppress(Exception):
                stream.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid:
            self.child = pid
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a held stop signal is handled now
            return pid
        code = 1
        try:  # the child: the service; it never returns into the keeper's loop
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL if sig is signal.SIGTERM else signal.default_int_handler)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            _die_with(keeper)
            os.environ[KEEPER_START] = str(self.starts)

            def ready() -> None:
                with contextlib.suppress(OSError):
                    os.write(writable, b"up")

            code = self.run_child(ready)
        except KeyboardInterrupt:
            code = 130
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("service process %d failed", os.getpid())
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            logging.shutdown()
            os._exit(code)
        return 0  # not reached

    @staticmethod
    def _wait(pid: int) -> int:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
            except InterruptedError:  # a signal's handler ran (Python retries by itself; kept for clarity)
                continue
            except ChildProcessError:  # reaped elsewhere: its status is lost
                return 1
            return os.waitstatus_to_exitcode(status)


def keep(run_child: Callable[[Ready], int]) -> int:
    """Run `run_child` in a forked child, again and again, until asked to stop or it ends cleanly (exit 0)."""
    return Keeper(run_child).keep()


def _was_up(readable: int) -> bool:
    """Whether the child said it was up (the pipe's other end is closed now: the read does not block)."""
    try:
        return bool(os.read(readable, 2))
    finally:
        os.close(readable)


def _die_with(keeper: int) -> None:
    """SIGTERM to this child when the keeper dies (Linux); elsewhere nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != keeper:  # the keeper died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
