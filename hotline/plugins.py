"""The features the service runs, in the order they start (and their routes are added); stopped in reverse.

A new feature is a folder with its plugin.py (hotline/plugin.py says what a plugin is) and one line here.
"""

from __future__ import annotations

from .callbacks.plugin import CallbacksPlugin
from .floor.plugin import FloorPlugin
from .plugin import Plugin
from .pops.plugin import PopsPlugin
from .recordings.plugin import RecordingsPlugin
from .seats.plugin import SeatsPlugin
from .survey.plugin import SurveyPlugin
from .threeway.plugin import ThreewayPlugin
from .tickets.plugin import TicketsPlugin
from .units_portal.plugin import UnitsPortalPlugin


def plugins() -> list[Plugin]:
    """Fresh plugins for one service. Order: what a plugin needs is provided by one above it; the three-way
    routes come before the seat actions' (which would take /api/seats/{seat}/threeway)."""
    return [
        TicketsPlugin(),  # TICKETS, HISTORY
        UnitsPortalPlugin(),
        PopsPlugin(),  # the bridge's publisher, CURRENT_POPS (needs HISTORY)
        FloorPlugin(),
        SurveyPlugin(),  # IVR
        ThreewayPlugin(),  # (needs TICKETS)
        SeatsPlugin(),  # SEAT_AUTH (needs CURRENT_POPS)
        RecordingsPlugin(),  # RECORDINGS, STAFF (needs SEAT_AUTH)
        CallbacksPlugin(),  # CALLBACKS, DIALER (needs TICKETS, IVR)
    ]
