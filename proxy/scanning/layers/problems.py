"""A layer's problems, bounded: a hostile layer could otherwise make one for every entry."""

from __future__ import annotations

__all__ = ["Problems"]


class Problems:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: list[str] = []
        self._dropped = 0

    def add(self, problem: str) -> None:
        if len(self._items) < self._limit:
            self._items.append(problem)
        else:
            self._dropped += 1

    def result(self) -> tuple[str, ...]:
        if self._dropped:
            return (*self._items, f"limit reached: {self._dropped} more problems not recorded")
        return tuple(self._items)
