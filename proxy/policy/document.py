"""The policy as one document (YAML or JSON): what `pullgate policy apply -f FILE` and the
admin API's import/export speak, so a policy can live in git and be applied idempotently.

    default_action: deny
    rules:
      - id: library-allowed
        match: {registry: docker.io, repository: "library/*"}
        action: allow
      - id: no-latest
        match: {repository: "**", tag: latest}
        action: deny
        description: pin a version
        owner: platform-team
        expires_at: 2027-01-01T00:00:00Z

Every field is validated with the engine's own compiler, so a document that loads is a
document the gate can enforce. Unknown fields are errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import (
    AwareDatetime,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from proxy.policy.compiled import compile_rule
from proxy.policy.errors import PolicyError
from proxy.policy.match_spec import MatchSpec
from proxy.policy.model import Action, Mode, Rule
from proxy.policy.signing import SignatureRequirement
from proxy.policy.signing_document import RequirementSpec
from proxy.policy.spec_base import ITEM_ID, StrictSpec
from proxy.policy.vulnerability import VulnerabilityException, VulnerabilityPolicy
from proxy.policy.vulnerability_document import ExceptionSpec, VulnerabilityPolicySpec

__all__ = ["MatchSpec", "PolicyDocument", "PolicySections", "RuleSpec", "parse_policy_document"]


class RuleSpec(StrictSpec):
    id: str = Field(pattern=ITEM_ID, description="stable identifier, quoted in denials")
    match: MatchSpec = MatchSpec()
    action: Action
    mode: Mode = Mode.ENFORCE
    description: str = Field(default="", max_length=2000)
    owner: str = Field(default="", max_length=255)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _compiles(self) -> RuleSpec:
        try:
            compile_rule(self.to_rule(), 0)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def to_rule(self) -> Rule:
        return Rule(
            id=self.id,
            match=self.match.to_match(),
            action=self.action,
            mode=self.mode,
            description=self.description,
            owner=self.owner,
            expires_at=self.expires_at,
        )

    @classmethod
    def from_rule(cls, rule: Rule) -> RuleSpec:
        return cls(
            id=rule.id,
            match=MatchSpec.from_match(rule.match),
            action=rule.action,
            mode=rule.mode,
            description=rule.description,
            owner=rule.owner,
            expires_at=rule.expires_at,
        )


class PolicyDocument(StrictSpec):
    default_action: Action = Action.DENY
    rules: list[RuleSpec] = Field(default_factory=list, max_length=200_000)
    signature_requirements: list[RequirementSpec] = Field(default_factory=list, max_length=10_000)
    vulnerability_policies: list[VulnerabilityPolicySpec] = Field(default_factory=list, max_length=10_000)
    vulnerability_exceptions: list[ExceptionSpec] = Field(default_factory=list, max_length=100_000)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules

    @field_validator("signature_requirements", "vulnerability_policies", "vulnerability_exceptions")
    @classmethod
    def _unique_section_ids(cls, specs: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                raise ValueError(f"id {spec.id!r} is used twice")
            seen.add(spec.id)
        return specs

    def to_rules(self) -> list[Rule]:
        return [spec.to_rule() for spec in self.rules]

    def to_requirements(self) -> list[SignatureRequirement]:
        return [spec.to_requirement() for spec in self.signature_requirements]

    def to_sections(self) -> PolicySections:
        return PolicySections(
            requirements=self.to_requirements(),
            vulnerability_policies=[s.to_policy() for s in self.vulnerability_policies],
            vulnerability_exceptions=[s.to_exception() for s in self.vulnerability_exceptions],
        )

    @classmethod
    def of(
        cls,
        default_action: Action,
        rules: list[Rule],
        requirements: Sequence[SignatureRequirement] = (),
        sections: PolicySections | None = None,
    ) -> PolicyDocument:
        if sections is not None:
            requirements = sections.requirements
        return cls(
            default_action=default_action,
            rules=[RuleSpec.from_rule(r) for r in rules],
            signature_requirements=[RequirementSpec.from_requirement(r) for r in requirements],
            vulnerability_policies=[
                VulnerabilityPolicySpec.from_policy(p)
                for p in (sections.vulnerability_policies if sections else ())
            ],
            vulnerability_exceptions=[
                ExceptionSpec.from_exception(e)
                for e in (sections.vulnerability_exceptions if sections else ())
            ],
        )

    def export(self) -> dict[str, Any]:
        exported = self.model_dump(mode="json", exclude_none=True)
        for section in ("signature_requirements", "vulnerability_policies", "vulnerability_exceptions"):
            if not exported[section]:
                del exported[section]  # documents without them stay as they were
        return exported


@dataclass(frozen=True, slots=True)
class PolicySections:
    """The parts of the policy besides the rules, stored and versioned with them."""

    requirements: Sequence[SignatureRequirement] = ()
    vulnerability_policies: Sequence[VulnerabilityPolicy] = ()
    vulnerability_exceptions: Sequence[VulnerabilityException] = ()


def parse_policy_document(text: str) -> PolicyDocument:
    """A policy from YAML or JSON text; `PolicyError` lists every problem, each with its place."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"the policy is not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a mapping with default_action and rules")
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyError("; ".join(describe(err) for err in exc.errors())) from exc


def describe(error: Any) -> str:
    location = ".".join(str(p) for p in error["loc"]) or "(document)"
    return f"{location}: {str(error['msg']).removeprefix('Value error, ')}"
