"""A short-lived memory of successful verifications, so a secret is slow-hashed once, not per request.

Trade-off: with a cache, a revocation or rotation made on *another* replica is honoured
only when the entry expires (`auth.cache_ttl`) — robots are re-checked against
`RobotStates` on every hit, which narrows that to `pull_auth.revocation_check_interval` —
while on this replica `forget_owner` drops the entries at once. Without one, every blob
request of a client using Basic auth (and every admin API call) would pay a 32 MiB scrypt.

Entries are keyed by an HMAC of the presented secret under a key made at start-up and
never stored: the cache holds no secret, and its keys are useless to anyone who reads the
process memory without that key. Only successes are cached, so failures cannot fill it;
the number of entries is bounded all the same (least recently used go first).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["CredentialCache"]

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    owner: str
    value: V
    until: float


class CredentialCache(Generic[V]):
    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, _Entry[V]] = OrderedDict()

    def key(self, *presented: str) -> bytes:
        """The cache key of a credential (its parts, e.g. user and secret)."""
        joined = "\0".join(presented).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, joined, hashlib.sha256).digest()

    def get(self, key: bytes) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.until <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: bytes, owner: str, value: V) -> None:
        if self._ttl <= 0:
            return
        self._entries[key] = _Entry(owner, value, self._clock() + self._ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget_owner(self, owner: str) -> None:
        """Drop every entry of one token or robot (revoked or rotated here)."""
        for key in [key for key, entry in self._entries.items() if entry.owner == owner]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
