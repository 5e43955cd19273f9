"""QA scoring (质检评分) against the hotline's service standards, and the error-rate reports. Pure.

A score sheet has each standard pass or fail with a comment (a comment is required for a fail), and an
overall result. A call counts as an error (差错) when any standard failed or the overall result is 不合格;
质检差错率 = calls with an error ÷ calls scored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from hotline.errors import Invalid

STANDARDS: tuple[tuple[str, str], ...] = (
    ("opening", "开头语"),
    ("closing", "结束语"),
    ("polite", "文明规范用语"),
    ("tone", "语气语调语速"),
    ("mandarin", "吐字清晰/普通话"),
    ("accuracy", "业务准确"),
    ("process", "执行流程"),
)
STANDARD_KEYS = tuple(k for k, _ in STANDARDS)
OVERALL = ("合格", "不合格")
MAX_COMMENT = 500


class ScoreInvalid(Invalid, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


@dataclass(frozen=True, slots=True)
class Item:
    passed: bool
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Sheet:
    items: dict[str, Item]
    overall: str
    comment: str = ""

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(k for k in STANDARD_KEYS if not self.items[k].passed)

    @property
    def error(self) -> bool:
        return bool(self.failed) or self.overall == "不合格"

    def to_json(self) -> dict[str, Any]:
        return {
            "items": {k: {"passed": v.passed, "comment": v.comment} for k, v in self.items.items()},
            "overall": self.overall,
            "comment": self.comment,
        }


def _comment(value: Any, field_name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise ScoreInvalid(field_name, f"a text of at most {MAX_COMMENT} characters")
    return value.strip()


def parse_sheet(body: Mapping[str, Any]) -> Sheet:
    """A sheet from the form's JSON: {"items": {"opening": {"passed": true, "comment": ""}, ...},
    "overall": "合格", "comment": ""}. Every standard is required; a fail needs a comment."""
    raw = body.get("items")
    if not isinstance(raw, dict):
        raise ScoreInvalid("items", f"required: each of {', '.join(STANDARD_KEYS)} with passed and comment")
    unknown = sorted(set(raw) - set(STANDARD_KEYS))
    if unknown:
        raise ScoreInvalid(f"items.{unknown[0]}", f"not a standard (the standards: {', '.join(STANDARD_KEYS)})")
    items = {}
    for key, label in STANDARDS:
        entry = raw.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("passed"), bool):
            raise ScoreInvalid(f"items.{key}", f"{label}: passed must be true or false")
        comment = _comment(entry.get("comment"), f"items.{key}.comment")
        if not entry["passed"] and not comment:
            raise ScoreInvalid(f"items.{key}.comment", f"{label}: a fail needs a comment saying what was wrong")
        items[key] = Item(entry["passed"], comment)
    overall = body.get("overall")
    if overall not in OVERALL:
        raise ScoreInvalid("overall", f"one of {', '.join(OVERALL)}")
    return Sheet(items, overall, _comment(body.get("comment"), "comment"))


def sheet_from_json(data: Mapping[str, Any]) -> Sheet:
    items = {k: Item(bool(v["passed"]), v.get("comment", "")) for k, v in data["items"].items()}
    return Sheet(items, data["overall"], data.get("comment", ""))


# ------------------------------------------------------------------ reports
Period = Literal["week", "month"]


def period_start(day: date, period: Period) -> date:
    """Monday of the ISO week, or the first of the month."""
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


@dataclass(frozen=True, slots=True)
class Scored:
    call_id: str
    seat: str
    day: date
    sheet: Sheet | None  # None: sampled, not scored yet


@dataclass
class Line:
    key: str  # seat or team
    period: date
    sampled: int = 0
    scored: int = 0
    errors: int = 0  # calls with an error
    by_standard: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STANDARD_KEYS, 0))

    @property
    def error_rate(self) -> float | None:
        return None if self.scored == 0 else self.errors / self.scored

    def to_json(self) -> dict[str, Any]:
        rate = self.error_rate
        return {
            "key": self.key, "period": self.period.isoformat(), "sampled": self.sampled, "scored": self.scored,
            "errors": self.errors, "by_standard": dict(self.by_standard),
            "error_rate": None if rate is None else round(rate, 4),
        }  # fmt: skip


def report(rows: Iterable[Scored], period: Period, group: Mapping[str, str] | None = None) -> list[Line]:
    """Lines per (seat, period), or per (team, period) when `group` maps seats to teams (others: 未分组)."""
    lines: dict[tuple[str, date], Line] = {}
    for row in rows:
        key = row.seat if group is None else group.get(row.seat, "未分组")
        start = period_start(row.day, period)
        line = lines.setdefault((key, start), Line(key, start))
        line.sampled += 1
        if row.sheet is None:
            continue
        line.scored += 1
        line.errors += row.sheet.error
        for k in row.sheet.failed:
            line.by_standard[k] += 1
    return [lines[k] for k in sorted(lines, key=lambda k: (k[1], k[0]))]


def teams_by_seat(teams: Mapping[str, Iterable[str]]) -> dict[str, str]:
    out: dict[str, str] = defaultdict(str)
    for team, seats in teams.items():
        for seat in seats:
            out[seat] = team
    return dict(out)


def local_day(at: datetime, zone: Any) -> date:
    return at.astimezone(zone).date()
