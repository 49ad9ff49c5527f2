"""The trust stores a Notation trust policy names, read through the lookup `verify_notation` gets.

Both the authenticity step (``ca`` / ``signingAuthority`` stores) and the authentic timestamp
step (``tsa`` stores) merge the certificates of every store of one type the policy names, as
signing-and-verification-workflow.md says ("merging the trusted certificate list of each trust
store"); a store that cannot be read fails the step that needs it, never the whole verification.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.notation.trust_policy import TrustPolicy

__all__ = ["Stores", "policy_certificates"]

Stores = Callable[[str, str], tuple[x509.Certificate, ...]]  # (type, name) -> certificates


def policy_certificates(stores: Stores, policy: TrustPolicy, kind: str) -> tuple[x509.Certificate, ...]:
    """Every certificate of the policy's `kind` stores; `SignatureInvalid` if none can be had."""
    names = [name for store_type, name in policy.trust_stores if store_type == kind]
    certificates = [cert for name in names for cert in _store(stores, kind, name, policy)]
    if not certificates:
        raise SignatureInvalid(f"the {kind} trust stores of trust policy {policy.name!r} hold no certificate")
    return tuple(certificates)


def _store(stores: Stores, kind: str, name: str, policy: TrustPolicy) -> tuple[x509.Certificate, ...]:
    try:
        return stores(kind, name)
    except (SignatureInvalid, TrustMaterialError, LookupError) as exc:
        raise SignatureInvalid(
            f"trust store {kind}:{name} of trust policy {policy.name!r} is not available: {exc}"
        ) from None
