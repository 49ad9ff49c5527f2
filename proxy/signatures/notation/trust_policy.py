"""A Notation ``trustpolicy.oci.json`` (version 1.0), accepted as Notation writes it.

Rules from trust-store-trust-policy.md (and notation-go, which enforces them at load time);
every broken rule is reported at once in one `TrustMaterialError`:
  - ``version`` is "1.0"; ``trustPolicies`` is a non-empty list; names are non-empty, unique;
  - ``registryScopes``: "*" alone, or fully qualified ``host[:port]/repository`` values; a
    scope (including "*") belongs to one policy only, so there is at most one global policy;
  - ``signatureVerification.level`` is strict, permissive, audit or skip; ``override`` maps
    authenticity / authenticTimestamp / expiry / revocation to enforce or log (revocation may
    also be skip); integrity cannot be overridden; a skip level cannot be overridden and cannot
    be global (the spec: "skip cannot be used with a global scope");
  - a skip policy has no trust stores nor identities; any other has both;
  - trust stores are ``ca:<name>``, ``signingAuthority:<name>`` or ``tsa:<name>``;
  - identities are "*" alone, or ``x509.subject: <DN>`` with C, ST and O and no two that
    overlap (one a subset of the other). Other ``prefix:value`` identities are kept, as
    notation keeps them for plugins, and never match here.
Unknown JSON members are ignored, as Go's decoder in notation ignores them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from proxy.signatures.errors import TrustMaterialError
from proxy.signatures.notation.dn import is_subset, parse_dn

__all__ = [
    "Action",
    "Check",
    "Level",
    "TrustPolicy",
    "TrustPolicyDocument",
    "TrustedIdentity",
    "parse_trust_policy",
    "select_policy",
]

GLOBAL_SCOPE = "*"
X509_SUBJECT = "x509.subject"
STORE_TYPES = ("ca", "signingAuthority", "tsa")


class Level(StrEnum):
    STRICT = "strict"
    PERMISSIVE = "permissive"
    AUDIT = "audit"
    SKIP = "skip"


class Check(StrEnum):
    INTEGRITY = "integrity"
    AUTHENTICITY = "authenticity"
    AUTHENTIC_TIMESTAMP = "authenticTimestamp"
    EXPIRY = "expiry"
    REVOCATION = "revocation"


class Action(StrEnum):
    ENFORCE = "enforce"
    LOG = "log"
    SKIP = "skip"


_E, _L = Action.ENFORCE, Action.LOG
# The spec's table: what each level does with a failure of each check, in `Check` order
# (integrity, authenticity, authenticTimestamp, expiry, revocation).
_LEVEL_ACTIONS: Mapping[Level, tuple[Action, ...]] = MappingProxyType(
    {
        Level.STRICT: (_E, _E, _E, _E, _E),
        Level.PERMISSIVE: (_E, _E, _L, _L, _L),
        Level.AUDIT: (_E, _L, _L, _L, _L),
        Level.SKIP: (Action.SKIP,) * 5,
    }
)
_SCOPE = re.compile(
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"(?::[0-9]+)?/[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*)*"
)
_STORE_NAME = re.compile(r"[a-zA-Z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class TrustedIdentity:
    raw: str
    subject: Mapping[str, str] | None  # parsed x509.subject; None for other identity types


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    name: str
    registry_scopes: tuple[str, ...]
    level: Level
    actions: Mapping[Check, Action]  # the level's table with the overrides applied
    trust_stores: tuple[tuple[str, str], ...]  # ("ca", "acme-rockets"), ...
    trusted_identities: tuple[TrustedIdentity, ...]
    any_identity: bool  # trustedIdentities is ["*"]
    verify_timestamp: str = "always"  # or "afterCertExpiry": when a TSA timestamp is required

    def action(self, check: Check) -> Action:
        return self.actions[check]


@dataclass(frozen=True, slots=True)
class TrustPolicyDocument:
    version: str
    policies: tuple[TrustPolicy, ...]


def parse_trust_policy(content: str | bytes | Mapping[str, Any]) -> TrustPolicyDocument:
    """The document, or `TrustMaterialError` listing every rule it breaks."""
    data = _load_json(content) if isinstance(content, str | bytes) else content
    if not isinstance(data, Mapping):
        raise TrustMaterialError("a Notation trust policy must be a JSON object")
    problems: list[str] = []
    if data.get("version") != "1.0":
        problems.append(f'version must be "1.0", not {data.get("version")!r}')
    entries = data.get("trustPolicies")
    if not isinstance(entries, list) or not entries:
        problems.append("trustPolicies must be a non-empty list")
        entries = []
    policies = []
    for index, entry in enumerate(entries):
        policy = _parse_policy(entry, f"trustPolicies[{index}]", problems)
        if policy is not None:
            policies.append(policy)
    _check_document(policies, problems)
    if problems:
        raise TrustMaterialError("invalid Notation trust policy: " + "; ".join(problems))
    return TrustPolicyDocument(version="1.0", policies=tuple(policies))


def select_policy(doc: TrustPolicyDocument, repository: str) -> TrustPolicy | None:
    """The policy whose scope names ``<registry>/<repository>`` exactly, else the global one."""
    exact = next((p for p in doc.policies if repository in p.registry_scopes), None)
    if exact is not None:
        return exact
    return next((p for p in doc.policies if GLOBAL_SCOPE in p.registry_scopes), None)


def _load_json(content: str | bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustMaterialError(f"the Notation trust policy is not JSON: {exc}") from None


def _parse_policy(entry: object, where: str, problems: list[str]) -> TrustPolicy | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where} must be an object")
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where} has no name")
        return None
    where = f"trust policy {name!r}"
    scopes = _strings(entry.get("registryScopes"), f"{where}: registryScopes", problems)
    verification = entry.get("signatureVerification")
    level, actions = _verification(verification, where, problems)
    stores = _strings(entry.get("trustStores", []), f"{where}: trustStores", problems)
    identities = _strings(entry.get("trustedIdentities", []), f"{where}: trustedIdentities", problems)
    _check_scopes(scopes, level, where, problems)
    if level is Level.SKIP and (stores or identities):
        problems.append(f"{where} skips verification, so it must not name trustStores nor trustedIdentities")
    if level is not None and level is not Level.SKIP and not (stores and identities):
        problems.append(f"{where} must name both trustStores and trustedIdentities")
    parsed_identities = _identities(identities, where, problems)
    return TrustPolicy(
        name=name,
        registry_scopes=tuple(scopes),
        level=level or Level.STRICT,
        actions=actions,
        trust_stores=_stores(stores, where, problems),
        trusted_identities=parsed_identities,
        any_identity=identities == [GLOBAL_SCOPE],
        verify_timestamp=str(verification.get("verifyTimestamp", "always"))
        if isinstance(verification, Mapping)
        else "always",
    )


def _strings(value: object, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} must be a list of strings")
        return []
    return list(value)


def _verification(
    value: object, where: str, problems: list[str]
) -> tuple[Level | None, Mapping[Check, Action]]:
    if not isinstance(value, Mapping) or value.get("level") not in tuple(Level):
        level = value.get("level") if isinstance(value, Mapping) else None
        problems.append(
            f"{where}: signatureVerification.level must be one of {', '.join(Level)}, not {level!r}"
        )
        return None, MappingProxyType({})
    level = Level(value["level"])
    actions = dict(zip(Check, _LEVEL_ACTIONS[level], strict=True))
    override = value.get("override") or {}
    if not isinstance(override, Mapping):
        problems.append(f"{where}: signatureVerification.override must be an object")
        override = {}
    if override and level is Level.SKIP:
        problems.append(f"{where}: the skip level cannot be overridden")
    for check, action in override.items():
        if check not in tuple(Check) or check == Check.INTEGRITY:
            problems.append(
                f"{where}: {check!r} cannot be overridden (authenticity, authenticTimestamp, expiry, revocation can)"
            )
        elif action not in tuple(Action) or (action == Action.SKIP and check != Check.REVOCATION):
            problems.append(
                f"{where}: override {check} must be enforce or log{' or skip' if check == Check.REVOCATION else ''}, not {action!r}"
            )
        else:
            actions[Check(check)] = Action(action)
    verify_timestamp = value.get("verifyTimestamp", "always")
    if verify_timestamp not in ("always", "afterCertExpiry"):
        problems.append(
            f"{where}: verifyTimestamp must be always or afterCertExpiry, not {verify_timestamp!r}"
        )
    return level, MappingProxyType(actions)


def _check_scopes(scopes: list[str], level: Level | None, where: str, problems: list[str]) -> None:
    if not scopes:
        problems.append(f"{where} needs at least one registry scope")
    if GLOBAL_SCOPE in scopes and len(scopes) > 1:
        problems.append(f'{where}: the global scope "*" cannot be combined with other scopes')
    if GLOBAL_SCOPE in scopes and level is Level.SKIP:
        problems.append(f'{where}: the skip level cannot be used with the global scope "*"')
    for scope in scopes:
        if scope != GLOBAL_SCOPE and not _SCOPE.fullmatch(scope):
            problems.append(
                f"{where}: registry scope {scope!r} is not a fully qualified repository (host/repository)"
            )


def _stores(stores: list[str], where: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for store in stores:
        kind, _, name = store.partition(":")
        if kind not in STORE_TYPES or not _STORE_NAME.fullmatch(name):
            problems.append(
                f"{where}: trust store {store!r} is not ca:<name>, signingAuthority:<name> or tsa:<name> (name of [a-zA-Z0-9_.-])"
            )
        else:
            parsed.append((kind, name))
    return tuple(parsed)


def _identities(identities: list[str], where: str, problems: list[str]) -> tuple[TrustedIdentity, ...]:
    if GLOBAL_SCOPE in identities and len(identities) > 1:
        problems.append(f'{where}: the identity "*" cannot be combined with other identities')
    parsed = []
    for raw in identities:
        if raw == GLOBAL_SCOPE:
            continue
        prefix, colon, value = raw.partition(":")
        if not colon or not value.strip():
            problems.append(f"{where}: trusted identity {raw!r} is not of the form x509.subject: <DN>")
            continue
        subject = None
        if prefix == X509_SUBJECT:
            try:
                subject = MappingProxyType(parse_dn(value))
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
        parsed.append(TrustedIdentity(raw=raw, subject=subject))
    subjects = [i for i in parsed if i.subject is not None]
    for i, first in enumerate(subjects):
        for second in subjects[i + 1 :]:
            assert first.subject is not None and second.subject is not None
            if is_subset(first.subject, second.subject) or is_subset(second.subject, first.subject):
                problems.append(f"{where}: trusted identities {first.raw!r} and {second.raw!r} overlap")
    return tuple(parsed)


def _check_document(policies: list[TrustPolicy], problems: list[str]) -> None:
    names: set[str] = set()
    owners: dict[str, list[str]] = {}
    for policy in policies:
        if policy.name in names:
            problems.append(f"trust policy name {policy.name!r} is used more than once")
        names.add(policy.name)
        for scope in policy.registry_scopes:
            owners.setdefault(scope, []).append(policy.name)
    for scope, names_of in owners.items():
        if len(names_of) > 1:
            # One policy per scope, so "*" too: there is at most one global policy.
            problems.append(
                f"registry scope {scope!r} appears more than once (trust policies {', '.join(map(repr, names_of))})"
            )
