"""The floor figures and the bridge's health in Prometheus' text format (`/metrics`).

Figures over windows are gauges with a `window` label ("today" in the hotline's zone, "24h"
rolling), so that a dashboard shows the same numbers as the wallboard; the national targets are
exported beside them so alerts can compare without hard-coding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ami_bridge.bridge import BridgeStats

_COUNTS = {
    "offered": "calls that reached the queue",
    "answered": "calls a seat answered",
    "lost": "calls lost while queued or ringing (呼损)",
    "within_two_rings": "calls answered within two rings by the first seat rung",
    "within_service_level": "calls answered within the service-level seconds",
    "misses": "rings a seat let run out or rejected (未接)",
}
_RATIOS = {
    "answer_rate": "接通率: answered / offered",
    "two_ring_share": "share of answered calls answered within two rings",
    "service_level": "answered within the service-level seconds / offered",
}


class FloorCollector(Collector):
    def __init__(self, view: dict[str, Any], bridge: BridgeStats | None, ami_up: bool) -> None:
        self.view = view
        self.bridge = bridge
        self.ami_up = ami_up

    def collect(self) -> Iterator[Metric]:
        yield from _windows(self.view)
        yield from _targets(self.view["targets"])
        yield from _now(self.view)
        yield from _satisfaction(self.view)
        yield GaugeMetricFamily("hotline_ami_up", "1 when the AMI link is up and resynced", value=int(self.ami_up))
        if self.bridge is not None:
            yield from _bridge(self.bridge)


def _windows(view: dict[str, Any]) -> Iterator[Metric]:
    windows = {"today": view["today"]["total"], "24h": view["last_24h"]}
    for name, doc in _COUNTS.items():
        family = GaugeMetricFamily(f"hotline_calls_{name}", doc, labels=["window"])
        for window, figures in windows.items():
            family.add_metric([window], figures[name])
        yield family
    for name, doc in _RATIOS.items():
        family = GaugeMetricFamily(f"hotline_{name}", f"{doc} (absent while nothing was offered)", labels=["window"])
        for window, figures in windows.items():
            if figures[name] is not None:
                family.add_metric([window], figures[name])
        yield family
    per_queue = GaugeMetricFamily("hotline_queue_calls", "today's calls per queue", labels=["queue", "result"])
    for queue, figures in view["today"]["queues"].items():
        for result in ("offered", "answered", "lost"):
            per_queue.add_metric([queue, result], figures[result])
    yield per_queue
    seat_calls = GaugeMetricFamily("hotline_seat_calls", "today's calls per seat", labels=["seat", "result"])
    for seat, figures in view["today"]["seats"].items():
        for result in ("answered", "misses", "within_two_rings", "lost_ringing"):
            seat_calls.add_metric([seat, result], figures[result])
    yield seat_calls


def _targets(targets: dict[str, Any]) -> Iterator[Metric]:
    yield GaugeMetricFamily("hotline_answer_rate_target", "接通率 target over 24 h", value=targets["answer_rate"])
    yield GaugeMetricFamily("hotline_service_level_target", "service level target", value=targets["service_level"])
    yield GaugeMetricFamily("hotline_service_level_seconds", "answer within", value=targets["service_level_s"])
    yield GaugeMetricFamily("hotline_ring_limit_seconds", "two rings of the cadence", value=targets["ring_limit_s"])


def _now(view: dict[str, Any]) -> Iterator[Metric]:
    live = view["live"]
    yield GaugeMetricFamily("hotline_calls_waiting", "calls queued or ringing now", value=live["waiting"])
    yield GaugeMetricFamily("hotline_calls_talking", "calls with a seat now", value=live["talking"])
    yield GaugeMetricFamily(
        "hotline_calls_queued_no_seat", "callers queued while no seat is ready", value=live["queued_no_seat"]
    )
    seats = GaugeMetricFamily("hotline_seats", "seats per state now", labels=["state"])
    for state, count in live["seats"].items():
        seats.add_metric([state], count)
    yield seats


def _satisfaction(view: dict[str, Any]) -> Iterator[Metric]:
    if "satisfaction" not in view:
        return
    today = view["satisfaction"]["today"]
    windows = {"today": today["total"], "24h": view["satisfaction"]["last_24h"]}
    rate = GaugeMetricFamily("hotline_satisfaction_rate", "满意率: satisfied / answered surveys", labels=["window"])
    answers = GaugeMetricFamily("hotline_survey_answers", "survey results per level", labels=["window", "level"])
    for window, figures in windows.items():
        if figures["satisfaction_rate"] is not None:
            rate.add_metric([window], figures["satisfaction_rate"])
        for level, count in figures["levels"].items():
            answers.add_metric([window, level], count)
    yield rate
    yield answers
    seat_rate = GaugeMetricFamily("hotline_seat_satisfaction_rate", "today's 满意率 per seat", labels=["seat"])
    for seat, figures in today["seats"].items():
        if figures["satisfaction_rate"] is not None:
            seat_rate.add_metric([seat], figures["satisfaction_rate"])
    yield seat_rate


def _bridge(stats: BridgeStats) -> Iterator[Metric]:
    yield GaugeMetricFamily("hotline_bridge_events", "AMI events applied since start", value=stats.events)
    yield GaugeMetricFamily("hotline_bridge_resyncs", "resyncs from Asterisk since start", value=stats.resyncs)
    yield GaugeMetricFamily(
        "hotline_writebehind_pending",
        "call, seat and miss changes not yet in the database (grows while it is down)",
        value=stats.pending,
    )
    yield CounterMetricFamily("hotline_writebehind_saved", "changes saved since start", value=stats.saved)
    yield CounterMetricFamily(
        "hotline_writebehind_failures", "flushes the database refused since start (retried)", value=stats.save_failures
    )
    lags = sorted(stats.lag_ms)
    if lags:
        lag = GaugeMetricFamily(
            "hotline_bridge_event_lag_seconds", "Asterisk event time → applied, last 1000 events", labels=["quantile"]
        )
        for q in (0.5, 0.99):
            lag.add_metric([str(q)], lags[min(len(lags) - 1, int(q * len(lags)))] / 1000)
        yield lag


def render(view: dict[str, Any], bridge: BridgeStats | None, ami_up: bool) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FloorCollector(view, bridge, ami_up))
    return generate_latest(registry)
