"""The keyless certificate check at every proven signing time.

A Fulcio certificate lives ten minutes, so it is checked when the signature is *proven* to have
existed, never "now". Sigstore's client specification (§4.2 "Establishing a Time for the
Signature", §4.3 "Certificate", https://github.com/sigstore/architecture-docs/blob/main/client-spec.md)
has two sources of such a time: the integratedTime of a transparency log entry (vouched for by
the log's SET) and the genTime of an RFC 3161 timestamp (vouched for by a trusted TSA). "If
both are available, the Verifier performs path validation twice. If either fails, verification
fails": the certificate is checked at each of them here, as sigstore-python and sigstore-go do.

The time reported is the earliest: each one proves the signature existed by then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.fulcio import FulcioIdentity, verify_fulcio_certificate
from proxy.signatures.model import Identity
from proxy.signatures.trusted_root import TrustedRoot

__all__ = ["verify_certificate_at"]


def verify_certificate_at(
    leaf: x509.Certificate,
    times: Sequence[datetime],
    identities: Sequence[Identity],
    root: TrustedRoot,
) -> tuple[FulcioIdentity, datetime]:
    """The identity of `leaf`, checked at every one of `times`, and the earliest of them."""
    if not times:
        raise SignatureInvalid("no proven signing time")
    earliest, *later = sorted(set(times))
    identity = verify_fulcio_certificate(leaf, earliest, identities, root)
    for at in later:
        verify_fulcio_certificate(leaf, at, identities, root)
    return identity, earliest
