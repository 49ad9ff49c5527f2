"""Rekor entries offline: SET, inclusion proof, checkpoint, and the body's binding to a signature."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.rekor import RekorEntry, parse_cosign_bundle_annotation, verify_entry
from proxy.signatures.rekor_body import check_dsse_body, check_hashedrekord_body
from proxy.signatures.tlog_proof import InclusionProof, verify_checkpoint, verify_inclusion
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_log import Logged, audit_path, tree_hash
from tests.support.sigstore_world import T0, World, dsse_body, hashedrekord

AT = T0 + timedelta(minutes=1)
PAYLOAD = b'{"critical":{}}'


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


def _entry(logged: Logged, *, with_proof: bool = True, checkpoint: str | None = None) -> RekorEntry:
    proof = InclusionProof(
        logged.log_index, logged.tree_size, logged.root_hash, logged.hashes, checkpoint or logged.checkpoint
    )
    return RekorEntry(
        body=logged.body,
        integrated_time=logged.integrated_time,
        log_index=logged.log_index,
        log_id=logged.log_id,
        signed_entry_timestamp=logged.set_signature,
        inclusion_proof=proof if with_proof else None,
    )


def _logged(world: World, **kw: object) -> Logged:
    leaf = world.leaf()
    signature = leaf.sign(PAYLOAD)
    return world.log_hashedrekord(leaf, signature, hashlib.sha256(PAYLOAD).digest(), **kw)  # type: ignore[arg-type]


def test_set_and_proof_verify(world: World, root: TrustedRoot) -> None:
    logged = _logged(world)
    assert verify_entry(_entry(logged), root) == AT
    assert verify_entry(parse_cosign_bundle_annotation(logged.cosign_bundle_annotation()), root) == AT


def test_set_of_an_unknown_log_is_refused(world: World) -> None:
    other = TrustedRoot.parse(World().trusted_root())
    with pytest.raises(SignatureInvalid, match=r"transparency log [0-9a-f]{64} is not in the trusted root"):
        verify_entry(_entry(_logged(world)), other)


@pytest.mark.parametrize(
    "change",
    [
        {"integrated_time": int(AT.timestamp()) + 1},
        {"log_index": 3},
        {"body": b'{"kind":"other"}'},
        {"signed_entry_timestamp": b"\x30\x06\x02\x01\x01\x02\x01\x01"},
    ],
)
def test_tampered_set_is_refused(world: World, root: TrustedRoot, change: dict[str, object]) -> None:
    entry = dataclasses.replace(_entry(_logged(world), with_proof=False), **change)  # type: ignore[arg-type]
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_entry(entry, root)


def test_log_key_must_be_valid_at_integrated_time(world: World) -> None:
    late = TrustedRoot.parse(world.trusted_root(tlog_valid=(T0 + timedelta(hours=1), None)))
    with pytest.raises(SignatureInvalid, match="key was not valid at 2024-05-01T12:01:00"):
        verify_entry(_entry(_logged(world)), late)


def test_missing_set_means_no_proven_time(world: World, root: TrustedRoot) -> None:
    entry = dataclasses.replace(_entry(_logged(world)), signed_entry_timestamp=None)
    with pytest.raises(SignatureInvalid, match="no SignedEntryTimestamp"):
        verify_entry(entry, root)


def test_wrong_inclusion_proof_is_refused(world: World, root: TrustedRoot) -> None:
    entry = _entry(_logged(world))
    assert entry.inclusion_proof is not None
    hashes = (b"\x00" * 32, *entry.inclusion_proof.hashes[1:])
    broken = dataclasses.replace(
        entry, inclusion_proof=dataclasses.replace(entry.inclusion_proof, hashes=hashes)
    )
    with pytest.raises(SignatureInvalid, match="does not lead to root hash"):
        verify_entry(broken, root)


def test_checkpoint_signed_by_another_key_is_refused(world: World, root: TrustedRoot) -> None:
    logged = _logged(world, checkpoint_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SignatureInvalid, match="checkpoint is not signed by transparency log"):
        verify_entry(_entry(logged), root)


def test_checkpoint_of_another_tree_is_refused(world: World, root: TrustedRoot) -> None:
    logged = _logged(world)
    other = world.rekor.checkpoint(logged.tree_size + 1, logged.root_hash, world.rekor.key)
    with pytest.raises(SignatureInvalid, match="does not match the inclusion proof"):
        verify_entry(_entry(logged, checkpoint=other), root)


@pytest.mark.parametrize("note", ["no blank line\n", "a\n1\nAA==\n\n", "a\n1\nAA==\n\nunsigned line\n"])
def test_malformed_checkpoints_are_refused(root: TrustedRoot, note: str) -> None:
    proof = InclusionProof(0, 1, b"", ())
    with pytest.raises(SignatureInvalid):
        verify_checkpoint(note, root.tlogs[0], proof)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_inclusion_proofs_for_every_leaf(size: int) -> None:
    entries = [b"e%d" % i for i in range(size)]
    root_hash = tree_hash(entries)
    for index in range(size):
        proof = InclusionProof(index, size, root_hash, tuple(audit_path(index, entries)))
        verify_inclusion(proof, entries[index])
        with pytest.raises(SignatureInvalid):
            verify_inclusion(proof, b"other")


def test_proofs_of_the_wrong_length_or_index_are_refused() -> None:
    entries = [b"e%d" % i for i in range(6)]
    path = tuple(audit_path(2, entries))
    with pytest.raises(SignatureInvalid, match="shorter"):
        verify_inclusion(InclusionProof(2, 6, tree_hash(entries), path[:-1]), b"e2")
    with pytest.raises(SignatureInvalid, match="longer"):
        verify_inclusion(InclusionProof(2, 6, tree_hash(entries), (*path, b"x" * 32)), b"e2")
    with pytest.raises(SignatureInvalid, match="outside a tree"):
        verify_inclusion(InclusionProof(6, 6, tree_hash(entries), path), b"e2")


@pytest.fixture(scope="module")
def signed(world: World) -> tuple[object, bytes, bytes]:
    leaf = world.leaf()
    return leaf, leaf.sign(PAYLOAD), hashlib.sha256(PAYLOAD).digest()


class TestBodyBinding:
    def test_hashedrekord_binds_signature_certificate_and_digest(self, signed: tuple) -> None:  # type: ignore[type-arg]
        leaf, signature, digest = signed
        body = hashedrekord(leaf.pem, signature, digest)
        check_hashedrekord_body(body, signature=signature, signer=leaf.cert, sha256=digest)
        check_hashedrekord_body(body, signature=signature, signer=leaf.cert.public_key(), sha256=digest)

    def test_body_naming_another_signature_payload_or_certificate(self, world: World, signed: tuple) -> None:  # type: ignore[type-arg]
        leaf, signature, digest = signed
        other = world.leaf()
        with pytest.raises(SignatureInvalid, match="records another signature"):
            check_hashedrekord_body(
                hashedrekord(leaf.pem, b"sig", digest), signature=signature, signer=leaf.cert, sha256=digest
            )
        with pytest.raises(SignatureInvalid, match="is about artifact sha256:"):
            check_hashedrekord_body(
                hashedrekord(leaf.pem, signature, b"\1" * 32),
                signature=signature,
                signer=leaf.cert,
                sha256=digest,
            )
        with pytest.raises(SignatureInvalid, match="records another certificate"):
            check_hashedrekord_body(
                hashedrekord(other.pem, signature, digest),
                signature=signature,
                signer=leaf.cert,
                sha256=digest,
            )

    def test_dsse_body(self, signed: tuple) -> None:  # type: ignore[type-arg]
        leaf, signature, _ = signed
        body = dsse_body(leaf.pem, signature, PAYLOAD)
        check_dsse_body(body, payload=PAYLOAD, signature=signature, signer=leaf.cert)
        with pytest.raises(SignatureInvalid, match="about DSSE payload"):
            check_dsse_body(body, payload=b"other", signature=signature, signer=leaf.cert)
        with pytest.raises(SignatureInvalid, match="records another signature"):
            check_dsse_body(body, payload=PAYLOAD, signature=b"x", signer=leaf.cert)
        with pytest.raises(SignatureInvalid, match=r"is of kind dsse 0\.0\.1, expected"):
            check_hashedrekord_body(body, signature=signature, signer=leaf.cert, sha256=b"")

    def test_intoto_body_with_double_encoded_signature(self, signed: tuple) -> None:  # type: ignore[type-arg]
        leaf, signature, _ = signed

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        body = json.dumps(
            {
                "apiVersion": "0.0.2",
                "kind": "intoto",
                "spec": {
                    "content": {
                        "envelope": {
                            "signatures": [
                                {"sig": b64(b64(signature).encode()), "publicKey": b64(leaf.pem.encode())}
                            ]
                        },
                        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(PAYLOAD).hexdigest()},
                    }
                },
            }
        ).encode()
        check_dsse_body(body, payload=PAYLOAD, signature=signature, signer=leaf.cert)

    @pytest.mark.parametrize(
        "body", [b"not json", b"{}", b'{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{}}']
    )
    def test_unreadable_bodies(self, body: bytes) -> None:
        with pytest.raises(SignatureInvalid):
            check_hashedrekord_body(body, signature=b"", signer=World().leaf().cert, sha256=b"")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"Payload":{"body":"!!","integratedTime":1,"logIndex":1,"logID":"00"},"SignedEntryTimestamp":""}',
        '{"Payload":{"body":"","integratedTime":"1e3","logIndex":1,"logID":"00"},"SignedEntryTimestamp":""}',
    ],
)
def test_malformed_bundle_annotations(text: str) -> None:
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        parse_cosign_bundle_annotation(text)


def test_integrated_time_is_utc() -> None:
    entry = RekorEntry(body=b"", integrated_time=0, log_index=0, log_id=b"")
    assert entry.integrated_at == datetime(1970, 1, 1, tzinfo=UTC)


def test_integrated_time_out_of_range_is_refused(root: TrustedRoot) -> None:
    entry = RekorEntry(body=b"", integrated_time=2**62, log_index=0, log_id=root.tlogs[0].log_id)
    with pytest.raises(SignatureInvalid, match="out of range"):
        verify_entry(entry, root)
