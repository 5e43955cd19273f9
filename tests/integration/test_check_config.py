"""`hotline check-config`: the shipped asterisk-conf/ passes; broken copies fail with a clear reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotline.asterisk.checkconfig import project_rules, run_checks
from hotline.asterisk.provision import find_or_provision
from hotline.settings import REPO_ROOT, Settings


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    conf = tmp_path / "asterisk-conf"
    shutil.copytree(REPO_ROOT / "asterisk-conf", conf)
    text = (conf / file).read_text()
    assert old in text, f"{old!r} not in {file}: the test needs updating"
    (conf / file).write_text(text.replace(old, new, 1))
    return conf


def test_shipped_config_keeps_the_project_rules(settings: Settings) -> None:
    failed = [c for c in project_rules(settings) if c.failed]
    assert failed == []


def test_ring_timeout_that_disagrees_names_both_numbers(settings: Settings, tmp_path: Path) -> None:
    conf = broken_copy(tmp_path, "queues.conf", "timeout = 10 ", "timeout = 15 ")
    checks = {c.what: c for c in project_rules(settings.model_copy(update={"asterisk_conf": conf}))}
    ring = checks["queue ring timeout equals the ring rule"]
    assert not ring.ok and "timeout = 15" in ring.detail and "= 10 s" in ring.detail


def test_ring_rule_follows_the_settings(settings: Settings) -> None:
    three_rings = settings.model_copy(update={"ring_count": 3})
    ring = next(c for c in project_rules(three_rings) if "ring timeout" in c.what)
    assert not ring.ok and "= 15 s" in ring.detail


def test_an_outbound_trunk_in_the_citizens_context_fails(settings: Settings, tmp_path: Path) -> None:
    conf = broken_copy(tmp_path, "pjsip.conf", "context = outbound-trunk", "context = from-carrier")
    trunks = next(c for c in project_rules(settings.model_copy(update={"asterisk_conf": conf})) if "trunks" in c.what)
    assert not trunks.ok and "[trunk-out] context = from-carrier" in trunks.detail


@pytest.mark.asterisk
def test_asterisk_loads_the_shipped_config(settings: Settings) -> None:
    checks = run_checks(settings, find_or_provision(settings))
    assert [c for c in checks if c.failed] == []
    assert len(checks) > 15


@pytest.mark.asterisk
def test_asterisk_catches_a_broken_dialplan(settings: Settings, tmp_path: Path) -> None:
    conf = broken_copy(tmp_path, "extensions.conf", "\n[from-carrier]\n", "\n[from-carrier-typo]\n")
    checks = run_checks(settings.model_copy(update={"asterisk_conf": conf}), find_or_provision(settings))
    failed = {c.what for c in checks if not c.ok}
    assert "dialplan context from-carrier" in failed


@pytest.mark.asterisk
def test_a_warning_while_loading_fails_that_run_only(settings: Settings, tmp_path: Path) -> None:
    """A ';' starts a comment in extensions.conf: the cut line makes Asterisk warn while loading. The log goes
    on across runs, and the next run with a sound config passes all the same."""
    conf = broken_copy(tmp_path, "extensions.conf", "(check the identify sections))", "; check the identify sections)")
    install = find_or_provision(settings)
    checks = run_checks(settings.model_copy(update={"asterisk_conf": conf}), install)
    loading = next(c for c in checks if c.what == "no errors or warnings while loading")
    assert not loading.ok and "No closing parenthesis" in loading.detail
    assert [c for c in run_checks(settings, install) if c.failed] == []


def test_allowing_several_misses_needs_a_round_robin_strategy(settings: Settings, tmp_path: Path) -> None:
    two = settings.model_copy(update={"misses_to_pause": 2})
    moves = next(c for c in project_rules(two) if "moves on" in c.what)
    assert not moves.ok and "strategy = leastrecent" in moves.detail and "rrmemory" in moves.detail
    conf = broken_copy(tmp_path, "queues.conf", "strategy = leastrecent", "strategy = rrmemory")
    fixed = two.model_copy(update={"asterisk_conf": conf})
    assert next(c for c in project_rules(fixed) if "moves on" in c.what).ok


def test_the_calendar_warns_about_next_year_and_fails_for_this_year(settings: Settings, tmp_path: Path) -> None:
    from datetime import date

    from hotline.asterisk.checkconfig import calendar_rules

    now = {c.what: c for c in calendar_rules(settings, today=date(2026, 11, 25))}
    assert now["the working-day calendar knows 2026"].ok
    next_year = now["the working-day calendar knows 2027"]
    assert not next_year.ok and next_year.warn and not next_year.failed
    assert "[years.2027]" in next_year.detail and str(settings.workdays_file) in next_year.detail
    later = {c.what: c for c in calendar_rules(settings, today=date(2027, 1, 4))}
    assert later["the working-day calendar knows 2027"].failed  # this year unknown: deadlines are guesses
    assert all(c.ok for c in calendar_rules(settings, today=date(2025, 6, 1)))
    broken = tmp_path / "cal.toml"
    broken.write_text("[years.2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-05]\n")
    checks = list(calendar_rules(settings.model_copy(update={"workdays_file": broken}), today=date(2026, 11, 25)))
    assert [c.failed for c in checks] == [True] and "2027-01-05 is a Tuesday" in checks[0].detail


def test_check_config_prints_warnings_apart_and_passes_with_them(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from hotline import cli
    from hotline.asterisk.checkconfig import Check

    checks = [Check(True, "fine"), Check(False, "calendar knows 2027", "add [years.2027]", warn=True)]
    monkeypatch.setattr(cli, "run_checks", lambda *_: checks)
    args = argparse.Namespace(no_asterisk=True, verbose=False)
    assert cli.cmd_check_config(settings, args) == 0
    out = capsys.readouterr().out
    assert "WARN calendar knows 2027\n     add [years.2027]" in out and "1 checks passed, 0 failed, 1 warnings" in out
    monkeypatch.setattr(cli, "run_checks", lambda *_: [*checks, Check(False, "broken", "why")])
    assert cli.cmd_check_config(settings, args) == 1
    assert "FAIL broken" in capsys.readouterr().out
