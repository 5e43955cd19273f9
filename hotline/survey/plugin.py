"""The IVR (FastAGI) and the satisfaction survey after each answered call. Offers IVR (the 回访 dialer hooks
its automated survey's keys into the server)."""

from __future__ import annotations

from ..plugin import Core, Part, Plugin
from .service import Ivr, start_ivr

IVR: Part[Ivr] = Part("ivr")


class SurveyPlugin(Plugin):
    name = "survey"

    async def start(self, core: Core) -> None:
        def seat_of(call_id: str) -> str | None:
            """The seat of a live call (the survey's seat when the channel has no MEMBERINTERFACE)."""
            call = core.live.call(call_id)
            return call.seat if call else None

        ivr = core.provide(IVR, await start_ivr(core.settings, core.store, core.bus, seat_of=seat_of))
        core.stack.push_async_callback(ivr.close)
