"""The gate service: every manifest decided before a byte of it is served, every blob served
only on behalf of an allowed image, every decision explained and audited.

Order of a manifest request: the mirror resolves and fetches (the bytes are needed to know
what the image is), then `decide` runs the checks — signature/attestation artifacts are let
through; otherwise the review state (released / rejected), the rules, and later checks
(signatures, scans) combine into one outcome, the most restrictive winning. Anything that
goes wrong while deciding denies (DESIGN.md invariant 2); a database that cannot be used
denies with its own message (`outage.py`), and only a decision made before it failed, still
within its cache lifetime, is reused meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from db.decision_queries import DecisionStore
from db.quarantine_queries import QuarantineStore
from db.queries import MetadataStore
from proxy.cache.blobs import BlobSource
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.manifests import CachedManifest
from proxy.cache.mirror import Mirror, ServedManifest
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Coalescer
from proxy.gate import outage
from proxy.gate.artifacts import is_signature_artifact
from proxy.gate.audit import AuditUnavailableError, AuditWriter
from proxy.gate.decision import Decision, denial
from proxy.gate.holding import Holds
from proxy.gate.policy_state import PolicySnapshot, PolicyState
from proxy.gate.records import ClientInfo, audit_record, decision_row, image_name, now
from proxy.gate.review import apply_review
from proxy.gate.scans.check import VulnerabilityCheck
from proxy.gate.signing.check import SignatureCheck, combine
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.reference import Tag
from proxy.policy.model import Outcome, Reason, Subject, Verdict
from proxy.settings import GateSettings

__all__ = ["ClientInfo", "Gate", "GatedManifest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatedManifest:
    served: ServedManifest
    decision: Decision


class Gate:
    def __init__(
        self,
        *,
        mirror: Mirror,
        meta: MetadataStore,
        repositories: RepositoryIds,
        policy: PolicyState,
        reviews: QuarantineStore,
        decisions: DecisionStore,
        audit: AuditWriter,
        metrics: Metrics,
        settings: GateSettings,
        signatures: SignatureCheck,
        vulnerabilities: VulnerabilityCheck | None = None,
        console: str | None = None,  # the console's decision URL less the id: denials link to it
    ) -> None:
        self.mirror = mirror
        self.signatures = signatures
        self._console = console
        self._vulnerabilities = vulnerabilities
        self._meta = meta
        self._repositories = repositories
        self.policy = policy
        self._reviews = reviews
        self._decisions = decisions
        self._audit = audit
        self._metrics = metrics
        self._settings = settings
        self._cache: LRU[tuple[RepoKey, Digest, str | None], Decision] = LRU(100_000)
        # -> (policy version, end of the allowing decision's cache lifetime)
        self._blobs_allowed: LRU[tuple[RepoKey, Digest], tuple[int, datetime]] = LRU(200_000)
        self._holds = Holds(mirror=mirror, reviews=reviews, prefetch_blobs=settings.quarantine_prefetch_blobs)
        self._deciding: Coalescer[tuple[RepoKey, Digest, str | None, int], Decision] = Coalescer()

    # -- manifests ----------------------------------------------------------------------
    async def manifest(self, key: RepoKey, reference: Tag | Digest, client: ClientInfo) -> GatedManifest:
        tag = str(reference) if isinstance(reference, Tag) else None
        try:
            served = await self.mirror.manifest(key, reference)
            cached = await self.mirror.cached_manifest(key, served.digest)
        except Exception as exc:
            if not outage.unavailable(exc):
                raise
            # Not even the image is known without the database: deny, and audit the attempt.
            digest = reference if isinstance(reference, Digest) else None
            log.error("pull of %s: the database is unavailable (%s); denying", key, exc)
            undecided = outage.cannot_decide(image_name(key, digest, tag), exc)
            await self._audit.record(audit_record(key, digest, tag, undecided, client), serves=False)
            raise denial(undecided) from exc
        decision = await self.decide(key, cached, tag)
        record = audit_record(key, served.digest, tag, decision, client)
        try:
            await self._audit.record(record, serves=decision.outcome.serves)
        except AuditUnavailableError as exc:
            raise outage.unaudited(decision, exc.failing) from exc
        if not decision.outcome.serves:
            raise denial(decision, self._console)
        # The client asks for these blobs next: they are allowed by this very decision, so
        # their authorisation needs no query (and still works if the database goes away).
        allowed = (decision.policy_version, self._expiry(decision))
        for descriptor in cached.manifest.blobs:
            self._blobs_allowed.put((key, descriptor.digest), allowed)
        return GatedManifest(served, decision)

    async def decide(self, key: RepoKey, manifest: CachedManifest, tag: str | None) -> Decision:
        """The decision for one manifest of one repository (fails closed, never raises)."""
        try:
            return await self._decide(key, manifest, tag)
        except Exception as exc:
            if outage.unavailable(exc):
                log.error(
                    "deciding %s@%s: the database is unavailable (%s); denying", key, manifest.digest, exc
                )
            else:
                log.exception("deciding %s@%s failed; denying", key, manifest.digest)
            return outage.cannot_decide(image_name(key, manifest.digest), exc)

    async def _decide(self, key: RepoKey, manifest: CachedManifest, tag: str | None) -> Decision:
        try:
            snapshot = await self.policy.current()
        except Exception as exc:
            # Without the database nothing new is decided, but a decision made just before
            # it went away stands for the rest of its cache lifetime (docs/policy.md).
            kept = self._reusable(key, manifest.digest, tag, self.policy.last_known)
            if kept is None or not outage.unavailable(exc):
                raise
            log.warning(
                "the database is unavailable; reusing decision %s for %s@%s", kept.id, key, manifest.digest
            )
            return kept
        cached = self._reusable(key, manifest.digest, tag, snapshot)
        if cached is not None:
            return cached
        # One decision per image and policy version at a time: when a cached decision expires
        # under load, the requests that arrive together share one new decision.
        return await self._deciding.run(
            (key, manifest.digest, tag, snapshot.version),
            lambda: self._new_decision(key, manifest, tag, snapshot),
        )

    def _reusable(
        self, key: RepoKey, digest: Digest, tag: str | None, snapshot: PolicySnapshot | None
    ) -> Decision | None:
        """The cached decision, if it was made under `snapshot` and is still within its TTL."""
        cached = self._cache.get((key, digest, tag))
        if cached is None or snapshot is None or cached.policy_version != snapshot.version:
            return None
        return cached if now() < self._expiry(cached) else None

    def _expiry(self, decision: Decision) -> datetime:
        return decision.decided_at + timedelta(seconds=self._settings.decision_cache_ttl)

    async def _new_decision(
        self, key: RepoKey, manifest: CachedManifest, tag: str | None, snapshot: PolicySnapshot
    ) -> Decision:
        decided_at = now()
        verdict = await self.verdict(key, manifest, tag, snapshot, decided_at)
        decision = Decision(
            str(uuid.uuid4()),
            verdict.outcome,
            verdict.reasons,
            snapshot.version,
            image_name(key, manifest.digest),
            decided_at,
        )
        await self._decisions.record_decision(decision_row(decision, key, manifest.digest, tag))
        if decision.outcome is Outcome.QUARANTINE:
            await self._holds.hold(key, manifest, tag, decision)
        self._metrics.decisions.labels(decision.outcome.value).inc()
        if decision.outcome is not Outcome.PENDING:  # pending waits on something: ask again next time
            self._cache.put((key, manifest.digest, tag), decision)
        return decision

    async def verdict(
        self, key: RepoKey, manifest: CachedManifest, tag: str | None, snapshot: PolicySnapshot, now: datetime
    ) -> Verdict:
        """The checks for one manifest, recording nothing (the admin dry run uses this too).

        Source rules first; an image they would serve must then meet every signature
        requirement that matches it; a reviewer's release or rejection comes last.
        """
        repository_id = await self._repositories.get(key)
        tags = await self._meta.tags_naming(repository_id, str(manifest.digest))
        if tag is not None:
            tags.add(tag)
        if is_signature_artifact(manifest.manifest, tags):
            subject = manifest.manifest.subject
            about = f" of {subject.digest}" if subject is not None else ""
            return Verdict(Outcome.ALLOW, (Reason("artifact", f"signature/attestation artifact{about}"),))
        subject_ = Subject(key.upstream, str(key.name), str(manifest.digest), frozenset(tags))
        verdict = snapshot.engine.evaluate(subject_, now)
        requirements = snapshot.requirements.matching(subject_, now)
        if requirements and verdict.outcome.serves:
            signed = await self.signatures.check(
                key, manifest.digest, requirements, snapshot.trust, snapshot.version
            )
            verdict = combine(verdict, signed)
        policies = snapshot.vulnerability_policies.matching(subject_, now)
        if policies and verdict.outcome.serves and self._vulnerabilities is not None:
            exceptions = snapshot.vulnerability_exceptions.applicable(subject_, now)
            scanned = await self._vulnerabilities.check(key, manifest, policies, exceptions, now)
            verdict = combine(verdict, scanned)
        review = await self._reviews.review_state(key.upstream, str(key.name), str(manifest.digest), now)
        return apply_review(verdict, review)

    def forget(self, digest: Digest | None = None) -> None:
        """Drop cached decisions (all, or one image's) after a review or rule change."""
        if digest is None:
            self._cache = LRU(100_000)
            self._blobs_allowed = LRU(200_000)
        else:
            self._cache.discard_where(lambda k: k[1] == digest)
            # Which blobs this image allowed is not kept: re-derive them all, so a blob of an
            # image that is now denied is not served on its old allowance.
            self._blobs_allowed = LRU(200_000)
        self.policy.invalidate()

    # -- blobs --------------------------------------------------------------------------
    async def blob(self, key: RepoKey, digest: Digest, *, fetch: bool = True) -> BlobSource:
        await self.authorize_blob(key, digest)
        return await self.mirror.blob(key, digest, fetch=fetch)

    async def authorize_blob(self, key: RepoKey, digest: Digest) -> None:
        """Raise DENIED unless an allowed manifest of this repository references the blob."""
        try:
            snapshot = await self.policy.current()
            allowed = self._blobs_allowed.get((key, digest))
            if allowed is not None and allowed[0] == snapshot.version:
                return
            repository_id = await self._repositories.get(key)
            for text in await self._meta.manifests_referencing(repository_id, str(digest)):
                manifest = await self.mirror.cached_manifest(key, Digest.parse(text))
                decision = await self.decide(key, manifest, None)
                if decision.outcome.serves:
                    self._blobs_allowed.put((key, digest), (snapshot.version, self._expiry(decision)))
                    return
        except RegistryError:
            raise
        except Exception as exc:
            if outage.unavailable(exc) and self._blob_still_allowed(key, digest):
                return  # allowed by a decision made before the outage, still within its TTL
            self._blob_undecided(key, digest, exc)
        raise RegistryError(
            ErrorCode.DENIED,
            f"pullgate: blob {digest} is not referenced by an allowed image in {key}",
            detail={"repository": str(key), "digest": str(digest)},
        )

    def _blob_still_allowed(self, key: RepoKey, digest: Digest) -> bool:
        allowed, snapshot = self._blobs_allowed.get((key, digest)), self.policy.last_known
        return bool(allowed and snapshot and allowed[0] == snapshot.version and now() < allowed[1])

    def _blob_undecided(self, key: RepoKey, digest: Digest, exc: Exception) -> NoReturn:
        if outage.unavailable(exc):
            log.error(
                "authorising blob %s of %s: the database is unavailable (%s); denying", digest, key, exc
            )
            why = outage.cannot_decide(f"{key}@{digest}", exc).reasons[0].message
        else:
            log.exception("authorising blob %s of %s failed; denying", digest, key)
            why = "the gate could not decide; denied to be safe"
        raise RegistryError(ErrorCode.DENIED, f"pullgate: blob {digest} of {key}: {why}") from exc

    async def close(self) -> None:
        await self._holds.close()
