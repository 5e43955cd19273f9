"""The demo's printed lines (hotline run --demo)."""

from __future__ import annotations

from hotline.demo.driver import describe_callback


def test_a_callback_is_printed_when_it_starts_and_ends() -> None:
    attempt = {"attempt_id": "cb-7-1", "task_id": 7, "seat": "8001"}
    assert describe_callback({**attempt, "state": "ringing"}) == (
        "  回访 callback cb-7-1 (task 7) by seat 8001: rings the seat first"
    )
    assert describe_callback({**attempt, "state": "dialing_citizen"}) is None
    assert describe_callback({**attempt, "state": "ended", "outcome": "answered"}) == (
        "  回访 callback cb-7-1 (task 7) by seat 8001: ended: answered"
    )
