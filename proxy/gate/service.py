"""The gate service: every manifest decided before a byte of it is served, every blob served
only on behalf of an allowed image, every decision explained and audited.

Order of a manifest request: the mirror resolves and fetches (the bytes are needed to know
what the image is), then `decide` runs the checks — signature/attestation artifacts are let
through; otherwise the review state (released / rejected), the rules, and later checks
(signatures, scans) combine into one outcome, the most restrictive winning. Anything that
goes wrong while deciding denies (DESIGN.md invariant 2).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from db.audit_queries import NewAuditEvent
from db.decision_queries import DecisionRow, DecisionStore
from db.quarantine_queries import QuarantineStore
from db.queries import MetadataStore
from proxy.cache.blobs import BlobSource
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.manifests import CachedManifest
from proxy.cache.mirror import Mirror, ServedManifest
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Coalescer
from proxy.gate.artifacts import is_signature_artifact
from proxy.gate.audit import AuditWriter
from proxy.gate.decision import Decision, denial
from proxy.gate.policy_state import PolicySnapshot, PolicyState
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
class ClientInfo:
    address: str | None = None
    user_agent: str | None = None
    identity: str | None = None


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
        self._blobs_allowed: LRU[tuple[RepoKey, Digest], int] = LRU(200_000)  # -> policy version
        self._prefetches: set[asyncio.Task[None]] = set()
        self._deciding: Coalescer[tuple[RepoKey, Digest, str | None, int], Decision] = Coalescer()

    # -- manifests ----------------------------------------------------------------------
    async def manifest(self, key: RepoKey, reference: Tag | Digest, client: ClientInfo) -> GatedManifest:
        served = await self.mirror.manifest(key, reference)
        cached = await self.mirror.cached_manifest(key, served.digest)
        tag = str(reference) if isinstance(reference, Tag) else None
        decision = await self.decide(key, cached, tag)
        await self._audit.record(_audit_record(key, served.digest, tag, decision, client))
        if not decision.outcome.serves:
            raise denial(decision, self._console)
        return GatedManifest(served, decision)

    async def decide(self, key: RepoKey, manifest: CachedManifest, tag: str | None) -> Decision:
        """The decision for one manifest of one repository (fails closed, never raises)."""
        try:
            return await self._decide(key, manifest, tag)
        except Exception as exc:
            log.exception("deciding %s@%s failed; denying", key, manifest.digest)
            reason = Reason("gate", f"the gate could not decide ({type(exc).__name__}); denied to be safe")
            return Decision(
                str(uuid.uuid4()), Outcome.DENY, (reason,), 0, _image(key, manifest.digest), _now()
            )

    async def _decide(self, key: RepoKey, manifest: CachedManifest, tag: str | None) -> Decision:
        snapshot = await self.policy.current()
        cache_key = (key, manifest.digest, tag)
        cached = self._cache.get(cache_key)
        now = _now()
        if (
            cached is not None
            and cached.policy_version == snapshot.version
            and (now - cached.decided_at).total_seconds() < self._settings.decision_cache_ttl
        ):
            return cached
        # One decision per image and policy version at a time: when a cached decision expires
        # under load, the requests that arrive together share one new decision.
        return await self._deciding.run(
            (key, manifest.digest, tag, snapshot.version),
            lambda: self._new_decision(key, manifest, tag, snapshot),
        )

    async def _new_decision(
        self, key: RepoKey, manifest: CachedManifest, tag: str | None, snapshot: PolicySnapshot
    ) -> Decision:
        now = _now()
        verdict = await self.verdict(key, manifest, tag, snapshot, now)
        decision = Decision(
            str(uuid.uuid4()),
            verdict.outcome,
            verdict.reasons,
            snapshot.version,
            _image(key, manifest.digest),
            now,
        )
        await self._decisions.record_decision(_decision_row(decision, key, manifest.digest, tag))
        if decision.outcome is Outcome.QUARANTINE:
            await self._hold(key, manifest, tag, decision)
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

    async def _hold(
        self, key: RepoKey, manifest: CachedManifest, tag: str | None, decision: Decision
    ) -> None:
        await self._reviews.hold(
            key.upstream,
            str(key.name),
            str(manifest.digest),
            reference=tag,
            decision_id=decision.id,
            rule_ids=decision.rule_ids,
        )
        if self._settings.quarantine_prefetch_blobs:
            task = asyncio.create_task(self._prefetch(key, manifest), name=f"prefetch {manifest.digest}")
            self._prefetches.add(task)
            task.add_done_callback(self._prefetches.discard)

    async def _prefetch(self, key: RepoKey, manifest: CachedManifest) -> None:
        """Cache a quarantined image's blobs so that, once released, it pulls at cache speed."""
        for descriptor in manifest.manifest.blobs:
            try:
                source = await self.mirror.blob(key, descriptor.digest)
                try:
                    await source.settle()
                finally:
                    source.release()
            except Exception as exc:  # a reviewer can still release; the pull will fetch then
                log.warning("prefetch of %s for quarantined %s failed: %s", descriptor.digest, key, exc)

    def forget(self, digest: Digest | None = None) -> None:
        """Drop cached decisions (all, or one image's) after a review or rule change."""
        if digest is None:
            self._cache = LRU(100_000)
            self._blobs_allowed = LRU(200_000)
        else:
            self._cache.discard_where(lambda k: k[1] == digest)
        self.policy.invalidate()

    # -- blobs --------------------------------------------------------------------------
    async def blob(self, key: RepoKey, digest: Digest, *, fetch: bool = True) -> BlobSource:
        await self.authorize_blob(key, digest)
        return await self.mirror.blob(key, digest, fetch=fetch)

    async def authorize_blob(self, key: RepoKey, digest: Digest) -> None:
        """Raise DENIED unless an allowed manifest of this repository references the blob."""
        try:
            snapshot = await self.policy.current()
            if self._blobs_allowed.get((key, digest)) == snapshot.version:
                return
            repository_id = await self._repositories.get(key)
            for text in await self._meta.manifests_referencing(repository_id, str(digest)):
                manifest = await self.mirror.cached_manifest(key, Digest.parse(text))
                if (await self.decide(key, manifest, None)).outcome.serves:
                    self._blobs_allowed.put((key, digest), snapshot.version)
                    return
        except RegistryError:
            raise
        except Exception as exc:
            log.exception("authorising blob %s of %s failed; denying", digest, key)
            raise RegistryError(
                ErrorCode.DENIED,
                f"pullgate: blob {digest} of {key}: the gate could not decide; denied to be safe",
            ) from exc
        raise RegistryError(
            ErrorCode.DENIED,
            f"pullgate: blob {digest} is not referenced by an allowed image in {key}",
            detail={"repository": str(key), "digest": str(digest)},
        )

    async def close(self) -> None:
        for task in list(self._prefetches):
            task.cancel()
        await asyncio.gather(*self._prefetches, return_exceptions=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _image(key: RepoKey, digest: Digest) -> str:
    return f"{key}@{digest}"


def _decision_row(decision: Decision, key: RepoKey, digest: Digest, tag: str | None) -> DecisionRow:
    return DecisionRow(
        id=decision.id,
        upstream=key.upstream,
        repository=str(key.name),
        digest=str(digest),
        reference=tag,
        outcome=decision.outcome,
        reasons=decision.reasons,
        policy_version=decision.policy_version,
        created_at=decision.decided_at,
    )


def _audit_record(
    key: RepoKey, digest: Digest, tag: str | None, decision: Decision, client: ClientInfo
) -> NewAuditEvent:
    return NewAuditEvent(
        created_at=_now(),
        kind="pull",
        client_address=client.address,
        user_agent=client.user_agent,
        identity=client.identity,
        upstream=key.upstream,
        repository=str(key.name),
        reference=tag,
        digest=str(digest),
        decision_id=decision.id,
        outcome=decision.outcome.value,
        reasons=decision.reasons_as_dicts(),
        rule_ids=decision.rule_ids,
        policy_version=decision.policy_version,
    )
