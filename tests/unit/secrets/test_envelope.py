"""The AES-256-GCM envelope: what it opens, and everything it refuses to open."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proxy.secrets import (
    CredentialError,
    DecryptionError,
    Key,
    KeyRing,
    Sealed,
    UnknownKeyError,
    open_password,
    open_sealed,
    seal,
    seal_password,
)
from proxy.secrets.envelope import NONCE_BYTES, VERSION, frame

PASSWORD = "correct horse battery staple \u00e9\u6f22"


def ring(*ids: str) -> KeyRing:
    return KeyRing([Key(key_id, os.urandom(32)) for key_id in ids])


def test_round_trip_under_the_primary_key_with_a_fresh_nonce_each_time() -> None:
    keys = ring("new", "old")
    first, second = seal(keys, b"secret", b"ctx"), seal(keys, b"secret", b"ctx")
    assert first.key_id == second.key_id == "new"
    assert first.blob[0] == VERSION and len(first.blob) == 1 + NONCE_BYTES + len(b"secret") + 16
    assert first.blob[1 : 1 + NONCE_BYTES] != second.blob[1 : 1 + NONCE_BYTES]
    assert b"secret" not in first.blob
    assert open_sealed(keys, first, b"ctx") == open_sealed(keys, second, b"ctx") == b"secret"


def test_any_key_of_the_ring_opens_what_it_sealed() -> None:
    old = ring("old")
    sealed = seal(old, b"x", b"ctx")
    rotated = KeyRing([Key("new", os.urandom(32)), old.get("old")])
    assert open_sealed(rotated, sealed, b"ctx") == b"x"


def test_the_envelope_is_aes_256_gcm_with_the_documented_layout() -> None:
    # Opened here with cryptography directly, from the layout in docs/secrets.md.
    material = os.urandom(32)
    keys = KeyRing([Key("k1", material)])
    sealed = seal(keys, b"payload", b"ctx")
    nonce, body = sealed.blob[1:13], sealed.blob[13:]
    aad = frame(b"pullgate sealed secret", bytes([1]), b"k1", b"ctx")
    assert AESGCM(material).decrypt(nonce, body, aad) == b"payload"


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_a_changed_byte_anywhere_is_refused(position: int) -> None:
    keys = ring("k1")
    blob = bytearray(seal(keys, b"secret", b"ctx").blob)
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        open_sealed(keys, Sealed("k1", bytes(blob)), b"ctx")


def test_truncated_and_unknown_versions_are_refused() -> None:
    keys = ring("k1")
    blob = seal(keys, b"secret", b"ctx").blob
    with pytest.raises(DecryptionError, match="truncated"):
        open_sealed(keys, Sealed("k1", blob[:28]), b"ctx")
    with pytest.raises(DecryptionError, match="format version 2"):
        open_sealed(keys, Sealed("k1", b"\x02" + blob[1:]), b"ctx")


def test_the_context_and_the_key_id_are_bound() -> None:
    keys = ring("k1", "k2")
    sealed = seal(keys, b"secret", b"ctx")
    with pytest.raises(DecryptionError, match="does not authenticate"):
        open_sealed(keys, sealed, b"other")
    # The same blob relabelled with another key id of the ring: that key does not open it.
    with pytest.raises(DecryptionError):
        open_sealed(keys, Sealed("k2", sealed.blob), b"ctx")
    # Nor does another key that happens to carry the same id.
    with pytest.raises(DecryptionError):
        open_sealed(ring("k1"), sealed, b"ctx")


def test_a_key_missing_from_the_ring_is_named() -> None:
    sealed = seal(ring("gone"), b"secret", b"ctx")
    with pytest.raises(UnknownKeyError) as caught:
        open_sealed(ring("k2", "k3"), sealed, b"ctx")
    assert caught.value.key_id == "gone" and "'gone'" in str(caught.value)
    assert caught.value.known == ("k2", "k3")


def test_framing_is_unambiguous() -> None:
    assert frame(b"ab", b"c") != frame(b"a", b"bc")
    assert frame(b"", b"x") != frame(b"x", b"")


def test_credentials_are_bound_to_upstream_and_username() -> None:
    keys = ring("k1")
    sealed = seal_password(keys, "ghcr.io", "robot", PASSWORD)
    assert open_password(keys, "ghcr.io", "robot", sealed) == PASSWORD
    for upstream, username in (("docker.io", "robot"), ("ghcr.io", "other"), ("ghcr.io", "robot2")):
        with pytest.raises(CredentialError) as caught:
            open_password(keys, upstream, username, sealed)
        error = caught.value
        assert (error.upstream, error.key_id) == (upstream, "k1")
        assert f"upstream {upstream} (key id 'k1')" in error.message
        assert PASSWORD not in error.message


def test_errors_and_reprs_never_carry_key_material_or_secrets() -> None:
    material = os.urandom(32)
    keys = KeyRing([Key("k1", material)])
    sealed = seal_password(keys, "ghcr.io", "robot", PASSWORD)
    texts = [repr(keys), repr(keys.get("k1")), repr(sealed), str(keys.get("k1"))]
    with pytest.raises(CredentialError) as caught:
        open_password(ring("k2"), "ghcr.io", "robot", sealed)
    texts += [str(caught.value), repr(caught.value)]
    encodings = [material.hex(), base64.b64encode(material).decode(), repr(material)[2:-1]]
    for text in texts:
        assert PASSWORD not in text and sealed.blob.hex() not in text
        assert all(encoded not in text for encoded in encodings)
    assert repr(keys) == "KeyRing(primary='k1', ids=['k1'])"
