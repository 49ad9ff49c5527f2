"""The key ring: named 256-bit keys, the first one primary.

Text format (a file, or one environment variable), one entry per key:

    # comments and blank lines are ignored; entries may also be separated by commas or spaces
    2026-11:Yq3Jm6Xf0c4vKq1d9b2h8W5pQm3t7uZ1a0e4s6x8c2k=
    2026-05:7v1nR4y8Lq2w6e0t3u9i5o1p7a3s5d9f2g4h6j8k0l1=

`ID:KEY`, where ID names the key (letters, digits, `.`, `_`, `-`; stored beside every
secret sealed with it) and KEY is 32 random bytes in base64 (standard or URL-safe).
New secrets are sealed with the first key; every key opens what it sealed, so a rotation
adds a key in front, re-seals (`pullgate secrets rotate`), then drops the old one.

Problems are collected, not raised one by one, and refer to entries by position, never by
content: a malformed entry may well be a key.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from proxy.secrets.errors import KeyRingError, UnknownKeyError

__all__ = ["KEY_BYTES", "Key", "KeyRing", "default_key_id", "generate_key", "parse_key_ring"]

KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    material: bytes = field(repr=False)


class KeyRing:
    """Keys by id; `primary` seals, any of them opens. Its repr shows ids only."""

    def __init__(self, keys: Sequence[Key]) -> None:
        if not keys:
            raise KeyRingError(["the key ring holds no key"])
        self._keys = {key.id: key for key in keys}
        if len(self._keys) != len(keys):
            raise KeyRingError(["a key id is used twice"])
        self.primary = keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, key_id: str) -> Key:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, self.ids) from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys.values())

    def __repr__(self) -> str:
        return f"KeyRing(primary={self.primary.id!r}, ids={list(self.ids)!r})"


def parse_key_ring(text: str) -> KeyRing:
    """Every key in `text`, in order; raises `KeyRingError` listing every problem at once."""
    keys: list[Key] = []
    problems: list[str] = []
    for number, line_number, entry in _entries(text):
        where = f"entry {number} (line {line_number})"
        key = _parse_entry(entry, where, problems)
        if key is not None:
            keys.append(key)
    problems += _duplicates(keys)
    if not keys and not problems:
        problems.append("the key ring holds no key")
    if problems:
        raise KeyRingError(problems)
    return KeyRing(keys)


def generate_key(key_id: str | None = None) -> str:
    """A new key ring entry, `ID:KEY`, from the operating system's random source."""
    key_id = key_id or default_key_id()
    if not KEY_ID.fullmatch(key_id):
        raise KeyRingError([f"key id {key_id!r} must be 1-64 letters, digits, '.', '_' or '-'"])
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"


def default_key_id(now: datetime | None = None) -> str:
    # Dated, so the ring reads oldest-to-newest at a glance; a random suffix, so two keys
    # made the same day differ.
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"key-{day}-{secrets.token_hex(2)}"


def _entries(text: str) -> Iterator[tuple[int, int, str]]:
    number = 0
    for line_number, line in enumerate(text.splitlines(), 1):
        for entry in _SEPARATORS.split(line.partition("#")[0]):
            if entry:
                number += 1
                yield number, line_number, entry


def _parse_entry(entry: str, where: str, problems: list[str]) -> Key | None:
    key_id, sep, encoded = entry.partition(":")
    if not sep:
        problems.append(f"{where} is not ID:KEY")
        return None
    ok = True
    if not KEY_ID.fullmatch(key_id):
        # The id may be a mistyped key: name it only when it looks like an id.
        shown = f" {key_id!r}" if len(key_id) <= 64 and key_id.isprintable() else ""
        problems.append(f"{where}: key id{shown} must be 1-64 letters, digits, '.', '_' or '-'")
        ok = False
    material = _decode(encoded)
    if material is None:
        problems.append(f"{where}: the key is not base64")
        return None
    if len(material) != KEY_BYTES:
        problems.append(f"{where}: the key is {len(material)} bytes; AES-256 needs {KEY_BYTES}")
        return None
    return Key(key_id, material) if ok else None


def _decode(encoded: str) -> bytes | None:
    # URL-safe letters are mapped to the standard ones, and missing padding is restored.
    standard = encoded.replace("-", "+").replace("_", "/")
    standard += "=" * (-len(standard) % 4)
    try:
        return base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        return None


def _duplicates(keys: Sequence[Key]) -> list[str]:
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_material: dict[bytes, str] = {}
    for key in keys:
        if key.id in seen_ids:
            problems.append(f"key id {key.id!r} is used twice")
        seen_ids.add(key.id)
        other = seen_material.setdefault(key.material, key.id)
        if other != key.id:
            # A copy-paste slip: rotating to the "new" key would change nothing.
            problems.append(f"keys {other!r} and {key.id!r} are the same key")
    return problems
