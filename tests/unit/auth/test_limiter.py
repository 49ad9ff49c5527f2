"""The failed-authentication limiter: a bucket per address, refilled over the window, bounded."""

from __future__ import annotations

from proxy.gate.auth.limiter import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_max_failures_then_refused_until_one_refills() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, clock=clock)  # one failure regained every 20 s
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 20
    assert limiter.retry_after("10.0.0.2") is None  # another address is not affected
    clock.now += 15
    assert limiter.retry_after("10.0.0.1") == 5
    clock.now += 5
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failed("10.0.0.1")  # the regained attempt is spent at once
    assert limiter.retry_after("10.0.0.1") == 20
    clock.now += 60
    assert limiter.retry_after("10.0.0.1") is None
    assert len(limiter) == 0  # a full bucket is forgotten


def test_memory_is_bounded_oldest_failures_forgotten_first() -> None:
    clock = Clock()
    limiter = FailureLimiter(1, 60.0, max_addresses=3, clock=clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        limiter.failed(address)
    assert len(limiter) == 3
    assert limiter.retry_after("10.0.0.1") is None  # forgotten
    assert limiter.retry_after("10.0.0.4") == 60


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    limiter = FailureLimiter(2, 60.0, clock=Clock())
    limiter.failed("2001:db8:1:2::1")
    limiter.failed("2001:db8:1:2:ffff::9")
    assert limiter.retry_after("2001:db8:1:2::abcd") is not None
    assert limiter.retry_after("2001:db8:1:3::1") is None
    limiter.failed("::ffff:192.0.2.7")
    limiter.failed("192.0.2.7")
    assert limiter.retry_after("192.0.2.7") is not None
    limiter.failed(None)
    limiter.failed("")
    assert limiter.retry_after(None) is not None and limiter.retry_after("unix") is None
