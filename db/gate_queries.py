"""Conventions the gate's stores share: their base error, UTC handling and page cursors.

The gate's queries are split by concept: `db.policy_queries` (rules and the policy version),
`db.decision_queries` (decisions and the quarantine queue), `db.audit_queries` (the audit
log) and `db.token_queries` (admin API tokens). Each store is a class over an
`async_sessionmaker`, like `db.queries.MetadataStore`, and hands out frozen dataclasses or
`proxy.policy.model` values, never ORM objects.

Times are stored in UTC. SQLite keeps a timezone-aware column as text without its offset,
so a value must be converted to UTC *before* it is written (or compared) and is handed
back naive: `to_db` and `from_db` do the two halves.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = [
    "InvalidCursor",
    "StoreError",
    "decode_cursor",
    "encode_cursor",
    "from_db",
    "now",
    "page_size",
    "to_db",
]


class StoreError(Exception):
    """Base of the errors the gate's stores raise for requests they refuse."""


class InvalidCursor(StoreError, ValueError):
    """A page cursor that this store did not hand out (or that was altered)."""

    def __init__(self) -> None:
        super().__init__("invalid page cursor")


def now() -> datetime:
    return datetime.now(UTC)


def to_db(value: datetime) -> datetime:
    """`value` in UTC, as it must be written; a naive value is taken to be UTC already."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def from_db(value: datetime) -> datetime:
    """A stored time, timezone-aware (SQLite returns it naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def page_size(limit: int) -> int:
    """`limit`, if it is a usable page size (a page of nothing has no last row to resume after)."""
    if limit < 1:
        raise ValueError(f"a page holds at least one row, not {limit}")
    return limit


def encode_cursor(parts: Sequence[str | int]) -> str:
    """An opaque, URL-safe page cursor holding the sort key of the last row handed out."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type[str] | type[int]]) -> list[str | int]:
    """The parts `encode_cursor` packed, checked against the expected types.

    Raises InvalidCursor for anything else, so a bad query parameter is a client error.
    """
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor from exc
    # bool is an int to isinstance; a cursor never holds one.
    if not isinstance(parts, list) or len(parts) != len(kinds):
        raise InvalidCursor
    if any(type(part) is not kind for part, kind in zip(parts, kinds, strict=True)):
        raise InvalidCursor
    return parts
