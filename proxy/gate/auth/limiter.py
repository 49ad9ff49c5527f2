"""A limit on failed authentications per client address, shared by /v2, the token endpoint
and the admin API.

Each address has a bucket of `max_failures` that every failure empties by one and that
refills evenly over `window`; while it holds less than one, the address is refused (429)
before its credentials are even looked at, so guessing costs the guesser time and costs
pullgate nothing. Successes neither count nor refill: a caller holding one valid
credential cannot use it to keep guessing others.

The limiter lives in memory, per replica (built in `proxy.app`): behind a load balancer
spreading one client over N replicas the effective limit is N times the setting. Memory is
bounded: at most `max_addresses` are tracked, the least recently failing forgotten first
(a flood from many addresses can make the limiter forget one, never grow without end).
IPv6 addresses are counted per /64, the block one host usually controls.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FailureLimiter"]


@dataclass(slots=True)
class _Bucket:
    level: float  # failures still allowed (fractional while refilling)
    at: float  # when `level` was computed


class FailureLimiter:
    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(max_failures)
        self._rate = max_failures / window  # refill per second
        self._max = max_addresses
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def retry_after(self, address: str | None) -> int | None:
        """Seconds until `address` may try again, or None if it may now."""
        bucket = self._current(_client(address))
        if bucket is None or bucket.level >= 1.0:
            return None
        return max(1, math.ceil((1.0 - bucket.level) / self._rate))

    def failed(self, address: str | None) -> None:
        client = _client(address)
        bucket = self._current(client) or _Bucket(self._capacity, self._clock())
        bucket.level = max(0.0, bucket.level - 1.0)
        self._buckets[client] = bucket
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)

    def _current(self, client: str) -> _Bucket | None:
        bucket = self._buckets.get(client)
        if bucket is None:
            return None
        now = self._clock()
        bucket.level = min(self._capacity, bucket.level + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.level >= self._capacity:  # full again: nothing left to remember
            del self._buckets[client]
            return None
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


def _client(address: str | None) -> str:
    if not address:
        return "-"  # a Unix socket or an unknown peer: one shared bucket
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
