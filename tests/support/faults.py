"""What the faulty registry can be told to do wrong, and which requests a rule applies to.

`Fault` values are immutable descriptions; `FaultyRegistry.inject(path_suffix, fault)` turns
one into a rule. The registry (``faulty.py``) carries them out over a real socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Fault", "FaultKind", "ResetPoint", "Rule"]


class FaultKind(StrEnum):
    WRONG_BYTES = "wrong_bytes"  # same length, every byte flipped: the digest will not match
    TRUNCATE = "truncate"  # Content-Length N, N/2 bytes, then the connection closes
    STALL_BODY = "stall_body"  # headers sent, then nothing
    STALL = "stall"  # request read, never answered (or answered after ``delay``)
    TOO_MANY_REQUESTS = "too_many_requests"  # 429 with Retry-After
    STATUS = "status"  # an error status (500 by default), e.g. ``times=k`` then success
    NOT_FOUND = "not_found"  # 404 with the OCI error body for the path
    TRICKLE = "trickle"  # the honest body, ``piece`` bytes every ``interval`` seconds
    RESET = "reset"  # a TCP RST (SO_LINGER 0) at ``reset_at``
    ENDLESS_ERROR = "endless_error"  # an error status whose chunked body never ends


class ResetPoint(StrEnum):
    BEFORE_STATUS = "before_status"  # the request was read; not a byte of the answer sent
    AFTER_HEADERS = "after_headers"  # status line and headers sent, no body byte
    MID_BODY = "mid_body"  # half the body sent


# Faults that change a body: a HEAD has none, so they leave HEAD requests alone.
_BODY_FAULTS = frozenset({FaultKind.WRONG_BYTES, FaultKind.TRUNCATE, FaultKind.STALL_BODY, FaultKind.TRICKLE})


@dataclass(frozen=True)
class Fault:
    """What to do to matching requests; ``times`` limits it to the first N (None: always)."""

    kind: FaultKind
    times: int | None = None
    status: int = 500
    statuses: tuple[int, ...] = ()  # STATUS: cycle through these instead of ``status``
    retry_after: int | None = 1
    delay: float | None = None  # STALL only: answer normally after this many seconds
    methods: frozenset[str] | None = None  # None: any method
    piece: int = 64  # TRICKLE: bytes per write
    interval: float = 0.05  # TRICKLE: seconds between writes
    reset_at: ResetPoint = ResetPoint.BEFORE_STATUS

    @classmethod
    def wrong_bytes(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.WRONG_BYTES, times)

    @classmethod
    def truncate(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.TRUNCATE, times)

    @classmethod
    def stall_body(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.STALL_BODY, times)

    @classmethod
    def stall(cls, times: int | None = None, delay: float | None = None) -> Fault:
        return cls(FaultKind.STALL, times, delay=delay)

    @classmethod
    def too_many_requests(cls, retry_after: int | None = 1, times: int | None = None) -> Fault:
        """429; ``retry_after=None`` sends no Retry-After header at all."""
        return cls(FaultKind.TOO_MANY_REQUESTS, times, status=429, retry_after=retry_after)

    @classmethod
    def error(cls, status: int = 500, times: int | None = 1) -> Fault:
        return cls(FaultKind.STATUS, times, status=status)

    @classmethod
    def storm(cls, statuses: tuple[int, ...] = (500, 502, 503), times: int | None = None) -> Fault:
        """Every matching request fails, the statuses taking turns (a 5xx storm)."""
        return cls(FaultKind.STATUS, times, status=statuses[0], statuses=statuses)

    @classmethod
    def not_found(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.NOT_FOUND, times, status=404)

    @classmethod
    def endless_error(cls, status: int = 500, times: int | None = None) -> Fault:
        return cls(FaultKind.ENDLESS_ERROR, times, status=status)

    @classmethod
    def trickle(cls, piece: int = 64, interval: float = 0.05, times: int | None = None) -> Fault:
        return cls(FaultKind.TRICKLE, times, piece=piece, interval=interval)

    @classmethod
    def reset(cls, at: ResetPoint = ResetPoint.BEFORE_STATUS, times: int | None = None) -> Fault:
        return cls(FaultKind.RESET, times, reset_at=at)

    @property
    def changes_body(self) -> bool:
        if self.kind is FaultKind.RESET:
            return self.reset_at is not ResetPoint.BEFORE_STATUS
        return self.kind in _BODY_FAULTS

    def status_for(self, hit: int) -> int:
        """The status of the ``hit``-th matching request (0-based)."""
        return self.statuses[hit % len(self.statuses)] if self.statuses else self.status


@dataclass
class Rule:
    path_suffix: str
    fault: Fault
    hits: int = 0

    def applies(self, method: str, path: str) -> bool:
        fault = self.fault
        if not path.endswith(self.path_suffix):
            return False
        if fault.methods is not None and method not in fault.methods:
            return False
        if method == "HEAD" and fault.changes_body:
            return False  # a HEAD has no body to corrupt
        return fault.times is None or self.hits < fault.times
