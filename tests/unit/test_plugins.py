"""The plugins of hotline/plugins.py, prepared as the service prepares them, make the same case file as
hotline/casefile.py `wire` (what tests and benchmarks use): a feature that adds to a ticket and forgets to join
the service's case file fails here, not only in a slow browser test."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hotline import casefile
from hotline.bus import InProcessBus
from hotline.db.store import Store
from hotline.plugin import Base
from hotline.plugins import plugins
from hotline.settings import load_settings
from hotline.tickets.plugin import TICKETS
from hotline.tickets.store import TicketStore
from hotline.workdays import WorkCalendar


async def test_the_services_case_file_has_every_features_part(tmp_path: Path) -> None:
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path)})
    store = await Store.open(f"sqlite:///{tmp_path / 'hotline.db'}")
    calendar = WorkCalendar.load(settings.workdays_file, zone=settings.zone, day_end=settings.workday_end)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        base = Base(settings=settings, store=store, bus=InProcessBus(), calendar=calendar, stack=stack)
        for plugin in plugins():
            await plugin.prepare(base)
        service_parts = list(base.need(TICKETS).parts)
        wired = casefile.wire(TicketStore(store.engine, calendar)).parts
    assert sorted(service_parts) == sorted(wired) == ["callbacks", "surveys", "threeway"]
