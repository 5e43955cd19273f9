"""Screen pops (弹屏): they follow the bridge's call snapshots from its first resync on, so they start before
the bridge and give it the bus to publish on (BRIDGE_PUBLISHER). The callers' history is whatever provides
HISTORY (the ticket store), else none."""

from __future__ import annotations

from ..plugin import BRIDGE_PUBLISHER, Base, Part, Plugin
from .current import CurrentPops
from .history import History, NoHistory
from .service import PopService, beside_bridge

HISTORY: Part[History] = Part("history")
CURRENT_POPS: Part[CurrentPops] = Part("current-pops")
POPS: Part[PopService] = Part("pops")


class PopsPlugin(Plugin):
    name = "pops"

    async def prepare(self, base: Base) -> None:
        s = base.settings
        bridge_bus, current, pops = beside_bridge(
            base.bus, base.get(HISTORY) or NoHistory(), keep_s=s.pop_keep_s, history_timeout=s.pop_history_timeout
        )
        await pops.start()
        base.stack.push_async_callback(pops.close)
        base.provide(BRIDGE_PUBLISHER, bridge_bus)
        base.provide(CURRENT_POPS, current)
        base.provide(POPS, pops)
