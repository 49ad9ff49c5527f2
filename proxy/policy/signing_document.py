"""Signature requirements as the policy document writes them.

    signature_requirements:
      - id: team-signed-by-ci
        match: {registry: docker.io, repository: "team/**"}
        mode: enforce            # or warn
        threshold: 1             # distinct signers that must verify
        authorities:
          - name: ci-key
            key: {trust: ci-cosign}            # a public_key trust material
            annotations: {env: prod}           # must be in the payload's "optional"
            check_reference: true              # docker-reference must name this repository
          - name: ci-keyless
            keyless:
              trusted_root: corp-sigstore      # a trusted_root trust material
              identities:
                - {issuer: "https://token.actions.githubusercontent.com",
                   subject_regex: "^https://github\\.com/corp/.+$"}
          - name: release-notary
            notation: {trust_policy: corp-notation}   # a notation_trust_policy trust material

Each authority has exactly one of key / keyless / notation. Identity regular expressions are
matched in full (anchored) and checked for catastrophic shapes like rule tag regexes.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from proxy.policy.errors import PolicyError
from proxy.policy.match_spec import MatchSpec
from proxy.policy.model import Mode
from proxy.policy.regex_guard import check_regex_shape
from proxy.policy.signing import SignatureRequirement
from proxy.policy.spec_base import ITEM_ID, StrictSpec
from proxy.signatures.model import Authority, Identity, KeyAuthority, KeylessAuthority, NotationAuthority

__all__ = ["AuthoritySpec", "RequirementSpec"]


class KeySpec(StrictSpec):
    trust: str = Field(pattern=ITEM_ID, description="name of a public_key trust material")


class IdentitySpec(StrictSpec):
    issuer: str | None = Field(default=None, max_length=1024)
    issuer_regex: str | None = Field(default=None, max_length=1024)
    subject: str | None = Field(default=None, max_length=1024)
    subject_regex: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _one_of_each(self) -> IdentitySpec:
        for name in ("issuer", "subject"):
            exact, regex = getattr(self, name), getattr(self, f"{name}_regex")
            if (exact is None) == (regex is None):
                raise ValueError(f"give exactly one of {name} and {name}_regex")
            if regex is not None:
                try:
                    check_regex_shape(regex, f"{name}_regex")
                    re.compile(regex)
                except (PolicyError, re.error) as exc:
                    raise ValueError(f"{name}_regex: {exc}") from exc
        return self

    def to_identity(self) -> Identity:
        return Identity(self.issuer, self.issuer_regex, self.subject, self.subject_regex)


class KeylessSpec(StrictSpec):
    trusted_root: str = Field(pattern=ITEM_ID, description="name of a trusted_root trust material")
    identities: list[IdentitySpec] = Field(min_length=1, max_length=100)


class NotationSpec(StrictSpec):
    trust_policy: str = Field(pattern=ITEM_ID, description="name of a notation_trust_policy trust material")


class AuthoritySpec(StrictSpec):
    name: str = Field(pattern=ITEM_ID)
    key: KeySpec | None = None
    keyless: KeylessSpec | None = None
    notation: NotationSpec | None = None
    annotations: dict[str, str] = Field(default_factory=dict, max_length=50)
    check_reference: bool = False
    signature_repository: str | None = Field(
        default=None, max_length=255, pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthoritySpec:
        given = [k for k in ("key", "keyless", "notation") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an authority has exactly one of key, keyless and notation")
        if self.notation is not None and (
            self.annotations or self.check_reference or self.signature_repository
        ):
            raise ValueError(
                "annotations, check_reference and signature_repository apply to cosign authorities"
            )
        return self

    def to_authority(self) -> Authority:
        if self.key is not None:
            return KeyAuthority(
                self.name,
                self.key.trust,
                dict(self.annotations),
                self.check_reference,
                self.signature_repository,
            )
        if self.keyless is not None:
            return KeylessAuthority(
                self.name,
                self.keyless.trusted_root,
                tuple(i.to_identity() for i in self.keyless.identities),
                dict(self.annotations),
                self.check_reference,
                self.signature_repository,
            )
        assert self.notation is not None
        return NotationAuthority(self.name, self.notation.trust_policy)

    @classmethod
    def from_authority(cls, authority: Authority) -> AuthoritySpec:
        if isinstance(authority, NotationAuthority):
            return cls(name=authority.name, notation=NotationSpec(trust_policy=authority.trust_policy))
        common = {
            "annotations": dict(authority.annotations),
            "check_reference": authority.check_reference,
            "signature_repository": authority.signature_repository,
        }
        if isinstance(authority, KeyAuthority):
            return cls(name=authority.name, key=KeySpec(trust=authority.key), **common)
        identities = [
            IdentitySpec(
                issuer=i.issuer, issuer_regex=i.issuer_regex, subject=i.subject, subject_regex=i.subject_regex
            )
            for i in authority.identities
        ]
        return cls(
            name=authority.name,
            keyless=KeylessSpec(trusted_root=authority.trusted_root, identities=identities),
            **common,
        )


class RequirementSpec(StrictSpec):
    id: str = Field(pattern=ITEM_ID, description="stable identifier, quoted in denials")
    match: MatchSpec = MatchSpec()
    mode: Mode = Mode.ENFORCE
    threshold: int = Field(default=1, ge=1, le=100)
    authorities: list[AuthoritySpec] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _names_unique(self) -> RequirementSpec:
        names = [a.name for a in self.authorities]
        if len(set(names)) != len(names):
            raise ValueError("authority names must be unique within a requirement")
        return self

    def to_requirement(self) -> SignatureRequirement:
        return SignatureRequirement(
            id=self.id,
            match=self.match.to_match(),
            authorities=tuple(a.to_authority() for a in self.authorities),
            threshold=self.threshold,
            mode=self.mode,
            description=self.description,
        )

    @classmethod
    def from_requirement(cls, requirement: SignatureRequirement) -> RequirementSpec:
        return cls(
            id=requirement.id,
            match=MatchSpec.from_match(requirement.match),
            mode=requirement.mode,
            threshold=requirement.threshold,
            authorities=[AuthoritySpec.from_authority(a) for a in requirement.authorities],
            description=requirement.description,
        )
