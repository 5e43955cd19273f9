"""The one Chinese working-day calendar of the hotline: ticket deadlines and the 回访 dialer use it.

A day is a working day unless it is a statutory holiday, and a Saturday or Sunday is one only when
it is a 调休 make-up working day. Each year's schedule comes from

- the calendar file kept in the repository (``hotline/data/cn-workdays.toml``, setting
  ``HOTLINE_WORKDAYS_FILE``): ops add next year's schedule when the State Council publishes it
  (usually in November). A year listed there replaces the library's data for that year whole;
- the ``chinesecalendar`` library (its data runs 2004–2026 in 1.11.0; it raises for later years,
  so its coverage is read from its own tables, never guessed).

A year that neither knows is *unknown*: its days count Monday–Friday, and every deadline that
touches it is marked provisional. Nothing passes silently: ``hotline check-config`` warns about
next year and fails for this year, the service logs it at start, and ``GET /api/calendar`` shows it.

"Within N working days" means by the end (``HOTLINE_WORKDAY_END``, 18:00) of the Nth working day
after the day of the reply, in ``HOTLINE_TIMEZONE``; a reply on a holiday or a weekend therefore
counts from the next working day. N = 0 means at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from .errors import Invalid

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "cn-workdays.toml"
LIBRARY = f"chinesecalendar {chinese_calendar.__version__}"


class CalendarError(Invalid, ValueError):
    """The calendar file cannot be read, or says something a calendar cannot mean."""

    error = "calendar-invalid"


@dataclass(frozen=True, slots=True)
class YearSchedule:
    year: int
    holidays: frozenset[date]  # statutory days off, weekends inside a holiday included
    workdays: frozenset[date]  # 调休: a Saturday or Sunday that is a working day
    source: str


@dataclass(frozen=True, slots=True)
class Deadline:
    at: datetime
    provisional: bool  # some day counted lies in a year the calendar does not know: Monday–Friday assumed

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "provisional": self.provisional}


def library_years() -> dict[int, YearSchedule]:
    """What chinesecalendar knows, year by year (every year between its first and last holiday)."""
    first = min(chinese_calendar.holidays).year
    last = max(chinese_calendar.holidays).year
    out: dict[int, YearSchedule] = {}
    for year in range(first, last + 1):
        out[year] = YearSchedule(
            year,
            frozenset(d for d in chinese_calendar.holidays if d.year == year),
            frozenset(d for d in chinese_calendar.workdays if d.year == year),
            LIBRARY,
        )
    return out


def load_file(path: Path) -> dict[int, YearSchedule]:
    """Read the calendar file: ``[years.2026]`` tables with ``holidays`` and ``workdays`` date lists."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalendarError(f"{path}: no such calendar file (HOTLINE_WORKDAYS_FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: not valid TOML: {exc}") from None
    years = data.get("years", {})
    if not isinstance(years, dict):
        raise CalendarError(f"{path}: 'years' must be a table of [years.YYYY] tables")
    out: dict[int, YearSchedule] = {}
    for key, table in years.items():
        if not (key.isdigit() and len(key) == 4):
            raise CalendarError(f"{path}: [years.{key}]: the key must be a year such as [years.2027]")
        out[int(key)] = _year(path, key, table)
    return out


def _year(path: Path, key: str, table: Any) -> YearSchedule:
    where = f"{path}: [years.{key}]"
    if not isinstance(table, dict):
        raise CalendarError(f"{where}: must be a table with holidays = [...] and workdays = [...]")
    unknown = sorted(set(table) - {"holidays", "workdays", "source"})
    if unknown:
        raise CalendarError(f"{where}: unknown key {unknown[0]!r}; the keys are holidays, workdays and source")
    year = int(key)
    days = {name: _dates(where, name, table.get(name, []), year) for name in ("holidays", "workdays")}
    if not days["holidays"]:
        raise CalendarError(f"{where}: holidays is empty; a year's schedule always has statutory holidays")
    both = sorted(days["holidays"] & days["workdays"])
    if both:
        raise CalendarError(f"{where}: {both[0]} is listed both as a holiday and as a make-up working day")
    weekday = sorted(d for d in days["workdays"] if d.weekday() < 5)
    if weekday:
        raise CalendarError(
            f"{where}: workdays: {weekday[0]} is a {weekday[0].strftime('%A')}; only a Saturday or Sunday can be "
            "a 调休 make-up working day"
        )
    return YearSchedule(year, days["holidays"], days["workdays"], str(table.get("source", path.name)))


def _dates(where: str, name: str, values: Any, year: int) -> frozenset[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: {name} must be a list of dates like {year}-01-01")
    for value in values:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CalendarError(f"{where}: {name}: {value!r} is not a date; write dates bare, like {year}-01-01")
        if value.year != year:
            raise CalendarError(f"{where}: {name}: {value} is not in {year}")
    return frozenset(values)


class WorkCalendar:
    """Working days and deadlines. Pure: no clock of its own, no I/O after loading."""

    def __init__(
        self,
        years: Mapping[int, YearSchedule],
        *,
        zone: ZoneInfo | None = None,
        day_end: time = time(18, 0),
        file: Path | None = None,
    ) -> None:
        self.years = dict(years)
        self.zone = zone or ZoneInfo("Asia/Shanghai")
        self.day_end = day_end
        self.file = file

    @classmethod
    def load(
        cls,
        path: Path = DEFAULT_FILE,
        *,
        zone: ZoneInfo | None = None,
        day_end: time = time(18, 0),
        library: bool = True,
    ) -> WorkCalendar:
        """The library's years, then the file's on top (the file wins for a year it lists)."""
        years = library_years() if library else {}
        years.update(load_file(path))
        return cls(years, zone=zone, day_end=day_end, file=path)

    # ------------------------------------------------------------------ what it knows
    def knows(self, year: int) -> bool:
        return year in self.years

    def known_years(self) -> list[int]:
        return sorted(self.years)

    def unknown_years(self, dates: Iterable[date]) -> list[int]:
        """The years among `dates` (dates or datetimes) that the calendar has no schedule for."""
        return sorted({d.year for d in dates if not self.knows(d.year)})

    def source(self, year: int) -> str | None:
        schedule = self.years.get(year)
        return schedule.source if schedule else None

    def describe_unknown(self, year: int) -> str:
        """What to tell ops about a year nobody knows: the consequence and the file to extend."""
        last = max(self.years) if self.years else None
        return (
            f"{year} is in neither {LIBRARY} (known up to {last}) nor {self.file}: deadlines that fall in {year} "
            f"count Monday–Friday only and are marked provisional. When the State Council publishes the {year} "
            f"schedule (usually in November), add [years.{year}] to {self.file} or upgrade chinesecalendar."
        )

    # ------------------------------------------------------------------ days
    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            day = day.astimezone(self.zone).date()
        schedule = self.years.get(day.year)
        if schedule is None:
            return day.weekday() < 5  # unknown year: Monday–Friday, and the deadline says provisional
        if day in schedule.workdays:
            return True
        return day.weekday() < 5 and day not in schedule.holidays

    def add_working_days(self, day: date, n: int) -> date:
        """The nth working day after `day` (n = 0: `day` itself)."""
        if n < 0:
            raise ValueError(f"n must be 0 or more working days, not {n}")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def next_working_day(self, day: date) -> date:
        for _ in range(60):  # the longest break (Spring Festival) is 9 days
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise CalendarError(f"no working day within 60 days after {day}: the calendar file is wrong")

    def deadline(self, start: datetime, n: int) -> Deadline:
        """By the end of the nth working day after the day of `start` (n = 0: at once)."""
        if start.tzinfo is None:
            raise ValueError(f"refusing a naive datetime {start!r}: pass a timezone-aware time")
        local = start.astimezone(self.zone)
        if n == 0:
            return Deadline(start, not self.knows(local.year))
        last = self.add_working_days(local.date(), n)
        at = datetime.combine(last, self.day_end, tzinfo=self.zone)
        provisional = any(not self.knows(y) for y in range(local.year, last.year + 1))
        return Deadline(at, provisional)

    def status(self, today: date) -> dict[str, Any]:
        """For the team leader's view and the log: what is known, and this year or next if not."""
        ahead = [y for y in (today.year, today.year + 1) if not self.knows(y)]
        return {
            "known_years": self.known_years(),
            "file": str(self.file) if self.file else None,
            "library": LIBRARY,
            "workday_end": self.day_end.strftime("%H:%M"),
            "timezone": self.zone.key,
            "unknown_years_ahead": ahead,
            "warnings": [self.describe_unknown(y) for y in ahead],
        }


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """'09:00-12:00,14:00-18:00' → windows; raises ValueError naming the bad part."""
    out: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            start, end = (time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            raise ValueError(f"{part!r} is not a window like 09:00-12:00") from None
        if not start < end:
            raise ValueError(f"{part!r}: the window must start before it ends")
        if out and start < out[-1][1]:
            raise ValueError(f"{part!r}: windows must be in order and not overlap")
        out.append((start, end))
    if not out:
        raise ValueError("no calling window: give at least one, like 09:00-12:00")
    return tuple(out)
