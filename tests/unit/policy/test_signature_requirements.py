"""Signature requirements: matched like rules, but every matching one applies; validated
strictly when the policy document is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proxy.policy.document import PolicyDocument, parse_policy_document
from proxy.policy.errors import PolicyError
from proxy.policy.model import Match, Subject
from proxy.policy.signing import RequirementSet, SignatureRequirement
from proxy.signatures.model import Identity, KeyAuthority, KeylessAuthority, NotationAuthority

NOW = datetime(2026, 11, 23, tzinfo=UTC)
KEY = KeyAuthority("ci", "ci-key")


def _subject(repository: str, *tags: str, registry: str = "docker.io") -> Subject:
    return Subject(registry, repository, "sha256:" + "a" * 64, frozenset(tags))


def test_every_matching_requirement_applies_in_policy_order() -> None:
    requirements = RequirementSet(
        [
            SignatureRequirement("broad", Match(repository="**"), (KEY,)),
            SignatureRequirement("team", Match(repository="team/**"), (KEY,)),
            SignatureRequirement("releases", Match(repository="team/*", tag="v*"), (KEY,)),
            SignatureRequirement("elsewhere", Match(repository="**", registry="ghcr.io"), (KEY,)),
        ]
    )
    assert [r.id for r in requirements.matching(_subject("team/app", "v1"), NOW)] == [
        "broad",
        "team",
        "releases",
    ]
    assert [r.id for r in requirements.matching(_subject("team/app", "latest"), NOW)] == ["broad", "team"]
    assert [r.id for r in requirements.matching(_subject("library/x"), NOW)] == ["broad"]
    assert RequirementSet().matching(_subject("team/app"), NOW) == ()


def test_a_requirement_without_authorities_or_with_a_duplicate_id_is_refused() -> None:
    with pytest.raises(PolicyError, match="names no authority"):
        RequirementSet([SignatureRequirement("empty", Match(), ())])
    with pytest.raises(PolicyError, match="used twice"):
        RequirementSet(
            [SignatureRequirement("a", Match(), (KEY,)), SignatureRequirement("a", Match(), (KEY,))]
        )


DOCUMENT = r"""
default_action: allow
signature_requirements:
  - id: team
    match: {repository: "team/**"}
    mode: warn
    threshold: 2
    authorities:
      - {name: k, key: {trust: ci-key}, annotations: {env: prod}, check_reference: true,
         signature_repository: sigs/team}
      - name: kl
        keyless:
          trusted_root: corp
          identities: [{issuer: "https://issuer.example", subject_regex: '^ci@corp\.example$'}]
      - {name: n, notation: {trust_policy: corp-notation}}
"""


def test_the_document_round_trips() -> None:
    document = parse_policy_document(DOCUMENT)
    (requirement,) = document.to_requirements()
    assert requirement.threshold == 2 and requirement.mode.value == "warn"
    key, keyless, notation = requirement.authorities
    assert key == KeyAuthority("k", "ci-key", {"env": "prod"}, True, "sigs/team")
    assert keyless == KeylessAuthority(
        "kl", "corp", (Identity(issuer="https://issuer.example", subject_regex=r"^ci@corp\.example$"),)
    )
    assert notation == NotationAuthority("n", "corp-notation")
    again = PolicyDocument.of(document.default_action, document.to_rules(), document.to_requirements())
    assert again == document
    assert parse_policy_document(str(again.export()).replace("'", '"').replace("True", "true")) == document


def test_documents_without_requirements_export_as_before() -> None:
    assert "signature_requirements" not in parse_policy_document("default_action: deny").export()


@pytest.mark.parametrize(
    ("authority", "problem"),
    [
        ("{name: a}", "exactly one of key, keyless and notation"),
        (
            "{name: a, key: {trust: k}, notation: {trust_policy: p}}",
            "exactly one of key, keyless and notation",
        ),
        ("{name: a, notation: {trust_policy: p}, check_reference: true}", "apply to cosign authorities"),
        ("{name: a, keyless: {trusted_root: r, identities: []}}", "at least 1 item"),
        ("{name: a, keyless: {trusted_root: r, identities: [{issuer: x}]}}", "exactly one of subject"),
        (
            "{name: a, keyless: {trusted_root: r, identities: [{issuer: x, issuer_regex: y, subject: s}]}}",
            "exactly one of issuer",
        ),
        (
            "{name: a, keyless: {trusted_root: r, identities: [{issuer: x, subject_regex: '(a'}]}}",
            "subject_regex",
        ),
        (
            "{name: a, keyless: {trusted_root: r, identities: [{issuer: x, subject_regex: '(a+)+$'}]}}",
            "subject_regex",
        ),
        ("{name: 'bad name', key: {trust: k}}", "name"),
        ("{name: a, key: {trust: k}, signature_repository: '../x'}", "signature_repository"),
        ("{name: a, key: {trust: k}, surprise: 1}", "Extra inputs"),
    ],
)
def test_invalid_authorities_are_refused_with_their_place(authority: str, problem: str) -> None:
    text = f"signature_requirements: [{{id: r, authorities: [{authority}]}}]"
    with pytest.raises(PolicyError) as caught:
        parse_policy_document(text)
    assert problem in str(caught.value)
    assert "signature_requirements.0" in str(caught.value)


def test_requirement_level_problems() -> None:
    two = "{name: a, key: {trust: k}}"
    with pytest.raises(PolicyError, match="unique"):
        parse_policy_document(f"signature_requirements: [{{id: r, authorities: [{two}, {two}]}}]")
    with pytest.raises(PolicyError, match="used twice"):
        parse_policy_document(
            f"signature_requirements: [{{id: r, authorities: [{two}]}}, {{id: r, authorities: [{two}]}}]"
        )
    with pytest.raises(PolicyError, match="threshold"):
        parse_policy_document(f"signature_requirements: [{{id: r, threshold: 0, authorities: [{two}]}}]")
    with pytest.raises(PolicyError, match="authorities"):
        parse_policy_document("signature_requirements: [{id: r, authorities: []}]")
