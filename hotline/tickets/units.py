"""The directory of handling units (承办单位) that ops keep as a YAML or CSV file.

YAML (``hotline/data/units.yaml`` is the sample)::

    units:
      - name: 市住房和城乡建设局
        area: 市直                       # or the county/district: 东湖区
        phones: [0571-87001200]
        categories: [投诉举报, 求助]      # the kinds of matter it takes; left out: any
        topics: [物业, 房屋维修]          # what seats search by
        hours: 周一至周五 8:30-17:30

CSV: a header ``name,area,phones,categories,topics,hours``, lists split by ``;`` or ``、``.

Every problem is reported with the file and the line (all of them, not only the first), and a
file with any problem loads nothing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from ..errors import Invalid
from . import validate
from .model import Unit
from .validate import UNIT_FIELDS, InvalidInput

MAX_REPORTED = 20
Row = tuple[int, Any, dict[str, int]]  # line, what the line holds, the line of each of its keys


class UnitFileError(Invalid, ValueError):
    """The units file cannot be read; the message names the file, each line and each field."""

    error = "units-file-invalid"


def load_units(path: Path) -> list[Unit]:
    if path.suffix not in (".yaml", ".yml", ".csv"):
        raise UnitFileError(f"{path}: a units file ends in .yaml, .yml or .csv")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a CSV saved by Excel starts with a BOM
    except FileNotFoundError:
        raise UnitFileError(f"{path}: no such units file (HOTLINE_UNITS_FILE)") from None
    except UnicodeDecodeError as exc:
        raise UnitFileError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from None
    if path.suffix in (".yaml", ".yml"):
        return parse_yaml(text, str(path))
    return parse_csv(text, str(path))


def parse_yaml(text: str, name: str = "units.yaml") -> list[Unit]:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise UnitFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("units"), list):
        raise UnitFileError(f"{name}: the file must hold `units:` followed by a list of units (see the sample)")
    assert isinstance(root, yaml.MappingNode)
    items = next(v for k, v in root.value if k.value == "units")
    rows: list[Row] = []
    for entry, node in zip(data["units"], items.value, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(entry, dict):
            rows.append((line, entry, {}))
            continue
        keys = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
        rows.append((line, {k: _plain(v) for k, v in entry.items()}, keys))
    return _check(name, rows)


def _plain(value: Any) -> Any:
    """YAML reads 8:30 or a phone number without quotes as numbers: keep what ops wrote as text."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def parse_csv(text: str, name: str = "units.csv") -> list[Unit]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in UNIT_FIELDS]
    missing = [h for h in ("name", "area", "phones") if h not in header]
    if unknown or missing:
        raise UnitFileError(
            f"{name}:1: the header must name the columns {','.join(UNIT_FIELDS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    rows: list[Row] = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        if None in row:
            rows.append((reader.line_num, {"extra columns": row[None]}, {}))
            continue
        rows.append((reader.line_num, {k: v for k, v in row.items() if v and v.strip()}, {}))
    return _check(name, rows)


def _check(name: str, rows: list[Row]) -> list[Unit]:
    units: list[Unit] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, entry, key_lines in rows:
        if not isinstance(entry, dict):
            errors.append(f"{name}:{line}: a unit must be a mapping of name, area, phones ..., not {entry!r}")
            continue
        label = f"unit {entry.get('name')!r}" if entry.get("name") else "a unit"
        try:
            unit = validate.unit(entry)
        except InvalidInput as exc:
            for problem in exc.problems:
                errors.append(
                    f"{name}:{key_lines.get(problem.field, line)}: {label}: {problem.field}: {problem.message}"
                )
            continue
        if unit.name in seen:
            errors.append(f"{name}:{line}: {label}: the same name as the unit on line {seen[unit.name]}")
            continue
        seen[unit.name] = line
        units.append(unit)
    if errors:
        more = f"\n  ... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise UnitFileError(
            f"{len(errors)} problem(s) in the units file:\n  " + "\n  ".join(errors[:MAX_REPORTED]) + more
        )
    if not units:
        raise UnitFileError(f"{name}: no units in the file")
    return units
