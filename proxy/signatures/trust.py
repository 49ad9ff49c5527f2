"""Trust material the admin configures, parsed once per trust version.

Kinds:
  public_key                   PEM public keys (cosign key-based authorities)
  trusted_root                 a Sigstore trusted_root.json (keyless and bundles)
  notation_trust_policy        a Notation trustpolicy.oci.json, accepted as is
  notation_ca / notation_signing_authority / notation_tsa
                               PEM certificates of a Notation trust store, named as a trust
                               policy refers to it ("ca:<name>", "signingAuthority:<name>", "tsa:<name>")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.keys import PublicKey, load_public_keys
from proxy.signatures.notation.trust_policy import TrustPolicyDocument, parse_trust_policy
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import load_pem_certificates

__all__ = ["MaterialKind", "TrustMaterial", "TrustSet", "parse_material"]

MAX_MATERIAL_CHARS = 4 * 1024 * 1024  # a trusted root with long histories is well under 1 MiB


class MaterialKind(StrEnum):
    PUBLIC_KEY = "public_key"
    TRUSTED_ROOT = "trusted_root"
    NOTATION_TRUST_POLICY = "notation_trust_policy"
    NOTATION_CA = "notation_ca"
    NOTATION_SIGNING_AUTHORITY = "notation_signing_authority"
    NOTATION_TSA = "notation_tsa"


@dataclass(frozen=True, slots=True)
class TrustMaterial:
    name: str
    kind: MaterialKind
    content: str


def parse_material(kind: MaterialKind, content: str) -> object:
    """The parsed form of one piece of trust material; `TrustMaterialError` if unusable."""
    if len(content) > MAX_MATERIAL_CHARS:
        raise TrustMaterialError(f"trust material is larger than {MAX_MATERIAL_CHARS} characters")
    if kind is MaterialKind.PUBLIC_KEY:
        return load_public_keys(content)
    if kind is MaterialKind.TRUSTED_ROOT:
        return TrustedRoot.parse(content)
    if kind is MaterialKind.NOTATION_TRUST_POLICY:
        return parse_trust_policy(content)
    return load_pem_certificates(content)


class TrustSet:
    """All trust material of one policy version, parsed once, looked up by name.

    Material that cannot be parsed (it was validated when stored, so only after an upgrade
    that tightened a check) is kept as its error: verifications needing it fail with that
    message, the others are unaffected.
    """

    __slots__ = ("_errors", "_parsed")

    def __init__(self, materials: Iterable[TrustMaterial] = ()) -> None:
        self._parsed: dict[tuple[MaterialKind, str], object] = {}
        self._errors: dict[tuple[MaterialKind, str], str] = {}
        for material in materials:
            key = (material.kind, material.name)
            try:
                self._parsed[key] = parse_material(material.kind, material.content)
            except TrustMaterialError as exc:
                self._errors[key] = str(exc)

    def __len__(self) -> int:
        return len(self._parsed) + len(self._errors)

    def public_keys(self, name: str) -> tuple[PublicKey, ...]:
        return self._get(MaterialKind.PUBLIC_KEY, name)  # type: ignore[return-value]

    def trusted_root(self, name: str) -> TrustedRoot:
        return self._get(MaterialKind.TRUSTED_ROOT, name)  # type: ignore[return-value]

    def notation_policy(self, name: str) -> TrustPolicyDocument:
        return self._get(MaterialKind.NOTATION_TRUST_POLICY, name)  # type: ignore[return-value]

    def notation_store(self, store_type: str, name: str) -> tuple[x509.Certificate, ...]:
        kind = _STORE_KINDS.get(store_type)
        if kind is None:
            raise SignatureInvalid(f"unknown Notation trust store type {store_type!r}")
        return self._get(kind, name)  # type: ignore[return-value]

    def _get(self, kind: MaterialKind, name: str) -> object:
        key = (kind, name)
        if key in self._parsed:
            return self._parsed[key]
        if key in self._errors:
            raise SignatureInvalid(f"{kind.value} {name!r} cannot be used: {self._errors[key]}")
        raise SignatureInvalid(f"no {kind.value} trust material named {name!r} is configured")


_STORE_KINDS = {
    "ca": MaterialKind.NOTATION_CA,
    "signingAuthority": MaterialKind.NOTATION_SIGNING_AUTHORITY,
    "tsa": MaterialKind.NOTATION_TSA,
}
