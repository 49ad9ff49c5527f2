"""Slow, salted hashes of the secrets pullgate hands out (admin tokens, robot secrets).

scrypt (RFC 7914) with a random 16-byte salt; the parameters travel with every hash, so they
can be raised later: a hash made with weaker parameters than the current ones still
verifies, and `SecretHasher.verify` says when it should be replaced (the caller knows the
plaintext at that moment and can store a new hash). The encoded form is

    scrypt$ln=15,r=8,p=1$<salt, base64url>$<32-byte key, base64url>

The secrets are 256-bit random strings, so no KDF is needed to stop guessing; the slow hash
limits what a stolen database is worth if a weaker secret ever gets in, and is what
operators expect to find. Its cost is paid once per presented secret: callers keep a short
cache of successful verifications (see `proxy.gate.auth.cache`).

scrypt is CPU- and memory-hard (32 MiB at the defaults): it runs in worker threads, at most
`concurrency` at once, so a burst of cache misses neither blocks the event loop nor takes
every thread of the default executor (which serves file I/O for blobs).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_PARAMS", "ScryptParams", "SecretHasher", "hash_secret", "verify_secret"]

_SALT_BYTES = 16
_KEY_BYTES = 32
_ENCODED = re.compile(r"scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)")


@dataclass(frozen=True, slots=True)
class ScryptParams:
    log2_n: int = 15  # N = 32768
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not (10 <= self.log2_n <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise ValueError(f"scrypt parameters out of range: {self}")

    @property
    def memory(self) -> int:
        return 128 * self.r * (1 << self.log2_n)

    def weaker_than(self, other: ScryptParams) -> bool:
        return (self.log2_n, self.r, self.p) < (other.log2_n, other.r, other.p)


DEFAULT_PARAMS = ScryptParams()


def _derive(secret: str, salt: bytes, params: ScryptParams) -> bytes:
    # surrogatepass: any str a header can decode to hashes (to nothing stored) without raising.
    return hashlib.scrypt(
        secret.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=1 << params.log2_n,
        r=params.r,
        p=params.p,
        maxmem=2 * params.memory,  # OpenSSL's default limit (32 MiB) is below N=2^15, r=8
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    salt = os.urandom(_SALT_BYTES)
    key = _derive(secret, salt, params)
    return f"scrypt$ln={params.log2_n},r={params.r},p={params.p}${_b64(salt)}${_b64(key)}"


def parse_params(encoded: str) -> ScryptParams | None:
    """The parameters `encoded` was made with; None if it is not a hash of this module."""
    return _params(_ENCODED.fullmatch(encoded))


def _params(match: re.Match[str] | None) -> ScryptParams | None:
    if match is None:
        return None
    try:
        return ScryptParams(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether `secret` is the one `encoded` was made from. Never raises for bad input."""
    match = _ENCODED.fullmatch(encoded)
    params = _params(match)
    if params is None or match is None:
        return False
    try:
        salt, expected = _unb64(match.group(4)), _unb64(match.group(5))
    except (binascii.Error, ValueError):
        return False
    if len(expected) != _KEY_BYTES:
        return False
    # Constant time: how many leading bytes matched must not show in how long the answer took.
    return hmac.compare_digest(_derive(secret, salt, params), expected)


class SecretHasher:
    """scrypt with the configured parameters, run off the event loop, a few at a time."""

    def __init__(self, params: ScryptParams = DEFAULT_PARAMS, concurrency: int = 2) -> None:
        self.params = params
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, secret: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(hash_secret, secret, self.params)

    async def verify(self, secret: str, encoded: str) -> tuple[bool, bool]:
        """(matches, should be re-hashed with the current parameters)."""
        async with self._slots:
            ok = await asyncio.to_thread(verify_secret, secret, encoded)
        stored = parse_params(encoded)
        return ok, ok and stored is not None and stored.weaker_than(self.params)
