"""The IVR (FastAGI) and the satisfaction survey after each answered call. Offers IVR (the 回访 dialer hooks
its automated survey's keys into the server)."""

from __future__ import annotations

from ..plugin import Base, Core, Part, Plugin
from ..tickets.plugin import TICKETS
from .service import Ivr, start_ivr
from .store import join_case_file

IVR: Part[Ivr] = Part("ivr")


class SurveyPlugin(Plugin):
    name = "survey"

    async def prepare(self, base: Base) -> None:
        join_case_file(base.need(TICKETS))  # the ticket's view shows the caller's ratings of its calls

    async def start(self, core: Core) -> None:
        def seat_of(call_id: str) -> str | None:
            """The seat of a live call (the survey's seat when the channel has no MEMBERINTERFACE)."""
            call = core.live.call(call_id)
            return call.seat if call else None

        ivr = core.provide(IVR, await start_ivr(core.settings, core.store, core.bus, seat_of=seat_of))
        core.stack.push_async_callback(ivr.close)
