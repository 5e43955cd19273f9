"""Seat login tokens, pure: the key and the time come from the caller.

    token = "v1.<seat>.<expires>.<signature>"

`expires` is in epoch seconds; `signature` is HMAC-SHA256(key, "v1.<seat>.<expires>"), base64url
without padding. The signature is checked (in constant time) before anything in the token is trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from ..errors import Unauthenticated

VERSION = "v1"
MAX_TOKEN = 200  # longer input is refused before any work
_SHAPE = re.compile(r"^v1\.(\d{3,6})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


class TokenError(Unauthenticated):
    """A token that does not let its bearer in; `reason` is the API's stable error id."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, error=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Claims:
    seat: str
    expires: int  # epoch seconds


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(key: bytes, seat: str, expires: int) -> str:
    payload = f"{VERSION}.{seat}.{expires}"
    return f"{payload}.{_signature(key, payload)}"


def verify(key: bytes, token: str, now: float) -> Claims:
    """The token's claims if it is ours and not expired; TokenError (token-invalid, token-expired) if not."""
    match = _SHAPE.match(token) if len(token) <= MAX_TOKEN else None
    if match is None:
        raise TokenError("token-invalid", "the login token is malformed: log in again")
    seat, expires, signature = match.groups()
    if not hmac.compare_digest(_signature(key, f"{VERSION}.{seat}.{expires}"), signature):
        raise TokenError("token-invalid", "the login token is not valid (altered, or another key's): log in again")
    if int(expires) <= now:
        raise TokenError("token-expired", "the login token has expired: log in again")
    return Claims(seat, int(expires))


def verify_for(key: bytes, token: str, seat: str, now: float) -> Claims:
    """As verify, and the token must be `seat`'s (TokenError token-other-seat if not)."""
    claims = verify(key, token, now)
    if not hmac.compare_digest(claims.seat.encode(), seat.encode()):
        raise TokenError("token-other-seat", f"this login token is for seat {claims.seat}, not seat {seat}")
    return claims


def password_matches(expected: str | None, given: str) -> bool:
    """Constant-time comparison; an unknown seat (expected None) is compared against a dummy all the same."""
    ok = hmac.compare_digest((expected or "\x00unknown-seat").encode(), given.encode())
    return ok and expected is not None
