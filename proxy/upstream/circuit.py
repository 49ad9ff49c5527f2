"""One upstream's circuit breaker, and the pause it asked for with Retry-After.

Retries are bounded per request, but during an outage every new request still costs the
upstream 1 + `retries` attempts and its client the backoff before the error (or before a
known tag is served stale). The breaker stops that: after `failures` consecutive attempts
that failed in a way a retry could help with (timeouts, refused or reset connections, 5xx),
it *opens* and for `open_for` seconds every request fails at once without reaching the
upstream. Then it is *half-open*: one request goes through as a trial; its success closes
the circuit, its failure opens it again. Any answer from the upstream (a 404 included)
counts as success: the upstream is there.

A 429 or 503 with Retry-After *holds* the upstream for that long (at most `hold_max`):
meanwhile requests are answered at once with the time the upstream asked for that is left,
instead of each asking again and being told the same. A short pause is waited out by the
retry policy like a short Retry-After always was; a long one is passed on, even when the
hold itself was cut to `hold_max`.

State is per replica and in memory; it is observable through `status()` (the admin API's
upstream list and the metrics read it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

from proxy.upstream.errors import UpstreamError, UpstreamErrorKind

__all__ = ["Circuit", "CircuitState", "CircuitStatus"]

_COUNTED = frozenset({UpstreamErrorKind.TIMEOUT, UpstreamErrorKind.UNAVAILABLE})
_HOLDING_STATUSES = frozenset({429, 503})


class CircuitState(Enum):
    CLOSED = "closed"  # requests go through
    OPEN = "open"  # requests fail at once until the open period ends
    HALF_OPEN = "half_open"  # one trial request is under way; the others fail at once
    DISABLED = "disabled"  # the breaker is switched off (failures: 0)


@dataclass(frozen=True, slots=True)
class CircuitStatus:
    state: CircuitState
    consecutive_failures: int
    retry_in: float | None  # seconds until a trial is let through (open) or the hold ends
    held_for: float | None  # seconds left of a Retry-After hold, if any
    opened: int  # times the circuit opened since start
    rejected: int  # requests answered without asking the upstream, since start
    last_error: str | None


class Circuit:
    """The breaker for one upstream; ``failures=0`` disables it (holds still apply)."""

    def __init__(
        self,
        upstream: str,
        *,
        failures: int,
        open_for: float,
        hold_max: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._upstream = upstream
        self._threshold = failures
        self._open_for = open_for
        self._hold_max = hold_max
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None  # set while open or half-open
        self._trial = False  # a half-open trial is under way
        self._hold_until = 0.0
        self._asked_until = 0.0  # what the upstream asked for; the hold may be shorter
        self._hold_kind = UpstreamErrorKind.RATE_LIMITED
        self._opened = 0
        self._rejected = 0
        self._last_error: str | None = None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Around one attempt: refuse it when open or held, learn from how it ends."""
        trial = self._admit()
        try:
            yield
        except UpstreamError as err:
            self._failed(err, trial)
            raise
        except BaseException:
            if trial:  # cancelled: no evidence either way, let another request try
                self._trial = False
            raise
        self._succeeded()

    def status(self) -> CircuitStatus:
        now = self._clock()
        held = self._hold_until - now if self._hold_until > now else None
        return CircuitStatus(
            state=self._state(now),
            consecutive_failures=self._failures,
            retry_in=self._retry_in(now),
            held_for=held,
            opened=self._opened,
            rejected=self._rejected,
            last_error=self._last_error,
        )

    # -- transitions ----------------------------------------------------------------------
    def _admit(self) -> bool:
        """Whether this attempt is the half-open trial; raises when it may not go out."""
        now = self._clock()
        if now < self._hold_until:
            self._rejected += 1
            raise self._held_error(self._asked_until - now)
        state = self._state(now)
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._trial):
            self._rejected += 1
            raise self._open_error(now)
        if state is CircuitState.HALF_OPEN:
            self._trial = True
            return True
        return False

    def _succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def _failed(self, err: UpstreamError, trial: bool) -> None:
        if err.retry_after is not None and err.status in _HOLDING_STATUSES:
            now = self._clock()
            self._hold_until = now + min(err.retry_after, self._hold_max)
            self._asked_until = now + err.retry_after
            self._hold_kind = err.kind
        if err.kind not in _COUNTED:
            if trial or not err.temporary:  # the upstream answered: it is there
                self._succeeded()
            return
        self._failures += 1
        self._last_error = err.message
        if self._threshold and (trial or self._failures >= self._threshold):
            if self._opened_at is None or trial:
                self._opened += 1
            self._opened_at = self._clock()
            self._trial = False

    # -- reading ----------------------------------------------------------------------------
    def _state(self, now: float) -> CircuitState:
        if not self._threshold:
            return CircuitState.DISABLED
        if self._opened_at is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if now - self._opened_at < self._open_for else CircuitState.HALF_OPEN

    def _retry_in(self, now: float) -> float | None:
        if self._hold_until > now:
            return self._hold_until - now
        if self._opened_at is not None and now - self._opened_at < self._open_for:
            return self._opened_at + self._open_for - now
        return None

    def _held_error(self, left: float) -> UpstreamError:
        asked = "is rate limiting" if self._hold_kind is UpstreamErrorKind.RATE_LIMITED else "is unavailable"
        return UpstreamError(
            self._upstream,
            self._hold_kind,
            f"{asked} and asked to wait (Retry-After); not asked again for {math.ceil(left)}s",
            status=429 if self._hold_kind is UpstreamErrorKind.RATE_LIMITED else 503,
            retry_after=left,
        )

    def _open_error(self, now: float) -> UpstreamError:
        left = self._retry_in(now)
        when = f"next attempt in {math.ceil(left)}s" if left is not None else "a trial request is under way"
        return UpstreamError(
            self._upstream,
            UpstreamErrorKind.UNAVAILABLE,
            f"circuit open after {self._failures} consecutive failures, not asked ({when}); "
            f"last failure: {self._last_error}",
            retry_after=left,
            circuit_open=True,
        )
