"""The cache of verified secrets: keyed by an HMAC, short-lived, bounded, dropped on revoke."""

from __future__ import annotations

from proxy.gate.auth.cache import CredentialCache


def test_entries_expire_are_bounded_and_can_be_forgotten_per_owner() -> None:
    now = [0.0]
    cache: CredentialCache[str] = CredentialCache(10.0, max_entries=2, clock=lambda: now[0])
    a, b, c = cache.key("ci", "s1"), cache.key("ci", "s2"), cache.key("nodes", "s3")
    cache.put(a, "robot-1", "ci")
    cache.put(b, "robot-1", "ci (rotated)")
    assert cache.get(b) == "ci (rotated)" and cache.get(a) == "ci"
    cache.put(c, "robot-2", "nodes")  # b was used least recently
    assert cache.get(b) is None and cache.get(a) == "ci" and len(cache) == 2
    cache.forget_owner("robot-1")
    assert cache.get(a) is None and cache.get(c) == "nodes"
    now[0] = 10.0
    assert cache.get(c) is None and len(cache) == 0


def test_keys_hide_the_secret_and_differ_per_process() -> None:
    one: CredentialCache[str] = CredentialCache(1.0)
    other: CredentialCache[str] = CredentialCache(1.0)
    assert one.key("ci", "secret") == one.key("ci", "secret") != other.key("ci", "secret")
    assert one.key("ci", "secret") != one.key("ci:secret")  # parts are kept apart
    assert b"secret" not in one.key("ci", "secret")


def test_a_zero_ttl_caches_nothing() -> None:
    cache: CredentialCache[str] = CredentialCache(0.0)
    cache.put(cache.key("x"), "o", "v")
    assert cache.get(cache.key("x")) is None and len(cache) == 0
