"""Offline proof that an entry is in a transparency log: Merkle inclusion and a signed checkpoint.

Inclusion (RFC 6962 §2.1, verification algorithm of RFC 9162 §2.1.3.2): the leaf hash is
SHA-256(0x00 || entry), an interior node SHA-256(0x01 || left || right); the audit path climbs
from the leaf to the root of a tree of ``tree_size`` leaves and must arrive at ``root_hash``.

The root hash itself is vouched for by a *checkpoint*, a signed note
(https://github.com/C2SP/C2SP/blob/main/signed-note.md, body per tlog-checkpoint.md):

    <origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines\\n]
    \\n
    — <key name> <base64(4-byte key hint || signature)>\\n   (one line per signature)

The signature covers the body including its last newline. Rekor's hint is the first four bytes
of its log id; any line whose signature verifies with the log's key is accepted, as the hint is
only a shortcut. The checkpoint must describe the same tree as the proof (size and root).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import verify_signature
from proxy.signatures.trusted_root import TransparencyLog

__all__ = ["InclusionProof", "leaf_hash", "verify_checkpoint", "verify_inclusion"]

_MAX_SIGNATURE_LINES = 16  # a note with more is not one a log we trust wrote
_SIGNATURE_PREFIX = "\u2014 "  # em dash and space


@dataclass(frozen=True, slots=True)
class InclusionProof:
    log_index: int
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str | None = None  # the signed note's text, as the bundle carries it


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(proof: InclusionProof, entry: bytes) -> None:
    """The audit path of `proof` leads from `entry` to its root hash; `SignatureInvalid` otherwise."""
    if not 0 <= proof.log_index < proof.tree_size:
        raise SignatureInvalid(
            f"inclusion proof index {proof.log_index} is outside a tree of {proof.tree_size}"
        )
    index, last, computed = proof.log_index, proof.tree_size - 1, leaf_hash(entry)
    for sibling in proof.hashes:
        if last == 0:
            raise SignatureInvalid("inclusion proof is longer than the tree is deep")
        if index & 1 or index == last:
            computed = _node(sibling, computed)
            while not index & 1 and index != 0:  # skip levels where this node has no right sibling
                index, last = index >> 1, last >> 1
        else:
            computed = _node(computed, sibling)
        index, last = index >> 1, last >> 1
    if last != 0:
        raise SignatureInvalid("inclusion proof is shorter than the tree is deep")
    if computed != proof.root_hash:
        raise SignatureInvalid(
            f"inclusion proof does not lead to root hash {proof.root_hash.hex()} (got {computed.hex()})"
        )


def verify_checkpoint(note: str, log: TransparencyLog, proof: InclusionProof) -> None:
    """`note` is signed by `log` and states the proof's tree size and root hash."""
    body, signatures = _split(note)
    lines = body.split("\n")[:-1]  # the body ends with a newline
    if len(lines) < 3:
        raise SignatureInvalid("checkpoint must have an origin, a tree size and a root hash")
    if not any(_signed_by(log, body, line) for line in signatures):
        raise SignatureInvalid(f"checkpoint is not signed by transparency log {log.log_id.hex()}")
    try:
        size = int(lines[1])
        root_hash = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise SignatureInvalid("checkpoint tree size or root hash cannot be read") from None
    if size != proof.tree_size or root_hash != proof.root_hash:
        raise SignatureInvalid(
            f"checkpoint (size {size}, root {root_hash.hex()}) does not match the inclusion proof "
            f"(size {proof.tree_size}, root {proof.root_hash.hex()})"
        )


def _split(note: str) -> tuple[str, list[str]]:
    separator = note.find("\n\n")
    if separator < 0 or not note.endswith("\n"):
        raise SignatureInvalid("checkpoint is not a signed note (no blank line before its signatures)")
    body, signatures = note[: separator + 1], note[separator + 2 :].split("\n")[:-1]
    if not signatures or len(signatures) > _MAX_SIGNATURE_LINES:
        raise SignatureInvalid(f"checkpoint has {len(signatures)} signature lines")
    return body, signatures


def _signed_by(log: TransparencyLog, body: str, line: str) -> bool:
    if not line.startswith(_SIGNATURE_PREFIX):
        return False
    parts = line[len(_SIGNATURE_PREFIX) :].split(" ")
    if len(parts) != 2:
        return False
    try:
        blob = base64.b64decode(parts[1], validate=True)
        verify_signature(log.key, blob[4:], body.encode("utf-8"))
    except (binascii.Error, ValueError, SignatureInvalid):
        return False
    return len(blob) > 4
