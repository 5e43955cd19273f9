"""A handling unit's login (承办单位): a user of the staff file with role `unit` and its unit's id, made with
`hotline qa add-user NAME --role unit --unit ID` (refused for an id the directory does not have)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.cli import parser
from hotline.db.store import Store
from hotline.errors import Kind
from hotline.recordings.cli import cmd_qa
from hotline.recordings.qaauth import Principal, QaAuth, QaAuthError, add_user, load_users
from hotline.settings import Settings, load_settings
from hotline.tickets.model import Category, Unit
from hotline.tickets.unitstore import UnitDirectory

KEY = b"0123456789abcdef0123456789abcdef"


def test_a_unit_login_carries_its_unit(tmp_path: Path) -> None:
    users = tmp_path / "staff.json"
    add_user(users, "dh-unit", "unit-password", "东湖区住建局值班", role="unit", unit=3)
    add_user(users, "qa-li", "qa-password")
    auth = QaAuth(KEY, users)
    token, _ = auth.login("dh-unit", "unit-password")
    assert auth.verify(token) == Principal("unit", "dh-unit", 3)
    assert (auth.role("dh-unit"), auth.unit("dh-unit"), auth.unit("qa-li")) == ("unit", 3, None)
    qa, _ = auth.login("qa-li", "qa-password")
    assert auth.verify(qa) == Principal("qa", "qa-li")  # QA and leaders as before: no unit


@pytest.mark.parametrize(
    ("role", "unit", "message"),
    [
        ("unit", None, "a unit login needs --unit ID"),
        ("unit", 0, "a unit login needs --unit ID"),
        ("qa", 3, "--unit is for unit logins (--role unit), not for a qa user"),
        ("leader", 3, "--unit is for unit logins (--role unit), not for a leader user"),
    ],
)
def test_a_unit_and_its_id_go_together(tmp_path: Path, role: str, unit: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        add_user(tmp_path / "staff.json", "someone", "password-1", role=role, unit=unit)


def test_a_unit_entry_without_its_id_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "staff.json"
    add_user(users, "dh-unit", "unit-password", role="unit", unit=3)
    auth = QaAuth(KEY, users)
    token, _ = auth.login("dh-unit", "unit-password")
    data = json.loads(users.read_text())
    del data["users"]["dh-unit"]["unit"]  # edited by hand
    users.write_text(json.dumps(data))
    with pytest.raises(QaAuthError, match="has no unit id: add it again with --unit ID"):
        auth.verify(token)


def settings_in(tmp_path: Path) -> Settings:
    return load_settings({"HOTLINE_STATE_DIR": str(tmp_path)})


async def a_unit(settings: Settings) -> int:
    store = await Store.open(settings.effective_database_url)
    try:
        directory = UnitDirectory(store.engine, lambda: datetime.now(UTC))
        unit = await directory.add(Unit(None, "东湖区住建局", "东湖区", ("057186102000",), (Category.HELP,)))
    finally:
        await store.close()
    assert unit.id is not None
    return unit.id


def add_user_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("unit-password\n"))
    return cmd_qa(settings, parser().parse_args(["qa", "add-user", *argv]))


async def test_the_cli_adds_a_unit_login_for_a_unit_of_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_in(tmp_path)
    unit_id = await a_unit(settings)
    # cmd_qa runs its own event loop for the directory check: run it off this test's loop
    code = await asyncio.to_thread(add_user_cli, settings, monkeypatch, "dh-unit", "--role", "unit", "--unit",
                                   str(unit_id))  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"staff user dh-unit (unit of unit {unit_id} 东湖区住建局) saved" in out.out
    assert load_users(settings.qa_users_path)["dh-unit"]["unit"] == unit_id

    code = await asyncio.to_thread(add_user_cli, settings, monkeypatch, "xx-unit", "--role", "unit", "--unit", "99")
    out = capsys.readouterr()
    assert code == 1
    assert "--unit 99: no handling unit with this id in the directory" in out.err
    assert "xx-unit" not in load_users(settings.qa_users_path)

    code = await asyncio.to_thread(add_user_cli, settings, monkeypatch, "yy-unit", "--role", "unit")
    assert code == 1 and "a unit login needs --unit ID" in capsys.readouterr().err


def test_a_role_this_version_does_not_know_gets_nothing(tmp_path: Path) -> None:
    """A users file written by a newer version (or by hand) with a role not known here: the login and its
    tokens are refused, never treated as QA (which could list and play every recording)."""
    users = tmp_path / "staff.json"
    add_user(users, "au-wang", "auditor-password", role="leader")
    auth = QaAuth(KEY, users)
    token, _ = auth.login("au-wang", "auditor-password")
    data = json.loads(users.read_text())
    data["users"]["au-wang"]["role"] = "auditor"
    users.write_text(json.dumps(data))
    for attempt in (lambda: auth.login("au-wang", "auditor-password"), lambda: auth.verify(token)):
        with pytest.raises(QaAuthError, match="role 'auditor', which this version does not know") as err:
            attempt()
        assert (err.value.kind, err.value.error) == (Kind.FORBIDDEN, "unknown-role")  # answered 403
    assert auth.role("au-wang") == ""
