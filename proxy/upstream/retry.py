"""Retrying temporary upstream failures: exponential backoff with jitter, honouring Retry-After.

Only idempotent requests are retried, and only while nothing has been handed to the caller:
the retried operation covers sending the request and, for small documents, reading the body;
for a blob, reading its first chunk; a blob stream that fails after that is never retried
here (its bytes may already be on their way to clients). An open circuit is not retried:
the breaker would refuse again until its open period ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from proxy.settings import UpstreamClientSettings
from proxy.upstream.errors import UpstreamError

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int
    backoff_initial: float
    backoff_max: float
    retry_after_max: float

    @classmethod
    def from_settings(cls, settings: UpstreamClientSettings) -> RetryPolicy:
        return cls(settings.retries, settings.backoff_initial, settings.backoff_max, settings.retry_after_max)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt + 1`: doubling, capped, with "equal jitter".

        Jitter spreads out the retries of many clients that failed together, so they do not
        hit a recovering upstream in lock-step; keeping half the delay fixed keeps it growing.
        """
        ceiling = min(self.backoff_max, self.backoff_initial * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not cryptography

    def delay(self, err: UpstreamError, attempt: int) -> float | None:
        """How long to wait before trying again after `err`, or None to give up now."""
        if not err.temporary or attempt >= self.retries or err.circuit_open:
            return None
        if err.retry_after is None:
            return self.backoff(attempt)
        # An upstream that asks for a long pause is better reported at once (with its
        # Retry-After passed on) than waited out while our own client times out.
        return err.retry_after if err.retry_after <= self.retry_after_max else None

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        method: str,
        sleep: Sleep = asyncio.sleep,
    ) -> T:
        """Run `operation`, retrying it on temporary `UpstreamError`s if `method` is idempotent."""
        attempt = 0
        while True:
            try:
                return await operation()
            except UpstreamError as err:
                wait = self.delay(err, attempt) if method in IDEMPOTENT_METHODS else None
                if wait is None:
                    raise
                _log.info("retrying in %.2fs (attempt %d): %s", wait, attempt + 1, err)
            attempt += 1
            await sleep(wait)
