"""Errors of the signature layer.

`TrustMaterialError` rejects trust material an admin tries to load (shown to them as a 400);
`SignatureInvalid` is raised inside a verifier for a signature that does not verify, and is
turned into a failed `Verification` carrying its message — never into an allow.
"""

from __future__ import annotations

__all__ = ["SignatureInvalid", "TrustMaterialError"]


class TrustMaterialError(ValueError):
    """Trust material (a key, trusted root, trust store or trust policy) cannot be used."""


class SignatureInvalid(Exception):
    """A signature did not verify; the message says why, for a person."""
