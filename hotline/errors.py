"""One error family: every error a user or a caller of the API can be told about derives from `HotlineError`.

An error carries a stable id (``error``: what a page or a script keys on, never reworded), a message that says
what was wrong in words a seat or ops can act on, details (the field, the ids, the allowed choices) and a `Kind`.
The domain says only the kind; the one place that knows HTTP (`hotline/api.py` `errors`, the app's outermost
middleware) turns the kind into a status. Errors of the layers below (`ami_bridge`, which imports nothing from
here) are mapped there too, by class.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Kind(StrEnum):
    """What went wrong, as the domain sees it (api.py maps each to one HTTP status)."""

    INVALID = "invalid"  # the input is wrong: say which field and why
    UNAUTHENTICATED = "unauthenticated"  # no login, or it expired
    FORBIDDEN = "forbidden"  # logged in, but this role or this seat may not
    NOT_FOUND = "not-found"
    CONFLICT = "conflict"  # right input, wrong moment: the thing is not in a state that allows it
    GONE = "gone"  # it was here and is no more (a purged recording)
    TOO_MANY = "too-many"  # slow down (logins)
    UNAVAILABLE = "unavailable"  # a part we need is down (Asterisk, the database): try again
    UPSTREAM = "upstream"  # a part we need refused (Asterisk said no)
    BROKEN = "broken"  # our own fault (a route with no access rule): a bug to report


class HotlineError(Exception):
    """The base of every error the product reports. Subclasses set `error` and `kind`; an instance may name a
    more precise id (``error=``) when one class covers several cases."""

    error: ClassVar[str] = "error"
    kind: ClassVar[Kind] = Kind.INVALID

    def __init__(self, message: str, *, error: str | None = None, kind: Kind | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if error is not None:
            self.error = error  # type: ignore[misc]  # the instance's own id shadows the class's
        if kind is not None:
            self.kind = kind  # type: ignore[misc]

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "details": self.details}


class Invalid(HotlineError):
    """Bad input: the message names the field and what it must be."""

    error = "invalid-input"
    kind = Kind.INVALID


class NotFound(HotlineError):
    error = "not-found"
    kind = Kind.NOT_FOUND


class Conflict(HotlineError):
    error = "conflict"
    kind = Kind.CONFLICT


class IllegalTransition(Conflict):
    """A state machine refused an event in its present state (a ticket, a 回访 task, a three-way attempt)."""

    error = "illegal-transition"


class Forbidden(HotlineError):
    error = "forbidden"
    kind = Kind.FORBIDDEN


class Unauthenticated(HotlineError):
    error = "login-required"
    kind = Kind.UNAUTHENTICATED


class Unavailable(HotlineError):
    error = "unavailable"
    kind = Kind.UNAVAILABLE
    part: ClassVar[str] = "service"  # which part is missing, as /health names it (database, bus, asterisk, ...)
