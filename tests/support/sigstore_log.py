"""A test Rekor: an append-only RFC 6962 Merkle tree with SETs, inclusion proofs and checkpoints.

Built independently of the code under test (its own canonical JSON for the SET payload is
Python's sorted compact JSON, which equals RFC 8785 for the ASCII strings and integers used).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ORIGIN = "rekor.test - 4242"


def spki_id(key: ec.EllipticCurvePublicKey) -> bytes:
    return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(entries: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1."""
    if len(entries) == 1:
        return _leaf(entries[0])
    k = _split(len(entries))
    return _node(tree_hash(entries[:k]), tree_hash(entries[k:]))


def audit_path(index: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    if len(entries) == 1:
        return []
    k = _split(len(entries))
    if index < k:
        return [*audit_path(index, entries[:k]), tree_hash(entries[k:])]
    return [*audit_path(index - k, entries[k:]), tree_hash(entries[:k])]


@dataclass(frozen=True)
class Logged:
    body: bytes
    log_index: int
    integrated_time: int
    log_id: bytes
    set_signature: bytes
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str

    def cosign_bundle_annotation(self) -> str:
        payload = {
            "body": base64.b64encode(self.body).decode(),
            "integratedTime": self.integrated_time,
            "logIndex": self.log_index,
            "logID": self.log_id.hex(),
        }
        return json.dumps(
            {"SignedEntryTimestamp": base64.b64encode(self.set_signature).decode(), "Payload": payload},
            separators=(",", ":"),
        )

    def bundle_entry(self, kind: str, version: str) -> dict[str, object]:
        b64 = base64.b64encode
        return {
            "logIndex": str(self.log_index),
            "logId": {"keyId": b64(self.log_id).decode()},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": str(self.integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": b64(self.set_signature).decode()},
            "inclusionProof": {
                "logIndex": str(self.log_index),
                "rootHash": b64(self.root_hash).decode(),
                "treeSize": str(self.tree_size),
                "hashes": [b64(h).decode() for h in self.hashes],
                "checkpoint": {"envelope": self.checkpoint},
            },
            "canonicalizedBody": b64(self.body).decode(),
        }


@dataclass
class TestLog:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    entries: list[bytes] = field(default_factory=lambda: [b'{"filler":%d}' % i for i in range(5)])

    @property
    def log_id(self) -> bytes:
        return spki_id(self.key.public_key())

    def append(
        self, body: bytes, integrated_time: int, *, checkpoint_key: ec.EllipticCurvePrivateKey | None = None
    ) -> Logged:
        self.entries.append(body)
        index, size = len(self.entries) - 1, len(self.entries)
        # A few later entries, so that the proof is not trivially the rightmost leaf.
        self.entries.extend(b'{"later":%d}' % i for i in range(3))
        entries = self.entries[: size + 3]
        root = tree_hash(entries)
        set_payload = compact(
            {
                "body": base64.b64encode(body).decode(),
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": index,
            }
        )
        return Logged(
            body=body,
            log_index=index,
            integrated_time=integrated_time,
            log_id=self.log_id,
            set_signature=self.key.sign(set_payload, ec.ECDSA(hashes.SHA256())),
            tree_size=len(entries),
            root_hash=root,
            hashes=tuple(audit_path(index, entries)),
            checkpoint=self.checkpoint(len(entries), root, checkpoint_key or self.key),
        )

    def checkpoint(self, size: int, root: bytes, key: ec.EllipticCurvePrivateKey) -> str:
        body = f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = key.sign(body.encode(), ec.ECDSA(hashes.SHA256()))
        hint = spki_id(key.public_key())[:4]
        return body + "\n" + f"\u2014 rekor.test {base64.b64encode(hint + signature).decode()}\n"
