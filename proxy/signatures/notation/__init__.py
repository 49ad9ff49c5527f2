"""Notation (Notary Project) signatures: trust policies, JWS and COSE envelopes, verification.

Pure and offline, like the rest of `proxy.signatures`: `verify_notation` is handed the
envelope blob, the parsed ``trustpolicy.oci.json`` and a lookup of trust-store certificates.
"""

from proxy.signatures.notation.trust_policy import (
    Level,
    TrustPolicy,
    TrustPolicyDocument,
    parse_trust_policy,
    select_policy,
)
from proxy.signatures.notation.verify import verify_notation

__all__ = [
    "Level",
    "TrustPolicy",
    "TrustPolicyDocument",
    "parse_trust_policy",
    "select_policy",
    "verify_notation",
]
