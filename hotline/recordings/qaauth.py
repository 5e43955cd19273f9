"""QA staff login (质检员) and who may hear what.

Staff users, QA (质检员) and team leaders (班长), and the handling units' (承办单位) logins, live in a JSON
file (HOTLINE_QA_USERS_FILE, default state_dir/qa-users.json, mode 0600), added with
`hotline qa add-user NAME [--role qa|leader|unit] [--unit ID]`:
{"users": {"name": {"scrypt": "<n>$<r>$<p>$<salt hex>$<hash hex>", "label": "…", "role": "qa"}}} (no role: qa);
a unit's entry also has "unit": its id in the directory.
Passwords are hashed with scrypt (hashlib) and compared in constant time. A login gives a token signed the
same way as seat tokens (HMAC-SHA256 with state_dir/session.key, under its own prefix so a seat token can
never pass for a QA token): ``qa1.<user>.<expires>.<signature>``.

Roles: QA lists, plays and scores every recording; a seat (its seat token) hears and sees only its own
calls' recordings and scores; a team leader may flag a call for QA but not hear it; a unit hears nothing (it
reaches only its own tickets, hotline/units_portal); anyone else gets 401.
What else each role may reach: hotline/access.py. The role is read from the file at each check, so a
changed role or a removed user takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.errors import HotlineError, Kind

USER = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
_TOKEN = re.compile(r"^qa1\.([a-z][a-z0-9_-]{1,31})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
ROLES = ("qa", "leader", "unit")
User = dict[str, Any]  # an entry of the file: scrypt, label, role, and unit for a unit login


class QaAuthError(HotlineError):
    def __init__(self, kind: Kind, reason: str, message: str) -> None:
        super().__init__(message, error=reason, kind=kind)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # "qa", "leader", "unit" or "seat"
    name: str  # the staff user, or the seat number
    unit: int | None = None  # a unit login's unit (承办单位) id in the directory

    @property
    def who(self) -> str:
        return f"{self.role}:{self.name}"


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"{n}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    """Constant-time; an unknown user is checked against a dummy hash all the same."""
    try:
        n, r, p, salt, digest = (stored or f"{SCRYPT_N}$8$1${'00' * 16}${'00' * 32}").split("$")
        given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given.hex(), digest) and stored is not None


def load_users(path: Path) -> dict[str, User]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    users = data.get("users", {}) if isinstance(data, dict) else {}
    return {name: entry for name, entry in users.items() if USER.match(name) and isinstance(entry, dict)}


def role_of(entry: User) -> str:
    """The user's role: "qa" when the entry names none (files from before roles), "" for a role this version
    does not know: no rights at all (login and tokens refused), never another role's."""
    role = entry.get("role", "qa")
    return role if role in ROLES else ""


def _known_role(user: str, entry: User) -> str:
    role = role_of(entry)
    if not role:
        raise QaAuthError(
            Kind.FORBIDDEN, "unknown-role",
            f"staff user {user[:32]!r} has role {str(entry.get('role'))[:20]!r}, which this version does not know "
            f"({', '.join(sorted(ROLES))}): add the user again with `hotline qa add-user --role ...`",
        )  # fmt: skip
    return role


def unit_of(entry: User) -> int | None:
    """A unit login's unit id, or None (not a unit login, or one whose id is missing or not a whole number)."""
    unit = entry.get("unit")
    return unit if isinstance(unit, int) and not isinstance(unit, bool) and unit > 0 else None


def add_user(path: Path, name: str, password: str, label: str = "", role: str = "qa", unit: int | None = None) -> None:
    """Add or reset a user; a `unit` login needs its unit's id (whether the directory has it is the CLI's check)."""
    if not USER.match(name):
        raise ValueError(f"user name {name!r}: 2–32 lower-case letters, digits, '-' or '_', starting with a letter")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "unit" and (unit is None or unit < 1):
        raise ValueError("a unit login needs --unit ID: its handling unit's id in the directory (GET /api/units)")
    if role != "unit" and unit is not None:
        raise ValueError(f"--unit is for unit logins (--role unit), not for a {role} user")
    users = load_users(path)
    entry: User = {"scrypt": hash_password(password), "label": label, "role": role}
    if unit is not None:
        entry["unit"] = unit
    users[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps({"users": users}, ensure_ascii=False, indent=1))
    os.replace(tmp, path)
    path.chmod(0o600)


def _key(session_key: bytes) -> bytes:
    return hmac.new(session_key, b"hotline qa token v1", hashlib.sha256).digest()  # never a seat token's key


def _sig(key: bytes, payload: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()


class QaAuth:
    def __init__(self, session_key: bytes, users_file: Path, *, ttl_s: int = 12 * 3600,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.key, self.users_file, self.ttl_s, self.clock = _key(session_key), users_file, ttl_s, clock
        self._cache: tuple[tuple[int, int, int], dict[str, User]] | None = None

    def users(self) -> dict[str, User]:
        """The staff file, read again only when it changed (its mtime and size): a removed user or a changed
        role takes effect at the next request, without reading the file at every request."""
        try:
            st = self.users_file.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, load_users(self.users_file))
        return self._cache[1]

    def role(self, user: str) -> str:
        return role_of(self.users().get(user, {}))

    def unit(self, user: str) -> int | None:
        """The unit id of a unit login (None for any other user)."""
        entry = self.users().get(user, {})
        return unit_of(entry) if role_of(entry) == "unit" else None

    def login(self, user: str, password: str) -> tuple[str, int]:
        entry = self.users().get(user) if USER.match(user) else None
        if not check_password(entry.get("scrypt") if entry else None, password):
            raise QaAuthError(
                Kind.UNAUTHENTICATED, "wrong-password", f"wrong user or password for staff user {user[:32]!r}"
            )
        assert entry is not None  # the password matched an entry
        _known_role(user, entry)
        expires = int(self.clock()) + self.ttl_s
        payload = f"qa1.{user}.{expires}"
        return f"{payload}.{_sig(self.key, payload)}", expires

    def verify(self, token: str) -> Principal | None:
        """The QA principal of a QA token; None if the token is not a QA token at all; QaAuthError if it is
        one but altered or expired."""
        if not token.startswith("qa1."):
            return None
        m = _TOKEN.match(token) if len(token) <= 200 else None
        if m is None:
            raise QaAuthError(Kind.UNAUTHENTICATED, "token-invalid", "the QA login token is malformed: log in again")
        user, expires, sig = m.groups()
        if not hmac.compare_digest(_sig(self.key, f"qa1.{user}.{expires}"), sig):
            raise QaAuthError(Kind.UNAUTHENTICATED, "token-invalid", "the QA login token is not valid: log in again")
        if int(expires) <= self.clock():
            raise QaAuthError(Kind.UNAUTHENTICATED, "token-expired", "the QA login token has expired: log in again")
        entry = self.users().get(user)
        if entry is None:
            raise QaAuthError(Kind.UNAUTHENTICATED, "token-invalid", f"staff user {user} no longer exists")
        role = _known_role(user, entry)
        if role != "unit":
            return Principal(role, user)
        unit = unit_of(entry)
        if unit is None:
            raise QaAuthError(
                Kind.UNAUTHENTICATED, "token-invalid", f"unit user {user} has no unit id: add it again with --unit ID"
            )
        return Principal(role, user, unit)
