"""Rekor (v1) transparency-log entries, verified offline.

An entry proves that a signature existed at ``integratedTime``, which is the signing time
keyless verification needs (a Fulcio certificate lives ten minutes). Offline, that proof is:

  1. the SignedEntryTimestamp (SET): Rekor's signature over the RFC 8785 canonical JSON of
     ``{"body", "integratedTime", "logID", "logIndex"}`` (body base64, logID hex), made with the
     key of the log whose id is logID, a key that must have been valid at integratedTime;
  2. when present, a Merkle inclusion proof of the body up to a root hash and a checkpoint
     signed by the same log naming that root (`proxy.signatures.tlog_proof`);
  3. the body names this signature, this certificate or key and this artifact
     (`proxy.signatures.rekor_body`): without it, any entry of the log would do.

Legacy cosign signatures carry the SET of step 1 as their ``dev.sigstore.cosign/bundle`` annotation:
``{"SignedEntryTimestamp": b64, "Payload": {"body", "integratedTime", "logIndex", "logID"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.signatures.canonical_json import CanonicalJsonError, canonicalize
from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import verify_signature
from proxy.signatures.tlog_proof import InclusionProof, verify_checkpoint, verify_inclusion
from proxy.signatures.trusted_root import TrustedRoot

__all__ = ["RekorEntry", "parse_cosign_bundle_annotation", "verify_entry"]

_MAX_ANNOTATION_CHARS = 1024 * 1024  # a body holds a certificate: kilobytes, not megabytes


@dataclass(frozen=True, slots=True)
class RekorEntry:
    body: bytes  # the canonicalized entry body, as logged
    integrated_time: int  # seconds since the epoch
    log_index: int
    log_id: bytes
    signed_entry_timestamp: bytes | None = None
    inclusion_proof: InclusionProof | None = None

    @property
    def integrated_at(self) -> datetime:
        try:
            return datetime.fromtimestamp(self.integrated_time, tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise SignatureInvalid(
                f"transparency log integratedTime {self.integrated_time} is out of range"
            ) from None


def parse_cosign_bundle_annotation(text: str) -> RekorEntry:
    """The entry of a legacy ``dev.sigstore.cosign/bundle`` annotation; `SignatureInvalid` if malformed."""
    if len(text) > _MAX_ANNOTATION_CHARS:
        raise SignatureInvalid("dev.sigstore.cosign/bundle annotation is too large")
    try:
        bundle = json.loads(text)
        payload = bundle["Payload"]
        return RekorEntry(
            body=_b64(payload["body"]),
            integrated_time=_int(payload["integratedTime"]),
            log_index=_int(payload["logIndex"]),
            log_id=bytes.fromhex(_str(payload["logID"])),
            signed_entry_timestamp=_b64(bundle["SignedEntryTimestamp"]),
        )
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SignatureInvalid(f"dev.sigstore.cosign/bundle annotation cannot be read: {exc}") from None


def verify_entry(entry: RekorEntry, root: TrustedRoot, *, require_set: bool = True) -> datetime:
    """Steps 1 and 2 of the module docstring; the proven integrated time, or `SignatureInvalid`."""
    at = entry.integrated_at
    log = root.tlog(entry.log_id, at)
    # 1. The SET: the log promised, at integratedTime, to include exactly this body.
    if entry.signed_entry_timestamp is not None:
        verify_signature(log.key, entry.signed_entry_timestamp, _set_payload(entry))
    elif require_set:
        raise SignatureInvalid("transparency log entry has no SignedEntryTimestamp: its time is not proven")
    # 2. Inclusion: the body is a leaf of a tree whose root the log signed in a checkpoint.
    proof = entry.inclusion_proof
    if proof is not None:
        verify_inclusion(proof, entry.body)
        if proof.checkpoint is None:
            raise SignatureInvalid("inclusion proof has no signed checkpoint: its root hash is not proven")
        verify_checkpoint(proof.checkpoint, log, proof)
    return at


def _set_payload(entry: RekorEntry) -> bytes:
    try:
        return canonicalize(
            {
                "body": base64.b64encode(entry.body).decode("ascii"),
                "integratedTime": entry.integrated_time,
                "logID": entry.log_id.hex(),
                "logIndex": entry.log_index,
            }
        )
    except CanonicalJsonError as exc:
        raise SignatureInvalid(f"transparency log entry cannot be canonicalised: {exc}") from None


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(_str(value), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    # JSON numbers in legacy bundles, decimal strings (protobuf int64) in sigstore bundles.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(f"{value!r} is not a decimal integer")
    number = int(value)
    if number < 0:
        raise ValueError(f"negative integer {number}")
    return number
