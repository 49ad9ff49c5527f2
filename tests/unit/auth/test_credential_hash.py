"""The slow hash of stored secrets: scrypt with its parameters, compared in constant time."""

from __future__ import annotations

import hmac

import pytest

from db import credential_hash
from db.credential_hash import (
    DEFAULT_PARAMS,
    ScryptParams,
    SecretHasher,
    hash_secret,
    parse_params,
    verify_secret,
)

CHEAP = ScryptParams(log2_n=10)


def test_the_default_is_scrypt_n_2_15_r_8_p_1_with_a_fresh_salt() -> None:
    first, second = hash_secret("pgt_secret"), hash_secret("pgt_secret")
    assert first.startswith("scrypt$ln=15,r=8,p=1$") and parse_params(first) == DEFAULT_PARAMS
    assert first != second  # salted
    assert verify_secret("pgt_secret", first) and verify_secret("pgt_secret", second)
    assert not verify_secret("pgt_secreT", first)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "sha256$abc",
        "scrypt$ln=10,r=8,p=1$c2FsdA",  # no key
        "scrypt$ln=99,r=8,p=1$c2FsdA$a2V5",  # parameters out of range
        "scrypt$ln=10,r=8,p=1$c2FsdA$a2V5",  # a key of the wrong length
        "scrypt$ln=10,r=8,p=1$!!!$a2V5",
        "scrypt$ln=10,r=8,p=1$A$AAAA",  # not decodable base64
    ],
)
def test_anything_but_a_hash_of_ours_verifies_nothing_and_raises_nothing(encoded: str) -> None:
    assert not verify_secret("anything", encoded)


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = hash_secret("right", CHEAP)
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(credential_hash.hmac, "compare_digest", spy)
    assert verify_secret("right", encoded) and not verify_secret("wrong", encoded)
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)


def test_any_string_a_header_can_hold_hashes_without_raising() -> None:
    encoded = hash_secret("\ud800\x00é", CHEAP)
    assert verify_secret("\ud800\x00é", encoded) and not verify_secret("\ud800", encoded)


async def test_weaker_hashes_are_reported_for_rehashing() -> None:
    old = hash_secret("s", CHEAP)
    assert await SecretHasher(ScryptParams(log2_n=11)).verify("s", old) == (True, True)
    assert await SecretHasher(CHEAP).verify("s", old) == (True, False)
    assert await SecretHasher(ScryptParams(log2_n=11)).verify("wrong", old) == (False, False)
    made = await SecretHasher(ScryptParams(log2_n=11, r=4)).hash("s")
    assert parse_params(made) == ScryptParams(log2_n=11, r=4)


def test_parameters_out_of_range_are_refused() -> None:
    for bad in ({"log2_n": 9}, {"log2_n": 21}, {"r": 0}, {"p": 17}):
        with pytest.raises(ValueError, match="out of range"):
            ScryptParams(**bad)
