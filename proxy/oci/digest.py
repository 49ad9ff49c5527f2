"""Content digests (OCI image spec, "Digests"): parsing, validation and hashing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "Digest",
    "DigestCheck",
    "DigestMismatchError",
    "Hasher",
    "InvalidDigestError",
]

# Only registered algorithms are accepted: an unknown one could never be verified,
# so bytes fetched under it could never be trusted.
_ENCODED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
SUPPORTED_ALGORITHMS = tuple(_ENCODED)
_MAX_LENGTH = 7 + 128 + 1


class InvalidDigestError(ValueError):
    """The text is not a digest pullgate can verify."""


class DigestMismatchError(Exception):
    """Bytes did not hash to the digest (or length) they were fetched under."""

    def __init__(self, expected: Digest, actual: Digest | None, expected_size: int | None, size: int) -> None:
        self.expected = expected
        self.actual = actual
        self.expected_size = expected_size
        self.size = size
        what = f"size {size} != {expected_size}" if actual is None else f"got {actual}"
        super().__init__(f"content does not match {expected}: {what}")


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if len(text) > _MAX_LENGTH:
            raise InvalidDigestError("digest is too long")
        algorithm, sep, encoded = text.partition(":")
        if not sep:
            raise InvalidDigestError(f"digest {text!r} has no algorithm prefix")
        pattern = _ENCODED.get(algorithm)
        if pattern is None:
            raise InvalidDigestError(
                f"digest algorithm {algorithm!r} is not supported (use sha256 or sha512)"
            )
        if not pattern.fullmatch(encoded):
            raise InvalidDigestError(f"digest {text!r} is not a valid {algorithm} digest")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        hasher = cls.hasher_for(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    @staticmethod
    def hasher_for(algorithm: str) -> Hasher:
        if algorithm not in _ENCODED:
            raise InvalidDigestError(f"digest algorithm {algorithm!r} is not supported")
        return hashlib.new(algorithm)

    def new_hasher(self) -> Hasher:
        return self.hasher_for(self.algorithm)

    def matches(self, data: bytes) -> bool:
        return Digest.of(data, self.algorithm) == self

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @property
    def tag_form(self) -> str:
        """The referrers tag schema's fallback tag: ``sha256-<hex>``."""
        return f"{self.algorithm}-{self.encoded}"


class DigestCheck:
    """The digest and length of bytes as they pass, checked once the last one has."""

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._hasher = Digest.hasher_for(algorithm)
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hasher.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hasher.hexdigest())

    def verify(self, expected: Digest, size: int | None = None) -> None:
        """Raise `DigestMismatchError` unless the bytes seen are `expected` (and `size` long)."""
        if size is not None and size != self.size:
            raise DigestMismatchError(expected, None, size, self.size)
        if expected.algorithm != self.algorithm:
            raise ValueError(f"hashed with {self.algorithm}, cannot check {expected}")
        actual = self.digest()
        if actual != expected:
            raise DigestMismatchError(expected, actual, size, self.size)
