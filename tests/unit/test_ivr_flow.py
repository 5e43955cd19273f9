"""The IVR's pure parts: key collection, survey levels, expected wait, call-back numbers, AGI replies."""

from __future__ import annotations

import pytest

from ivr.agi import parse_headers, parse_reply, quote
from ivr.flow import (
    Step,
    callback_number_of,
    collect_step,
    expected_wait_s,
    ivr_choices,
    offer_callback,
    survey_label,
)


@pytest.mark.parametrize(
    ("key", "attempt", "step"),
    [("1", 1, Step.CHOSEN), ("9", 1, Step.RETRY), ("", 1, Step.RETRY), ("", 3, Step.GIVE_UP), ("2", 3, Step.CHOSEN),
     ("9", 3, Step.GIVE_UP)],
)  # fmt: skip
def test_collect_never_strands_the_caller(key: str, attempt: int, step: Step) -> None:
    assert collect_step(key, {"1", "2"}, attempt, 3) is step


@pytest.mark.parametrize(
    ("key", "scale", "label"),
    [("1", 5, "非常满意"), ("2", 5, "满意"), ("3", 5, "基本满意"), ("4", 5, "不满意"), ("5", 5, "非常不满意"),
     ("1", 3, "满意"), ("3", 3, "不满意"), ("4", 3, None), ("0", 5, None), ("", 5, None), ("#", 5, None)],
)  # fmt: skip
def test_survey_levels(key: str, scale: int, label: str | None) -> None:
    assert survey_label(key, scale) == label


def test_expected_wait_and_the_offer() -> None:
    assert expected_wait_s(free=1, ready=3, waiting=5, handle_s=180) == 0
    assert expected_wait_s(free=0, ready=0, waiting=0, handle_s=180) is None
    assert expected_wait_s(free=0, ready=2, waiting=3, handle_s=180) == 360
    assert offer_callback(None, 120) and offer_callback(360, 120) and not offer_callback(0, 120)
    assert not offer_callback(None, 0), "0 turns the offer off"


@pytest.mark.parametrize(
    ("caller", "number"),
    [("13900139000", "13900139000"), ("+8613900139000", "13900139000"), ("8613900139000", "13900139000"),
     ("01088886666", "01088886666"), ("88886666", "88886666"), ("anonymous", None), ("12345", None)],
)  # fmt: skip
def test_callback_number_of_the_caller(caller: str, number: str | None) -> None:
    assert callback_number_of(caller) == number


def test_agi_replies_and_headers() -> None:
    assert parse_reply("200 result=49").result == "49"
    r = parse_reply("200 result=1 (PJSIP/8001)")
    assert (r.code, r.result, r.data) == (200, "1", "PJSIP/8001")
    assert parse_reply("200 result= (timeout)").data == "timeout"
    assert parse_reply("511 Command Not Permitted on a dead channel or intercepted channel").code == 511
    headers = parse_headers(["agi_request: agi://127.0.0.1:4573/inbound", "agi_callerid: 139", "junk"])
    assert headers == {"request": "agi://127.0.0.1:4573/inbound", "callerid": "139"}
    assert quote('a "b"\n') == '"a \\"b\\" "'
    assert ivr_choices("粤语", "", "回电/继续") == "粤语/回电／继续"
