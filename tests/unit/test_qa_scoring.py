"""QA scoring and reports (pure), and the QA login (hashes, tokens): tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hotline.recordings.qaauth import QaAuth, QaAuthError, add_user, check_password, hash_password, load_users
from hotline.recordings.scoring import STANDARD_KEYS, Scored, ScoreInvalid, parse_sheet, period_start, report
from hotline.seats import tokens as seat_tokens

ALL_PASS = {k: {"passed": True, "comment": ""} for k in STANDARD_KEYS}


def sheet_body(**fails: str) -> dict[str, Any]:
    items = {k: dict(v) for k, v in ALL_PASS.items()}
    for k, comment in fails.items():
        items[k] = {"passed": False, "comment": comment}
    return {"items": items, "overall": "不合格" if fails else "合格"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "items"),
        ({"items": {}, "overall": "合格"}, "items.opening"),
        ({"items": {**ALL_PASS, "opening": {"passed": "yes"}}, "overall": "合格"}, "items.opening"),
        ({"items": {**ALL_PASS, "tone": {"passed": False, "comment": "  "}}, "overall": "合格"}, "items.tone.comment"),
        ({"items": {**ALL_PASS, "smile": {"passed": True}}, "overall": "合格"}, "items.smile"),
        ({"items": ALL_PASS, "overall": "良好"}, "overall"),
        ({"items": ALL_PASS, "overall": "合格", "comment": "x" * 501}, "comment"),
        (
            {"items": {**ALL_PASS, "closing": {"passed": True, "comment": 5}}, "overall": "合格"},
            "items.closing.comment",
        ),
    ],
)
def test_invalid_sheets_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ScoreInvalid) as err:
        parse_sheet(body)
    assert err.value.field == field


@pytest.mark.parametrize(
    "body, failed, error",
    [
        (sheet_body(), (), False),
        (sheet_body(tone="语速过快"), ("tone",), True),
        (sheet_body(opening="未报工号", process="未复述"), ("opening", "process"), True),
        ({"items": ALL_PASS, "overall": "不合格", "comment": "态度"}, (), True),  # overall alone is an error
    ],
)
def test_sheets(body: dict[str, Any], failed: tuple[str, ...], error: bool) -> None:
    sheet = parse_sheet(body)
    assert sheet.failed == failed and sheet.error is error
    assert parse_sheet(sheet.to_json()) == sheet


@pytest.mark.parametrize(
    "day, period, start",
    [(date(2026, 12, 3), "week", date(2026, 11, 30)), (date(2026, 11, 30), "week", date(2026, 11, 30)),
     (date(2026, 12, 6), "week", date(2026, 11, 30)), (date(2026, 12, 31), "month", date(2026, 12, 1))],
)  # fmt: skip
def test_period_start(day: date, period: Any, start: date) -> None:
    assert period_start(day, period) == start


def test_report_per_seat_and_team_per_week() -> None:
    ok, tone, two = (parse_sheet(sheet_body()), parse_sheet(sheet_body(tone="快")),
                     parse_sheet(sheet_body(tone="快", accuracy="错")))  # fmt: skip
    rows = [
        Scored("a", "8001", date(2026, 11, 30), ok), Scored("b", "8001", date(2026, 12, 1), tone),
        Scored("c", "8001", date(2026, 12, 2), None), Scored("d", "8002", date(2026, 12, 2), two),
        Scored("e", "8001", date(2026, 12, 8), ok),
    ]  # fmt: skip
    lines = [x.to_json() for x in report(rows, "week")]
    assert [(x["key"], x["period"], x["sampled"], x["scored"], x["errors"], x["error_rate"]) for x in lines] == [
        ("8001", "2026-11-30", 3, 2, 1, 0.5), ("8002", "2026-11-30", 1, 1, 1, 1.0),
        ("8001", "2026-12-07", 1, 1, 0, 0.0),
    ]  # fmt: skip
    assert lines[1]["by_standard"]["tone"] == 1 and lines[1]["by_standard"]["accuracy"] == 1
    teams = report(rows, "month", {"8001": "一组"})
    assert [(x.key, x.period, x.sampled, x.scored, x.errors, x.error_rate) for x in teams] == [
        ("一组", date(2026, 11, 1), 1, 1, 0, 0.0), ("一组", date(2026, 12, 1), 3, 2, 1, 0.5),
        ("未分组", date(2026, 12, 1), 1, 1, 1, 1.0),
    ]  # fmt: skip
    assert report([Scored("x", "8001", date(2026, 12, 1), None)], "week")[0].error_rate is None


def test_passwords_are_hashed_and_checked_in_constant_time() -> None:
    stored = hash_password("correct horse", n=2**10)
    assert stored.count("$") == 4 and "correct" not in stored
    assert check_password(stored, "correct horse")
    assert not check_password(stored, "correct horsE")
    assert not check_password(None, "anything")
    assert not check_password("garbage", "x")


def test_qa_tokens(tmp_path: Path) -> None:
    users = tmp_path / "qa-users.json"
    add_user(users, "qa-li", "long enough pw", "李")
    assert oct(users.stat().st_mode & 0o777) == "0o600" and set(load_users(users)) == {"qa-li"}
    with pytest.raises(ValueError):
        add_user(users, "../x", "long enough pw")
    with pytest.raises(ValueError):
        add_user(users, "qa-wang", "short")
    now = [1_800_000_000.0]
    auth = QaAuth(b"k" * 64, users, ttl_s=3600, clock=lambda: now[0])
    token, expires = auth.login("qa-li", "long enough pw")
    assert expires == 1_800_003_600
    who = auth.verify(token)
    assert who is not None and (who.role, who.name, who.who) == ("qa", "qa-li", "qa:qa-li")
    for bad_login in (("qa-li", "wrong"), ("nobody", "long enough pw"), ("../etc", "x")):
        with pytest.raises(QaAuthError):
            auth.login(*bad_login)
    # a seat token is not a QA token (None: the caller then checks it as a seat's); a forged one is refused
    assert auth.verify(seat_tokens.sign(b"k" * 64, "8001", 1_900_000_000)) is None
    user, exp, sig = token.split(".")[1:]
    for forged in (f"qa1.qa-admin.{exp}.{sig}", f"qa1.{user}.{int(exp) + 9999}.{sig}", token[:-2] + "AA", "qa1.x"):
        with pytest.raises(QaAuthError):
            auth.verify(forged)
    other_key = QaAuth(b"j" * 64, users, clock=lambda: now[0])
    with pytest.raises(QaAuthError):
        other_key.verify(token)
    now[0] += 3601
    with pytest.raises(QaAuthError, match="expired"):
        auth.verify(token)
