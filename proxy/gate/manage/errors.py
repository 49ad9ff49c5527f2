"""What the admin service refuses, in its own terms; the HTTP layer picks the status.

The stores raise their own errors (RuleNotFound, InvalidTransition, InvalidCursor, ...);
the HTTP layer may not import them (import contracts), and should not have to know every
store to answer an admin. So the service turns each into one `AdminError` of a few kinds.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AdminError", "AdminErrorKind", "not_found"]


class AdminErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the request collides with the current state (duplicate id, final review)
    PRECONDITION_FAILED = "precondition_failed"  # If-Match named a revision that is not current
    INVALID = "invalid"  # a well-formed request whose value cannot be used (names `field`)
    BUSY = "busy"  # the content is being served or filled right now
    NOT_CONFIGURED = "not_configured"  # this server lacks the setting the request needs (a key ring)


class AdminError(Exception):
    def __init__(self, kind: AdminErrorKind, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def not_found(what: str) -> AdminError:
    return AdminError(AdminErrorKind.NOT_FOUND, f"no {what}")
