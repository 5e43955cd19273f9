"""Owned background tasks: a service starts them and, when it closes, stops them here (cancel, then wait)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def stop(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel every task, then wait until each has ended. A task that had already failed is logged with its
    traceback and not raised: a close goes on to stop everything else."""
    owned = [t for t in tasks if t is not None]
    for task in owned:
        task.cancel()
    for task in owned:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("task %s had failed before it was stopped", task.get_name())
