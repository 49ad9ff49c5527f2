"""Reading the transcribed upstream vectors (see vectors/README.md for where each came from)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load_json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def lines(name: str) -> Iterator[str]:
    """Non-blank lines of a verbatim upstream data file."""
    for line in (VECTORS / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield line


def ascending_pairs(ordered: Sequence[str]) -> list[tuple[str, str]]:
    """Every (lower, higher) pair of a list the upstream test declares strictly ascending."""
    return list(combinations(ordered, 2))


def assert_compares(compare: Callable[[str, str], int], a: str, b: str, expected: int) -> None:
    """`a` against `b` gives `expected`, and the reverse gives its negation."""
    assert compare(a, b) == expected, f"compare({a!r}, {b!r}) should be {expected}"
    assert compare(b, a) == -expected, f"compare({b!r}, {a!r}) should be {-expected}"
