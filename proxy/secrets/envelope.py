"""The AES-256-GCM envelope every secret at rest is sealed in.

    blob = version (1 byte, 0x01) || nonce (12 bytes) || ciphertext || tag (16 bytes)

The key id is kept beside the blob (a column), not inside it. The associated data binds
the blob to its version, its key id and the caller's context (for upstream credentials:
the upstream and the username), so a blob copied to another row, relabelled with another
key id, or downgraded to another format does not open. Nonces are 96 random bits per
seal (NIST SP 800-38D 8.2.2): a key stays far below the 2^32 seals that bound allows.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proxy.secrets.errors import DecryptionError
from proxy.secrets.keyring import KeyRing

__all__ = ["NONCE_BYTES", "VERSION", "Sealed", "frame", "open_sealed", "seal"]

VERSION = 1
NONCE_BYTES = 12
_TAG_BYTES = 16
_PURPOSE = b"pullgate sealed secret"


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    blob: bytes = field(repr=False)  # not secret, but long and of no use in a log line


def frame(*parts: bytes) -> bytes:
    """Length-prefixed concatenation: no two different part lists frame alike."""
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def seal(ring: KeyRing, plaintext: bytes, context: bytes) -> Sealed:
    key = ring.primary
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.material).encrypt(nonce, plaintext, _associated(VERSION, key.id, context))
    return Sealed(key.id, bytes([VERSION]) + nonce + ciphertext)


def open_sealed(ring: KeyRing, sealed: Sealed, context: bytes) -> bytes:
    """The plaintext; `UnknownKeyError` or `DecryptionError` (never a partial result)."""
    blob = sealed.blob
    # 1. The format: a version this code writes, and room for a nonce and a tag.
    if len(blob) < 1 + NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("the sealed value is truncated")
    if blob[0] != VERSION:
        raise DecryptionError(f"the sealed value has format version {blob[0]}, not {VERSION}")
    # 2. The key: by the id stored beside the blob.
    key = ring.get(sealed.key_id)
    # 3. Authenticate and decrypt in one step; GCM releases nothing unless the tag matches.
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key.material).decrypt(nonce, ciphertext, _associated(blob[0], key.id, context))
    except InvalidTag:
        raise DecryptionError(
            "it does not authenticate: altered, sealed for another upstream or username, or a different key under that id"
        ) from None


def _associated(version: int, key_id: str, context: bytes) -> bytes:
    return frame(_PURPOSE, bytes([version]), key_id.encode(), context)
