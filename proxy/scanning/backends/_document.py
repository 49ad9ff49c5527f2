"""Defensive reading of scanner documents (JSON from a subprocess or an adapter).

A scanner's output is untrusted input: every field is type-checked where it is read, and
anything unexpected raises `Malformed` naming the field, which the backend turns into a
permanent `ScannerError` ("the output is garbled"), never into a clean report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Malformed",
    "age_seconds",
    "as_list",
    "as_object",
    "as_text",
    "load_json",
    "optional_number",
    "summary",
]

_MAX_SUMMARY = 500


class Malformed(ValueError):
    """The document does not have the documented shape; the message names the field."""


def load_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Malformed(f"{what} is not JSON: {error}") from None
    except RecursionError:
        raise Malformed(f"{what} nests too deeply") from None


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{where} is not an object")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    """A JSON array; null or absent counts as empty (Go writes nil slices as null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where} is not an array")
    return value


def as_text(value: Any, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise Malformed(f"{where} is not a string")
    return value


def optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    # bool is an int subclass; true is not a score.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{where} is not a number")
    return float(value)


def summary(*candidates: str) -> str:
    """The first non-empty candidate, first line only, capped: reports quote it, not store essays."""
    for text in candidates:
        line = text.strip().split("\n", 1)[0].strip()
        if line:
            return line if len(line) <= _MAX_SUMMARY else line[: _MAX_SUMMARY - 1] + "…"
    return ""


def age_seconds(timestamp: str) -> int | None:
    """Seconds since an RFC 3339 timestamp a scanner reported; None when it cannot tell."""
    try:
        then = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return int((datetime.now(UTC) - then).total_seconds()) if then.tzinfo else None
