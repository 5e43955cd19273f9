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
    failed = [c for c in project_rules(settings) if not c.ok]
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


@pytest.mark.asterisk
def test_asterisk_loads_the_shipped_config(settings: Settings) -> None:
    checks = run_checks(settings, find_or_provision(settings))
    assert [c for c in checks if not c.ok] == []
    assert len(checks) > 15


@pytest.mark.asterisk
def test_asterisk_catches_a_broken_dialplan(settings: Settings, tmp_path: Path) -> None:
    conf = broken_copy(tmp_path, "extensions.conf", "\n[from-carrier]\n", "\n[from-carrier-typo]\n")
    checks = run_checks(settings.model_copy(update={"asterisk_conf": conf}), find_or_provision(settings))
    failed = {c.what for c in checks if not c.ok}
    assert "dialplan context from-carrier" in failed


def test_allowing_several_misses_needs_a_round_robin_strategy(settings: Settings, tmp_path: Path) -> None:
    two = settings.model_copy(update={"misses_to_pause": 2})
    moves = next(c for c in project_rules(two) if "moves on" in c.what)
    assert not moves.ok and "strategy = leastrecent" in moves.detail and "rrmemory" in moves.detail
    conf = broken_copy(tmp_path, "queues.conf", "strategy = leastrecent", "strategy = rrmemory")
    fixed = two.model_copy(update={"asterisk_conf": conf})
    assert next(c for c in project_rules(fixed) if "moves on" in c.what).ok
