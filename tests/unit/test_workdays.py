"""The Chinese working-day calendar: holidays, 调休 days, deadlines, unknown years, the calendar file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from hotline.workdays import DEFAULT_FILE, CalendarError, WorkCalendar, library_years, load_file

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load()


def at(text: str) -> datetime:
    """A Beijing time, e.g. at("2026-09-30 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-09-30", True),  # Wednesday before 国庆节
        ("2026-10-01", False),  # 国庆节
        ("2026-10-07", False),  # 国庆节, a Wednesday
        ("2026-10-08", True),  # Thursday after
        ("2026-10-10", True),  # Saturday: 调休 make-up working day
        ("2026-10-11", False),  # Sunday
        ("2026-09-20", True),  # Sunday: 调休 make-up working day
        ("2026-09-25", False),  # 中秋节, a Friday
        ("2026-11-25", True),  # an ordinary Wednesday
        ("2026-11-28", False),  # an ordinary Saturday
        ("2026-02-14", True),  # Saturday before 春节: 调休
        ("2026-02-16", False),  # 春节
        ("2027-01-01", True),  # unknown year: counted Monday–Friday (and every deadline there is provisional)
        ("2027-01-02", False),  # unknown year, a Saturday
    ],
)
def test_working_days(day: str, working: bool) -> None:
    assert CAL.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "n", "due", "provisional"),
    [
        # across the 2026 National Day holiday (1–7 October) and its 调休 Saturday (10 October)
        ("2026-09-30 10:00", 1, "2026-10-08 18:00", False),
        ("2026-09-30 10:00", 2, "2026-10-09 18:00", False),
        ("2026-09-30 10:00", 3, "2026-10-10 18:00", False),  # the make-up Saturday is a working day
        ("2026-09-30 10:00", 4, "2026-10-12 18:00", False),
        ("2026-09-30 10:00", 10, "2026-10-20 18:00", False),  # a complaint dispatched before the holiday
        # a reply on a holiday or a weekend counts from the next working day
        ("2026-10-03 15:00", 1, "2026-10-08 18:00", False),
        ("2026-11-28 09:00", 1, "2026-11-30 18:00", False),
        ("2026-10-10 10:00", 1, "2026-10-12 18:00", False),  # on the 调休 Saturday: Monday is the next
        ("2026-09-18 10:00", 1, "2026-09-20 18:00", False),  # Friday: the 调休 Sunday is day 1
        ("2026-09-18 10:00", 2, "2026-09-21 18:00", False),
        # late in the evening still counts from the next day
        ("2026-11-25 23:30", 1, "2026-11-26 18:00", False),
        # late December already reaches the unknown 2027: Monday–Friday, provisional
        ("2026-12-28 10:00", 3, "2026-12-31 18:00", False),
        ("2026-12-28 10:00", 4, "2027-01-01 18:00", True),
        ("2026-12-28 10:00", 5, "2027-01-04 18:00", True),
        ("2027-03-01 10:00", 2, "2027-03-03 18:00", True),
    ],
)
def test_deadlines(start: str, n: int, due: str, provisional: bool) -> None:
    deadline = CAL.deadline(at(start), n)
    assert deadline.at == at(due)
    assert deadline.provisional is provisional


def test_deadlines_are_counted_in_beijing_time() -> None:
    # 17:00 UTC on 25 November is 01:00 on the 26th in Beijing: the count starts from the 26th
    deadline = CAL.deadline(datetime(2026, 11, 25, 17, 0, tzinfo=UTC), 1)
    assert deadline.at == at("2026-11-27 18:00")
    assert deadline.at.astimezone(UTC) == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_the_end_of_a_working_day_is_a_setting() -> None:
    early = WorkCalendar.load(day_end=time(17, 30))
    assert early.deadline(at("2026-09-30 10:00"), 1).at == at("2026-10-08 17:30")


def test_at_once_is_the_start_itself() -> None:
    assert CAL.deadline(at("2026-10-01 03:00"), 0).at == at("2026-10-01 03:00")
    assert CAL.deadline(at("2027-01-01 03:00"), 0).provisional


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.deadline(datetime(2026, 11, 25, 10, 0), 1)


def test_known_and_unknown_years() -> None:
    assert CAL.known_years()[0] == 2004 and 2026 in CAL.known_years() and not CAL.knows(2027)
    dates = [date(2026, 12, 31), datetime(2027, 1, 4, tzinfo=SH), date(2028, 5, 1), date(2027, 2, 1)]
    assert CAL.unknown_years(dates) == [2027, 2028]
    status = CAL.status(date(2026, 11, 25))
    assert status["unknown_years_ahead"] == [2027]
    assert "2027" in status["warnings"][0] and "cn-workdays.toml" in status["warnings"][0]
    assert CAL.status(date(2025, 6, 1))["warnings"] == []


def test_the_library_raises_for_2027_so_we_never_ask_it() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    assert max(library_years()) == 2026


def test_the_shipped_file_agrees_with_the_library_for_2026() -> None:
    # the file's 2026 is the worked example for ops: a typo in it must fail here
    ours = load_file(DEFAULT_FILE)[2026]
    theirs = library_years()[2026]
    assert (ours.holidays, ours.workdays) == (theirs.holidays, theirs.workdays)
    assert 2027 not in load_file(DEFAULT_FILE)  # not published when the file was written: never guessed


def test_the_file_wins_over_the_library(tmp_path: Path) -> None:
    # synthetic schedules, for the test only (not real holidays)
    file = tmp_path / "cal.toml"
    file.write_text(
        "[years.2026]\nholidays = [2026-01-01, 2026-11-26]\nworkdays = []\n"
        "[years.2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-09]\n"
    )
    cal = WorkCalendar.load(file)
    assert not cal.is_working_day(date(2026, 11, 26))  # the file's extra holiday
    assert cal.is_working_day(date(2026, 10, 1))  # the file replaces the library's 2026 whole
    assert cal.deadline(at("2026-11-25 10:00"), 1).at == at("2026-11-27 18:00")
    assert cal.knows(2027) and not cal.is_working_day(date(2027, 1, 1)) and cal.is_working_day(date(2027, 1, 9))
    over_new_year = cal.deadline(at("2026-12-31 10:00"), 1)
    assert over_new_year.at == at("2027-01-04 18:00") and not over_new_year.provisional


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[years.2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-05]\n", "2027-01-05 is a Tuesday"),
        ("[years.2027]\nholidays = [2026-01-01]\n", "2026-01-01 is not in 2027"),
        ("[years.2027]\nholidays = [2027-01-02]\nworkdays = [2027-01-02]\n", "both as a holiday"),
        ("[years.2027]\nholidays = ['2027-01-01']\n", "is not a date"),
        ("[years.2027]\nholidays = [2027-01-01]\nholiday = []\n", "unknown key 'holiday'"),
        ("[years.2027]\nworkdays = [2027-01-09]\n", "holidays is empty"),
        ("[years.27]\nholidays = [2027-01-01]\n", "must be a year"),
        ("[years.2027\n", "not valid TOML"),
    ],
)
def test_a_wrong_calendar_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "cal.toml"
    file.write_text(text)
    with pytest.raises(CalendarError, match=message) as err:
        load_file(file)
    assert str(file) in str(err.value)


def test_a_missing_calendar_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="HOTLINE_WORKDAYS_FILE"):
        WorkCalendar.load(tmp_path / "nope.toml")
