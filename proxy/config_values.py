"""Human-friendly setting values: sizes (`20GiB`) and durations (`5m`), as pydantic types."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = ["Duration", "PositiveDuration", "Size"]

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b?|b)?\s*", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*")
_DURATION_UNITS = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_size(value: Any) -> Any:
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not a size (examples: 500MiB, 20GiB, 1000000)")
        unit = (match.group(2) or "").lower().removesuffix("b")
        return int(float(match.group(1)) * _SIZE_UNITS[unit])
    return value


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (examples: 300, 30s, 5m, 1h, 7d)")
        return float(match.group(1)) * _DURATION_UNITS[match.group(2) or ""]
    return value


Size = Annotated[int, BeforeValidator(_parse_size), Field(ge=0)]
Duration = Annotated[float, BeforeValidator(_parse_duration), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(_parse_duration), Field(gt=0)]
