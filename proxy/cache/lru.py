"""A small bounded LRU map, sized by entry count or by a byte budget."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["LRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, budget: int, weigh: Callable[[V], int] = lambda _v: 1) -> None:
        self._budget = budget
        self._weigh = weigh
        self._items: OrderedDict[K, V] = OrderedDict()
        self._used = 0

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        if weight > self._budget:
            return  # larger than the whole budget: never worth keeping
        self.pop(key)
        self._items[key] = value
        self._used += weight
        while self._used > self._budget:
            _, evicted = self._items.popitem(last=False)
            self._used -= self._weigh(evicted)

    def pop(self, key: K) -> V | None:
        value = self._items.pop(key, None)
        if value is not None:
            self._used -= self._weigh(value)
        return value

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._items if predicate(k)]:
            self.pop(key)

    def __len__(self) -> int:
        return len(self._items)
