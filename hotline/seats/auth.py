"""Seat login: a seat proves who it is with its phone's SIP password and gets a signed token.

POST /api/session  {"seat": "8001", "password": "..."}  -> {"seat", "token", "expires_at"}
GET  /api/session  (the token as `?token=` or `Authorization: Bearer`) -> {"seat", "expires_at"}: is it still good?

The password is the seat's SIP password (hotline.asterisk.instance.seat_passwords: the one on its
phone). Tokens (tokens.py) are signed with a key kept in state_dir/session.key (created on first use,
mode 0600); changing the key logs every seat out. The seat's websocket (/ws/seats/{seat}) requires
the token of that seat; what else needs which login: hotline/access.py.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from ami_bridge.seat_control import SeatInputError, check_seat

from ..api import ApiError, json_body
from ..asterisk.instance import seat_passwords
from ..settings import Settings
from . import tokens

log = logging.getLogger(__name__)

KEY_FILE = "session.key"


def session_key(state_dir: Path) -> bytes:
    """The token signing key: state_dir/session.key, made once (32 random bytes, hex, mode 0600)."""
    path = state_dir / KEY_FILE
    if path.exists():
        text = path.read_text().strip()
        if len(text) >= 32:
            return text.encode()
        log.warning("%s is too short to be a key; making a new one (every seat must log in again)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")
    return value.encode()


class SeatAuth:
    def __init__(
        self,
        key: bytes,
        passwords: Mapping[str, str],
        *,
        ttl_s: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key, self.passwords, self.ttl_s, self.clock = key, passwords, ttl_s, clock

    @classmethod
    def from_settings(cls, settings: Settings) -> SeatAuth:
        return cls(session_key(settings.state_dir), seat_passwords(settings), ttl_s=settings.seat_session_s)

    def login(self, seat: str, password: str) -> tuple[str, int]:
        """(token, expires) for the right password; ApiError 401 wrong-password if not."""
        if not tokens.password_matches(self.passwords.get(seat), password):
            raise ApiError(401, "wrong-password", f"wrong password for seat {seat} (the SIP password of its phone)",
                           seat=seat)  # fmt: skip
        expires = int(self.clock()) + self.ttl_s
        return tokens.sign(self.key, seat, expires), expires

    def check(self, token: str | None, seat: str | None = None) -> tokens.Claims:
        """The token's claims (for `seat` when given); ApiError 401 (missing, invalid, expired) or 403 (other seat)."""
        if not token:
            raise ApiError(401, "token-missing", "log in first: this needs the seat's login token", seat=seat)
        try:
            if seat is None:
                return tokens.verify(self.key, token, self.clock())
            return tokens.verify_for(self.key, token, seat, self.clock())
        except tokens.TokenError as exc:
            raise ApiError(403 if exc.reason == "token-other-seat" else 401, exc.reason, str(exc), seat=seat) from None


def token_of(request: web.Request) -> str | None:
    """The token a request carries: `?token=` (websockets from a browser), else `Authorization: Bearer`."""
    if token := request.query.get("token"):
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


SEAT_AUTH: web.AppKey[SeatAuth] = web.AppKey("seat_auth", SeatAuth)


async def create_session(request: web.Request) -> web.Response:
    body = await json_body(request)
    seat, password = body.get("seat"), body.get("password")
    if not isinstance(seat, str):
        raise ApiError(400, "invalid-input", "seat: required, the seat's extension such as 8001", field="seat")
    try:
        seat = check_seat(seat)
    except SeatInputError as exc:
        raise ApiError(400, "invalid-input", str(exc), field="seat") from None
    if not isinstance(password, str) or not password:
        raise ApiError(400, "invalid-input", "password: required, the SIP password of the seat's phone",
                       field="password")  # fmt: skip
    try:
        token, expires = request.app[SEAT_AUTH].login(seat, password)
    except ApiError:
        log.warning("seat %s: login refused (wrong password) from %s", seat, request.remote)
        raise
    log.info("seat %s: logged in from %s, token until %s", seat, request.remote, _iso(expires))
    return web.json_response({"seat": seat, "token": token, "expires_at": _iso(expires)})


async def get_session(request: web.Request) -> web.Response:
    claims = request.app[SEAT_AUTH].check(token_of(request))
    return web.json_response({"seat": claims.seat, "expires_at": _iso(claims.expires)})


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def add_routes(app: web.Application, auth: SeatAuth) -> None:
    app[SEAT_AUTH] = auth
    app.router.add_post("/api/session", create_session)
    app.router.add_get("/api/session", get_session)
