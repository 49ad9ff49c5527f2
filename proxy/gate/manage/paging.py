"""Pages of results with opaque cursors, one shape for every list the admin API returns.

A cursor is the sort key of the last item handed out, packed by `db.gate_queries` into an
opaque URL-safe string: callers may only hand it back. Stores that page by themselves (the
audit log) hand out their own cursors; the rest are packed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from db.gate_queries import InvalidCursor, decode_cursor, encode_cursor
from proxy.gate.manage.errors import AdminError, AdminErrorKind

__all__ = ["Page", "bad_cursor", "cursor_id", "cursor_text", "pack", "page_of"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page


def bad_cursor(exc: InvalidCursor) -> AdminError:
    return AdminError(AdminErrorKind.INVALID, f"{exc}: pass back a next_cursor unchanged", field="cursor")


def cursor_id(cursor: str | None) -> int | None:
    """The integer key packed in `cursor`, if any (raises AdminError for a foreign cursor)."""
    if cursor is None:
        return None
    try:
        (value,) = decode_cursor(cursor, (int,))
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    return int(value)


def cursor_text(cursor: str | None) -> str | None:
    """The string key packed in `cursor`, if any (raises AdminError for a foreign cursor)."""
    if cursor is None:
        return None
    try:
        (value,) = decode_cursor(cursor, (str,))
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    return str(value)


def pack(key: str | int | None) -> str | None:
    """The opaque cursor for a page that ends at the item with sort key `key` (None: last page)."""
    return None if key is None else encode_cursor([key])


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], str | int]) -> Page[T]:
    """A page from `rows` fetched with one row more than `limit` (that row says "more follow")."""
    items = list(rows[:limit])
    return Page(items, pack(key(items[-1])) if len(rows) > limit else None)
