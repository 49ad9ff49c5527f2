"""Signature requirements: who must have signed the images a match selects.

A requirement names authorities (a public key, a keyless identity, a Notation trust policy)
and is satisfied when signatures by at least `threshold` distinct signers verify under any of
them. Unlike source rules, where the most specific rule wins, requirements add up: every
requirement matching an image must hold (a team's requirement cannot be escaped by a broader
one). A `warn` requirement reports and serves.

The shape follows Sigstore policy-controller's ClusterImagePolicy (images glob + authorities,
any authority suffices) and Kyverno's verifyImages (imageReferences + attestors with a
count); docs/signatures.md has the mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from proxy.policy.engine import PolicyEngine
from proxy.policy.errors import PolicyError
from proxy.policy.model import Action, Match, Mode, Rule, Subject
from proxy.signatures.model import Authority

__all__ = ["RequirementSet", "SignatureRequirement"]


@dataclass(frozen=True, slots=True)
class SignatureRequirement:
    id: str
    match: Match
    authorities: tuple[Authority, ...]
    threshold: int = 1  # distinct signers whose signatures must verify
    mode: Mode = Mode.ENFORCE
    description: str = ""


class RequirementSet:
    """The requirements of one policy version, indexed like rules are."""

    __slots__ = ("_by_id", "_engine")

    def __init__(self, requirements: Iterable[SignatureRequirement] = ()) -> None:
        self._by_id: dict[str, SignatureRequirement] = {}
        rules = []
        for requirement in requirements:
            if requirement.id in self._by_id:
                raise PolicyError(f"signature requirement {requirement.id!r}: id is used twice")
            if not requirement.authorities:
                raise PolicyError(f"signature requirement {requirement.id!r} names no authority")
            self._by_id[requirement.id] = requirement
            # The rule engine does the matching; action and mode are not used (an enforced allow
            # is kept by the engine, where a warn-only allow would be dropped).
            rules.append(Rule(requirement.id, requirement.match, Action.ALLOW, Mode.ENFORCE))
        self._engine = PolicyEngine(rules, Action.ALLOW)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def requirements(self) -> tuple[SignatureRequirement, ...]:
        return tuple(self._by_id.values())

    def matching(self, subject: Subject, now: datetime) -> tuple[SignatureRequirement, ...]:
        if not self._by_id:
            return ()
        return tuple(self._by_id[rule.id] for rule in self._engine.matching(subject, now))
