"""One image looked at closely: what it is made of, who signed it, what its scan found and
which of those findings an exception waives — for the repositories that hold it.

Signatures are looked for and verified now, the way the gate would (through the mirror, with
the requirements and trust material in force), but nothing is recorded and no decision
changes: a reviewer asking "who signed this?" about a quarantined image gets the answer a
pull would get if the image were released. Requirements apply per repository, so the answer
is per repository too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.admin_queries import AdminQueries, CachedImageRow
from db.gate_queries import now
from db.image_queries import ImageContents, ImageQueries, Part
from db.scan_queries import ScanRow, ScanStore
from proxy.cache.keys import RepoKey
from proxy.gate.manage.errors import not_found
from proxy.gate.service import Gate
from proxy.gate.signing.check import Inspection
from proxy.oci.digest import Digest
from proxy.oci.image_config import CONFIG_TYPES, MAX_CONFIG_BYTES, config_platform
from proxy.oci.reference import RepositoryName
from proxy.policy.model import Subject
from proxy.policy.vulnerability import VulnerabilityException, waived
from proxy.scanning.model import Finding
from proxy.storage import StorageError

__all__ = ["Contents", "InspectAdmin", "SignatureState", "Vulnerabilities", "Waiver"]

MAX_REPOSITORIES = 10  # signatures are checked live, per repository: a bounded number of them


@dataclass(frozen=True, slots=True)
class Contents:
    parts: ImageContents
    platform: str | None  # what the config says, for an image whose config is cached


@dataclass(frozen=True, slots=True)
class SignatureState:
    upstream: str
    repository: str
    requirements: int  # how many requirements apply here
    inspection: Inspection


@dataclass(frozen=True, slots=True)
class Waiver:
    exception: str
    image: str  # upstream/repository where the exception applies
    justification: str
    owner: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Vulnerabilities:
    digest: str
    scan: ScanRow
    findings: list[tuple[Finding, list[Waiver]]]


class InspectAdmin:
    def __init__(self, gate: Gate, queries: AdminQueries, images: ImageQueries, scans: ScanStore) -> None:
        self._gate = gate
        self._queries = queries
        self._images = images
        self._scans = scans

    async def contents(self, digest: Digest) -> Contents:
        found = await self._images.contents(str(digest))
        if found is None:
            raise not_found(f"cached manifest {digest}")
        return Contents(found, await self._platform(found.config))

    async def _platform(self, config: Part | None) -> str | None:
        """Read from the cached config blob; never fetched for the asking (an admin looking
        at an image must not make pullgate download anything)."""
        if config is None or config.media_type not in CONFIG_TYPES or config.size > MAX_CONFIG_BYTES:
            return None
        try:
            data = await self._gate.mirror.blobs.store.read_all(Digest.parse(config.digest), MAX_CONFIG_BYTES)
        except StorageError:  # not cached (evicted, or never pulled), or unreadable now
            return None
        platform = config_platform(data)
        return str(platform) if platform is not None else None

    async def signatures(
        self, digest: Digest, upstream: str | None, repository: str | None
    ) -> list[SignatureState]:
        holders = await self._holders(digest, upstream, repository)
        snapshot = await self._gate.policy.current()
        at = now()
        states = []
        for row in holders[:MAX_REPOSITORIES]:
            key = RepoKey(row.upstream, RepositoryName.parse(row.repository))
            requirements = snapshot.requirements.matching(_subject(row), at)
            inspection = await self._gate.signatures.inspect(
                key, digest, requirements, snapshot.trust, snapshot.version
            )
            states.append(SignatureState(row.upstream, row.repository, len(requirements), inspection))
        return states

    async def vulnerabilities(self, digest: Digest) -> Vulnerabilities:
        scan = await self._scans.latest_done(str(digest))
        if scan is None or scan.report is None:
            raise not_found(f"finished scan of {digest}")
        holders, _ = await self._queries.cached_images(digest=str(digest), limit=MAX_REPOSITORIES)
        snapshot = await self._gate.policy.current()
        at = now()
        applicable = [
            (
                f"{row.upstream}/{row.repository}",
                snapshot.vulnerability_exceptions.applicable(_subject(row), at),
            )
            for row in holders
        ]
        findings = [(finding, _waivers(finding, applicable)) for finding in scan.report.findings]
        return Vulnerabilities(str(digest), scan, findings)

    async def _holders(
        self, digest: Digest, upstream: str | None, repository: str | None
    ) -> list[CachedImageRow]:
        rows, _ = await self._queries.cached_images(
            digest=str(digest), upstream=upstream, repository=repository, limit=MAX_REPOSITORIES
        )
        if not rows:
            where = f" in {upstream or '*'}/{repository or '*'}" if upstream or repository else ""
            raise not_found(f"cached manifest {digest}{where}")
        return rows


def _subject(row: CachedImageRow) -> Subject:
    return Subject(row.upstream, row.repository, row.digest, frozenset(row.tags))


def _waivers(
    finding: Finding, applicable: list[tuple[str, tuple[VulnerabilityException, ...]]]
) -> list[Waiver]:
    found = []
    for image, exceptions in applicable:
        exception = waived(finding, exceptions)
        if exception is not None:
            found.append(
                Waiver(exception.id, image, exception.justification, exception.owner, exception.expires_at)
            )
    return found
