"""trustpolicy.oci.json: the spec's own examples load, every broken rule is named, scopes select."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.signatures.errors import TrustMaterialError
from proxy.signatures.notation.dn import parse_dn
from proxy.signatures.notation.trust_policy import (
    Action,
    Check,
    Level,
    parse_trust_policy,
    select_policy,
)
from tests.support.notation import policy, trust_policy_document, write_trust_policy

# The second example of trust-store-trust-policy.md, as published.
SPEC_EXAMPLE: dict[str, Any] = {
    "version": "1.0",
    "trustPolicies": [
        {
            "name": "wabbit-networks-images",
            "registryScopes": [
                "registry.acme-rockets.io/software/net-monitor",
                "registry.acme-rockets.io/software/net-logger",
            ],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:wabbit-networks"],
            "trustedIdentities": [
                "x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"
            ],
        },
        {
            "name": "unsigned-image",
            "registryScopes": ["registry.wabbit-networks.io/software/unsigned/net-utils"],
            "signatureVerification": {"level": "skip"},
        },
        {
            "name": "use-expired-image",
            "registryScopes": ["registry.acme-rockets.io/software/legacy/metrics"],
            "signatureVerification": {"level": "strict", "override": {"expiry": "log", "revocation": "skip"}},
            "trustStores": ["ca:acme-rockets"],
            "trustedIdentities": ["*"],
        },
        {
            "name": "global-policy-for-all-other-images",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "audit"},
            "trustStores": ["ca:acme-rockets", "ca:acme-rockets-ca2"],
            "trustedIdentities": [
                "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder"
            ],
        },
    ],
}


def test_the_spec_example_loads_from_a_file(tmp_path: Path) -> None:
    path = write_trust_policy(tmp_path, SPEC_EXAMPLE)
    doc = parse_trust_policy(path.read_text())
    assert [p.name for p in doc.policies] == [p["name"] for p in SPEC_EXAMPLE["trustPolicies"]]
    strict, skip, custom, audit = doc.policies
    assert strict.trust_stores == (("ca", "wabbit-networks"),)
    assert strict.trusted_identities[0].subject == {
        "C": "US",
        "ST": "WA",
        "L": "Seattle",
        "O": "wabbit-networks.io",
        "OU": "Security Tools",
    }
    assert skip.level is Level.SKIP and skip.trust_stores == ()
    assert custom.any_identity
    assert custom.action(Check.EXPIRY) is Action.LOG
    assert custom.action(Check.REVOCATION) is Action.SKIP
    assert custom.action(Check.AUTHENTICITY) is Action.ENFORCE
    assert [audit.action(c) for c in Check] == [Action.ENFORCE] + [Action.LOG] * 4


@pytest.mark.parametrize(
    ("level", "actions"),
    [
        ("strict", "EEEEE"),
        ("permissive", "EELLL"),
        ("audit", "ELLLL"),
    ],
)
def test_level_table(level: str, actions: str) -> None:
    doc = parse_trust_policy(trust_policy_document(policy(level=level)))
    expected = [Action.ENFORCE if a == "E" else Action.LOG for a in actions]
    assert [doc.policies[0].action(c) for c in Check] == expected


def _broken(**changes: Any) -> dict[str, Any]:
    entry = policy()
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return trust_policy_document(entry)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "2.0", "trustPolicies": [policy()]}, 'version must be "1.0"'),
        ({"version": "1.0", "trustPolicies": []}, "trustPolicies must be a non-empty list"),
        (_broken(name=""), "has no name"),
        (trust_policy_document(policy("a"), policy("a", scopes=["r.io/x"])), "'a' is used more than once"),
        (_broken(registryScopes=[]), "needs at least one registry scope"),
        (_broken(registryScopes=["*", "r.io/x"]), "cannot be combined with other scopes"),
        (_broken(registryScopes=["net-monitor"]), "is not a fully qualified repository"),
        (_broken(registryScopes=["https://r.io/x"]), "is not a fully qualified repository"),
        (trust_policy_document(policy("a"), policy("b")), "registry scope '*' appears more than once"),
        (
            trust_policy_document(policy("a", scopes=["r.io/x"]), policy("b", scopes=["r.io/x"])),
            "registry scope 'r.io/x' appears more than once",
        ),
        (_broken(signatureVerification={"level": "lenient"}), "level must be one of"),
        (_broken(signatureVerification=None), "level must be one of"),
        (
            _broken(signatureVerification={"level": "strict", "override": {"integrity": "log"}}),
            "'integrity' cannot be overridden",
        ),
        (
            _broken(signatureVerification={"level": "strict", "override": {"bogus": "log"}}),
            "'bogus' cannot be overridden",
        ),
        (
            _broken(signatureVerification={"level": "strict", "override": {"expiry": "skip"}}),
            "override expiry must be enforce or log",
        ),
        (
            _broken(signatureVerification={"level": "strict", "override": {"revocation": "maybe"}}),
            "enforce or log or skip",
        ),
        (
            trust_policy_document(
                policy(scopes=["r.io/x"], level="skip", stores=(), identities=())
                | {"signatureVerification": {"level": "skip", "override": {"revocation": "log"}}}
            ),
            "the skip level cannot be overridden",
        ),
        (
            _broken(signatureVerification={"level": "skip"}, registryScopes=["r.io/x"]),
            "must not name trustStores nor trustedIdentities",
        ),
        (
            trust_policy_document(policy(level="skip", stores=(), identities=())),
            'skip level cannot be used with the global scope "*"',
        ),
        (_broken(trustStores=None), "must name both trustStores and trustedIdentities"),
        (_broken(trustedIdentities=[]), "must name both trustStores and trustedIdentities"),
        (_broken(trustStores=["acme-rockets"]), "is not ca:<name>"),
        (_broken(trustStores=["x509:acme"]), "is not ca:<name>"),
        (_broken(trustStores=["ca:acme/rockets"]), "is not ca:<name>"),
        (_broken(trustStores="ca:acme"), "trustStores must be a list of strings"),
        (
            _broken(trustedIdentities=["*", "x509.subject: C=US, ST=WA, O=a"]),
            'identity "*" cannot be combined',
        ),
        (_broken(trustedIdentities=["x509.subject: C=US, O=a"]), "lacks ST"),
        (_broken(trustedIdentities=["x509.subject: C=US, ST=WA, O=a+OU=b"]), "multi-valued RDN"),
        (_broken(trustedIdentities=["x509.subject: C=US, ST=WA, O=a, O=b"]), "names O twice"),
        (_broken(trustedIdentities=["x509.subject:"]), "is not of the form x509.subject: <DN>"),
        (_broken(trustedIdentities=["acme"]), "is not of the form x509.subject: <DN>"),
        (
            _broken(
                trustedIdentities=["x509.subject: C=US, ST=WA, O=a, OU=b", "x509.subject: C=US, ST=WA, O=a"]
            ),
            "overlap",
        ),
    ],
)
def test_broken_rules_are_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustMaterialError, match="invalid Notation trust policy") as raised:
        parse_trust_policy(json.dumps(document))
    assert message in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    document = trust_policy_document(
        policy("a", stores=["nope"]), policy("a", scopes=["bad scope"], identities=["x509.subject: C=US"])
    )
    with pytest.raises(TrustMaterialError) as raised:
        parse_trust_policy(document)
    message = str(raised.value)
    for part in (
        "'nope' is not ca:<name>",
        "'bad scope' is not a fully qualified",
        "lacks ST, O",
        "'a' is used more than once",
    ):
        assert part in message


@pytest.mark.parametrize("content", ["", "{", "[]", '"x"', b"\xff\xfe\x00"])
def test_not_a_json_object(content: str | bytes) -> None:
    with pytest.raises(TrustMaterialError):
        parse_trust_policy(content)


def test_unknown_members_and_plugin_identities_are_accepted_as_notation_does() -> None:
    entry = policy(identities=["x509.subject: C=US, ST=WA, O=a", "com.example.plugin:build-42"])
    doc = parse_trust_policy(trust_policy_document(entry | {"comment": "hi"}) | {"extra": 1})
    assert [i.subject is None for i in doc.policies[0].trusted_identities] == [False, True]


def test_scope_selection_prefers_the_exact_scope_over_the_global_one() -> None:
    doc = parse_trust_policy(SPEC_EXAMPLE)

    def selected(repository: str) -> str | None:
        chosen = select_policy(doc, repository)
        return chosen.name if chosen else None

    assert selected("registry.acme-rockets.io/software/net-logger") == "wabbit-networks-images"
    assert selected("registry.acme-rockets.io/software/legacy/metrics") == "use-expired-image"
    assert selected("registry.acme-rockets.io/software") == "global-policy-for-all-other-images"
    assert selected("docker.io/library/alpine") == "global-policy-for-all-other-images"


def test_without_a_global_policy_an_unscoped_repository_has_none() -> None:
    doc = parse_trust_policy(trust_policy_document(policy(scopes=["r.example.com:5000/team/app"])))
    assert select_policy(doc, "r.example.com:5000/team/app") is not None
    assert select_policy(doc, "r.example.com:5000/team/other") is None
    assert select_policy(doc, "R.example.com:5000/team/app") is None  # scopes are exact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C=US, ST=WA, O=acme", {"C": "US", "ST": "WA", "O": "acme"}),
        ("o=acme;st=WA ,c=US", {"O": "acme", "ST": "WA", "C": "US"}),
        (
            r"C=US, ST=WA, O=a\,b\;c\\d, CN=\ padded\ ",
            {"C": "US", "ST": "WA", "O": r"a,b;c\d", "CN": " padded "},
        ),
        (r"C=US, ST=WA, O=caf\C3\A9", {"C": "US", "ST": "WA", "O": "café"}),
    ],
)
def test_distinguished_names(text: str, expected: dict[str, str]) -> None:
    assert parse_dn(text) == expected


@pytest.mark.parametrize(
    "text", [r"C=US, ST=WA, O=a\q", "C=US, ST=WA, O=#0403", "C=US, , ST=WA, O=a", "C=US, ST=WA, Oacme"]
)
def test_bad_distinguished_names(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dn(text)
