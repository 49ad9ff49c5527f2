"""What a scenario hands back, and helpers several scenarios share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.report import Row

__all__ = ["ScenarioResult", "rotated"]

T = TypeVar("T")


@dataclass
class ScenarioResult:
    rows: list[Row]
    data: dict[str, Any] = field(default_factory=dict)


def rotated(items: Sequence[T], rep: int) -> list[T]:
    """``items`` starting at ``rep``: interleaving the servers spreads slow drift over all of them."""
    shift = rep % len(items)
    return [*items[shift:], *items[:shift]]
