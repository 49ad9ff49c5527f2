"""What the verify_notation tests share: the test PKI's shape, the image, a few helpers."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.model import SignedImage, Verification
from proxy.signatures.notation.trust_policy import parse_trust_policy
from proxy.signatures.notation.verify import verify_notation
from tests.support.notation import (
    COSE,
    JWS,
    NOW,
    TIMESTAMP_HEADER,
    Issued,
    payload,
    policy,
    sign_cose,
    sign_jws,
    trust_policy_document,
)


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    ec256: Issued  # leaf issued by the intermediate
    ec384: Issued
    rsa2048: Issued
    other_root: Issued  # a CA nobody trusts

    def chain(self, leaf: Issued) -> list[x509.Certificate]:
        return [leaf.cert, self.intermediate.cert, self.root.cert]


DIGEST = "sha256:" + "12" * 32
IMAGE = SignedImage(digest=DIGEST, repository="registry.acme-rockets.io/software/net-monitor")
SIGNERS = {JWS: sign_jws, COSE: sign_cose}
SIGNED = NOW - timedelta(days=3)  # when the countersigned tests sign: the expired leaf was valid
TSA_POLICY = policy(stores=["ca:acme-rockets", "tsa:acme-tsa"])


def verify(
    pki: Pki,
    envelope: bytes,
    *,
    media_type: str = JWS,
    policies: Sequence[dict[str, Any]] = (),
    stores: dict[str, list[x509.Certificate]] | None = None,
    image: SignedImage = IMAGE,
    **kwargs: Any,
) -> Verification:
    doc = parse_trust_policy(trust_policy_document(*(policies or [policy()])))
    lookup = store_lookup({"ca:acme-rockets": [pki.root.cert]} if stores is None else stores)
    kwargs.setdefault("now", NOW)
    return verify_notation(
        envelope,
        media_type,
        image,
        doc,
        lookup,
        authority="notation-acme",
        artifact_digest="sha256:sig",
        **kwargs,
    )


def signed(
    pki: Pki, leaf: Issued | None = None, media_type: str = JWS, digest: str = DIGEST, **kwargs: Any
) -> bytes:
    leaf = leaf or pki.ec256
    return SIGNERS[media_type](leaf, pki.chain(leaf), payload(digest), **kwargs)


def store_lookup(
    stores: Mapping[str, Sequence[x509.Certificate]],
) -> Callable[[str, str], tuple[x509.Certificate, ...]]:
    """stores(type, name) over {"ca:acme-rockets": [cert, ...]}, failing as `TrustSet` does."""

    def lookup(kind: str, store: str) -> tuple[x509.Certificate, ...]:
        try:
            return tuple(stores[f"{kind}:{store}"])
        except KeyError:
            raise SignatureInvalid(
                f"no notation_{kind} trust material named {store!r} is configured"
            ) from None

    return lookup


def tsa_stores(pki: Pki, *tsa_certificates: x509.Certificate) -> dict[str, list[x509.Certificate]]:
    """The acme-rockets CA store and a ``tsa:acme-tsa`` store holding `tsa_certificates`."""
    return {"ca:acme-rockets": [pki.root.cert], "tsa:acme-tsa": list(tsa_certificates)}


def garbage_countersignature(media_type: str) -> dict[str, Any]:
    """An unprotected header whose countersignature is DER-looking garbage, as the format encodes it."""
    token = b"\x30\x03not a token"
    return {TIMESTAMP_HEADER: base64.b64encode(token).decode() if media_type == JWS else token}
