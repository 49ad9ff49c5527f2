"""Signature requirements applied to one image: discover, verify, explain.

For each requirement matching the image (all must hold): every authority is tried on every
signature artifact of the kind it accepts, found for the image or an index listing it; the
requirement holds when signatures of at least `threshold` distinct signers verify. An
enforced requirement that does not hold denies; a warn-mode one adds a warning and serves.
If signatures cannot be looked for (upstream down) the image is `pending`: not served, and
not judged unsigned either.

Verifications are cached per (signature artifact, subject, image repository, authority,
policy version): the policy version moves with every change of requirements or trust
material, and an artifact digest names its exact bytes, so a cached result can only go
stale by the clock — certificates are checked at their proven signing time, not "now".
Signature tags are mutable; the mirror re-resolves them on the tag TTL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.gate.signing.discovery import DiscoveryFailed, Found, SignatureFinder
from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from proxy.policy.model import Mode, Outcome, Reason, Verdict, worst
from proxy.policy.signing import SignatureRequirement
from proxy.signatures.model import (
    Authority,
    KeyAuthority,
    KeylessAuthority,
    NotationAuthority,
    SignatureArtifact,
    SignedImage,
    Verification,
)
from proxy.signatures.trust import TrustSet
from proxy.signatures.verify import accepts, verify_artifact

__all__ = ["Inspection", "SignatureCheck", "combine", "describe_authority"]

log = logging.getLogger(__name__)

_CacheKey = tuple[str, str, str, str, int]  # artifact, subject, repository, authority, version


@dataclass(frozen=True, slots=True)
class Inspection:
    found: tuple[Found, ...]  # per subject (the image, each index listing it), its artifacts
    verdict: Verdict  # one reason per requirement, its `detail` naming who verified
    problem: str | None  # signatures could not be looked for or checked


class SignatureCheck:
    def __init__(self, finder: SignatureFinder, cache_entries: int = 50_000) -> None:
        self._finder = finder
        self._results: LRU[_CacheKey, tuple[Verification, ...]] = LRU(cache_entries)

    async def check(
        self,
        key: RepoKey,
        digest: Digest,
        requirements: Sequence[SignatureRequirement],
        trust: TrustSet,
        policy_version: int,
    ) -> Verdict:
        return (await self.inspect(key, digest, requirements, trust, policy_version)).verdict

    async def inspect(
        self,
        key: RepoKey,
        digest: Digest,
        requirements: Sequence[SignatureRequirement],
        trust: TrustSet,
        policy_version: int,
    ) -> Inspection:
        """The signature artifacts found for the image and the verdict of `requirements` on them
        (with none, the artifacts only: an admin asking "who signed this?")."""
        repositories = _signature_repositories(key, requirements)
        try:
            found = await self._finder.find(key, digest, repositories)
        except DiscoveryFailed as exc:
            return Inspection((), _undiscoverable(requirements, str(exc)), str(exc))
        reasons: list[Reason] = []
        outcome = Outcome.ALLOW
        for requirement in requirements:
            try:
                results = await self._verify(key, found, requirement, trust, policy_version)
            except Exception as exc:  # a verifier bug, not a bad signature: wait, never allow
                log.exception("verifying signatures of %s@%s crashed", key, digest)
                problem = f"the verifier failed ({type(exc).__name__})"
                return Inspection(tuple(found), _undiscoverable(requirements, problem, "verified"), problem)
            held, reason = _judge(requirement, results, found, key, digest)
            reasons.append(reason)
            if not held:
                outcome = worst(outcome, Outcome.DENY if requirement.mode is Mode.ENFORCE else Outcome.WARN)
        return Inspection(tuple(found), Verdict(outcome, tuple(reasons)), None)

    async def _verify(
        self,
        key: RepoKey,
        found: list[Found],
        requirement: SignatureRequirement,
        trust: TrustSet,
        version: int,
    ) -> list[Verification]:
        results: list[Verification] = []
        todo: list[tuple[_CacheKey, SignatureArtifact, SignedImage, Authority]] = []
        for place in found:
            image = SignedImage(str(place.subject), f"{key.upstream}/{key.name}")
            for authority in requirement.authorities:
                for artifact in place.artifacts:
                    if not accepts(authority, artifact.kind):
                        continue
                    cache_key = (artifact.digest, image.digest, image.repository, authority.name, version)
                    cached = self._results.get(cache_key)
                    if cached is not None:
                        results.extend(cached)
                    else:
                        todo.append((cache_key, artifact, image, authority))
        if todo:
            # Certificate chains and signatures cost milliseconds each: off the event loop.
            computed = await asyncio.to_thread(
                lambda: [
                    verify_artifact(artifact, image, authority, trust)
                    for _, artifact, image, authority in todo
                ]
            )
            for (cache_key, *_), verifications in zip(todo, computed, strict=True):
                self._results.put(cache_key, tuple(verifications))
                results.extend(verifications)
        return results


def combine(verdict: Verdict, later: Verdict) -> Verdict:
    """A later check's verdict joined to the one so far: the more restrictive outcome wins,
    and the reasons that decided it come first."""
    if later.outcome.restriction > verdict.outcome.restriction:
        return Verdict(later.outcome, (*later.reasons, *verdict.reasons))
    return Verdict(verdict.outcome, (*verdict.reasons, *later.reasons))


def describe_authority(authority: Authority) -> str:
    if isinstance(authority, KeyAuthority):
        return f"{authority.name} (key {authority.key})"
    if isinstance(authority, KeylessAuthority):
        who = ", ".join(
            f"{i.subject or '/' + str(i.subject_regex) + '/'} from {i.issuer or '/' + str(i.issuer_regex) + '/'}"
            for i in authority.identities
        )
        return f"{authority.name} (keyless: {who})"
    assert isinstance(authority, NotationAuthority)
    return f"{authority.name} (Notation trust policy {authority.trust_policy})"


def _judge(
    requirement: SignatureRequirement,
    results: list[Verification],
    found: list[Found],
    key: RepoKey,
    digest: Digest,
) -> tuple[bool, Reason]:
    verified = [r for r in results if r.ok]
    signers = sorted({r.signer or r.message for r in verified})
    required = " or ".join(describe_authority(a) for a in requirement.authorities)
    detail = {
        "requirement": requirement.id,
        "held": len(signers) >= requirement.threshold,
        "mode": requirement.mode.value,
        "threshold": requirement.threshold,
        "required": [describe_authority(a) for a in requirement.authorities],
        "verified": [{"authority": r.authority, "signer": r.signer, "message": r.message} for r in verified],
        "rejected": [{"authority": r.authority, "message": r.message} for r in results if not r.ok][:20],
        "notes": sorted({n for r in verified for n in r.notes}),
    }
    if len(signers) >= requirement.threshold:
        message = f"signature requirement {requirement.id}: " + "; ".join(r.message for r in verified)
        return True, Reason("signature", message, detail=detail)
    needs = (
        "a signature"
        if requirement.threshold == 1
        else f"signatures of {requirement.threshold} distinct signers"
    )
    prefix = f"signature requirement {requirement.id}{' (warn)' if requirement.mode is Mode.WARN else ''}"
    if not any(place.artifacts for place in found):
        looked = ", ".join(
            f"{place.subject.tag_form}.sig and referrers of {place.subject}" for place in found
        )
        what = f"no signature found in {key} (looked for {looked})"
    else:
        failures = [r.message for r in results if not r.ok]
        what = (
            "; ".join(dict.fromkeys(failures))
            if failures
            else "no signature of a kind these authorities accept"
        )
        if verified:
            what = f"only {len(signers)} distinct signer(s) verified; {what}"
    message = f"{prefix}: needs {needs} by {required}; {what} (image {digest})"
    return False, Reason("signature", message, detail=detail)


def _undiscoverable(
    requirements: Sequence[SignatureRequirement], problem: str, what: str = "looked for"
) -> Verdict:
    """Signatures could not be looked for or checked: pending (warn-only requirements: warn)."""
    enforced = any(r.mode is Mode.ENFORCE for r in requirements)
    ids = ", ".join(r.id for r in requirements)
    message = f"signature requirement {ids}: signatures could not be {what} ({problem}); retry later"
    outcome = Outcome.PENDING if enforced else Outcome.WARN
    return Verdict(outcome, (Reason("signature", message, detail={"requirements": ids}),))


def _signature_repositories(key: RepoKey, requirements: Sequence[SignatureRequirement]) -> list[RepoKey]:
    names = {
        a.signature_repository
        for r in requirements
        for a in r.authorities
        if isinstance(a, KeyAuthority | KeylessAuthority) and a.signature_repository
    }
    return [RepoKey(key.upstream, RepositoryName.parse(name)) for name in sorted(names)]
