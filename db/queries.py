"""The queries the mirror needs, behind one class so services never build SQL themselves.

Times are stored in UTC. SQLite hands timezone-aware columns back naive, so every read goes
through `_utc` to keep comparisons honest on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
)

from db.locks import ReplicaLocks
from db.models import ManifestBlob, ManifestChild, ManifestRecord, Repository, StoredObject, TagRecord
from db.upsert import insert_ignore, upsert

__all__ = ["ManifestRow", "MetadataStore", "NewManifest", "StoredRow", "TagRow"]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TagRow:
    digest: str
    validated_at: datetime


@dataclass(frozen=True, slots=True)
class ManifestRow:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredRow:
    digest: str
    size: int
    kind: str
    last_access: datetime


@dataclass(frozen=True, slots=True)
class RefRow:
    digest: str
    media_type: str
    size: int
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class NewManifest:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    blobs: Sequence[RefRow]
    children: Sequence[RefRow]


class MetadataStore(ReplicaLocks):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        # Lookups run in read-only transactions so that, on SQLite, they never wait for the
        # write lock behind a fill or an audit batch (they are on every cold request's path).
        self._reads = reads or sessions

    # -- repositories -------------------------------------------------------------------
    async def repository_id(self, upstream: str, name: str, *, create: bool = True) -> int | None:
        async with self._sessions.begin() as session:
            found = await self._find_repository(session, upstream, name)
            if found is not None or not create:
                return found
            values = {"upstream": upstream, "name": name, "created_at": datetime.now(UTC)}
            await session.execute(insert_ignore(session, Repository, values, ["upstream", "name"]))
            return await self._find_repository(session, upstream, name)

    @staticmethod
    async def _find_repository(session: AsyncSession, upstream: str, name: str) -> int | None:
        query = select(Repository.id).where(Repository.upstream == upstream, Repository.name == name)
        return (await session.execute(query)).scalar_one_or_none()

    # -- tags ---------------------------------------------------------------------------
    async def get_tag(self, repository_id: int, tag: str) -> TagRow | None:
        async with self._reads() as session:
            query = select(TagRecord.digest, TagRecord.validated_at).where(
                TagRecord.repository_id == repository_id, TagRecord.name == tag
            )
            row = (await session.execute(query)).one_or_none()
        return TagRow(row.digest, _utc(row.validated_at)) if row else None

    async def set_tag(self, repository_id: int, tag: str, digest: str, validated_at: datetime) -> None:
        values = {"repository_id": repository_id, "name": tag, "digest": digest, "validated_at": validated_at}
        async with self._sessions.begin() as session:
            stmt = upsert(session, TagRecord, values, ["repository_id", "name"], ["digest", "validated_at"])
            await session.execute(stmt)

    async def delete_tag(self, repository_id: int, tag: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(TagRecord).where(TagRecord.repository_id == repository_id, TagRecord.name == tag)
            )

    async def list_tags(self, repository_id: int, n: int | None, last: str | None) -> list[str]:
        query = (
            select(TagRecord.name).where(TagRecord.repository_id == repository_id).order_by(TagRecord.name)
        )
        if last is not None:
            query = query.where(TagRecord.name > last)
        if n is not None:
            query = query.limit(n)
        async with self._reads() as session:
            return list((await session.execute(query)).scalars())

    # -- manifests ----------------------------------------------------------------------
    async def get_manifest(self, repository_id: int, digest: str) -> ManifestRow | None:
        query = select(ManifestRecord.digest, ManifestRecord.media_type, ManifestRecord.size).where(
            ManifestRecord.repository_id == repository_id, ManifestRecord.digest == digest
        )
        async with self._reads() as session:
            row = (await session.execute(query)).one_or_none()
        return ManifestRow(row.digest, row.media_type, row.size) if row else None

    async def save_manifest(
        self, repository_id: int, manifest: NewManifest, at: datetime, *, stored: bool = True
    ) -> None:
        """Record a manifest, its references and its stored bytes in one transaction.

        `stored` False: the store could not take the bytes (disk full), so no stored object
        is recorded: the metadata never claims content the store does not hold.

        Two replicas may cache the same new manifest at the same moment: the second insert
        then meets the unique constraint, and the row the first one wrote is the same row.
        """
        try:
            await self._save_manifest(repository_id, manifest, at, stored)
        except IntegrityError:
            if await self.get_manifest(repository_id, manifest.digest) is None:
                raise
            await self._save_manifest(repository_id, manifest, at, stored)  # the row exists now: no insert

    async def _save_manifest(
        self, repository_id: int, manifest: NewManifest, at: datetime, stored: bool
    ) -> None:
        async with self._sessions.begin() as session:
            exists = await session.execute(
                select(ManifestRecord.id).where(
                    ManifestRecord.repository_id == repository_id, ManifestRecord.digest == manifest.digest
                )
            )
            if exists.scalar_one_or_none() is None:
                session.add(self._manifest_record(repository_id, manifest, at))
            if stored:
                await self._record_object(session, manifest.digest, manifest.size, "manifest", at)

    @staticmethod
    def _manifest_record(repository_id: int, manifest: NewManifest, at: datetime) -> ManifestRecord:
        return ManifestRecord(
            repository_id=repository_id,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=manifest.size,
            artifact_type=manifest.artifact_type,
            subject_digest=manifest.subject_digest,
            fetched_at=at,
            blobs=[
                ManifestBlob(position=i, blob_digest=b.digest, media_type=b.media_type, size=b.size)
                for i, b in enumerate(manifest.blobs)
            ],
            children=[
                ManifestChild(
                    position=i,
                    child_digest=c.digest,
                    media_type=c.media_type,
                    size=c.size,
                    platform=c.platform,
                )
                for i, c in enumerate(manifest.children)
            ],
        )

    async def blob_size_in_repository(self, repository_id: int, digest: str) -> int | None:
        """The size a manifest of this repository declares for the blob, if any references it."""
        query = (
            select(ManifestBlob.size)
            .join(ManifestRecord, ManifestRecord.id == ManifestBlob.manifest_id)
            .where(ManifestRecord.repository_id == repository_id, ManifestBlob.blob_digest == digest)
            .limit(1)
        )
        async with self._reads() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def tags_naming(self, repository_id: int, digest: str) -> set[str]:
        """Every tag that names the manifest, directly or through an index listing it.

        The gate decides a child manifest requested by digest as the image its index's tags
        name, so a rule on a tag cannot be sidestepped by pulling a platform by digest.
        """
        direct = select(TagRecord.name).where(
            TagRecord.repository_id == repository_id, TagRecord.digest == digest
        )
        parents = (
            select(ManifestRecord.digest)
            .join(ManifestChild, ManifestChild.parent_id == ManifestRecord.id)
            .where(ManifestRecord.repository_id == repository_id, ManifestChild.child_digest == digest)
        )
        via_index = select(TagRecord.name).where(
            TagRecord.repository_id == repository_id, TagRecord.digest.in_(parents)
        )
        async with self._reads() as session:
            rows = await session.execute(direct.union(via_index))
            return {row[0] for row in rows}

    async def manifests_referencing(self, repository_id: int, blob_digest: str) -> list[str]:
        """Digests of this repository's cached manifests that list the blob (config or layer)."""
        query = (
            select(ManifestRecord.digest)
            .join(ManifestBlob, ManifestBlob.manifest_id == ManifestRecord.id)
            .where(ManifestRecord.repository_id == repository_id, ManifestBlob.blob_digest == blob_digest)
            .distinct()
        )
        async with self._reads() as session:
            return list((await session.execute(query)).scalars())

    async def indexes_listing(self, repository_id: int, digest: str) -> list[str]:
        """Digests of this repository's cached indexes that list the manifest `digest`."""
        query = (
            select(ManifestRecord.digest)
            .join(ManifestChild, ManifestChild.parent_id == ManifestRecord.id)
            .where(ManifestRecord.repository_id == repository_id, ManifestChild.child_digest == digest)
            .distinct()
        )
        async with self._reads() as session:
            return sorted((await session.execute(query)).scalars())

    # -- stored objects (cache accounting) ----------------------------------------------
    async def record_object(self, digest: str, size: int, kind: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await self._record_object(session, digest, size, kind, at)

    @staticmethod
    async def _record_object(session: AsyncSession, digest: str, size: int, kind: str, at: datetime) -> None:
        values = {"digest": digest, "size": size, "kind": kind, "created_at": at, "last_access": at}
        await session.execute(upsert(session, StoredObject, values, ["digest"], ["last_access"]))

    async def object_size(self, digest: str) -> int | None:
        async with self._reads() as session:
            query = select(StoredObject.size).where(StoredObject.digest == digest)
            return (await session.execute(query)).scalar_one_or_none()

    async def touch_objects(self, accessed: dict[str, datetime]) -> None:
        """Write batched last-access times (one statement per object, one transaction)."""
        if not accessed:
            return
        async with self._sessions.begin() as session:
            for digest, at in accessed.items():
                await session.execute(
                    update(StoredObject)
                    .where(StoredObject.digest == digest, StoredObject.last_access < at)
                    .values(last_access=at)
                )

    async def total_stored_bytes(self) -> int:
        async with self._reads() as session:
            return int(
                (await session.execute(select(func.coalesce(func.sum(StoredObject.size), 0)))).scalar_one()
            )

    async def least_recently_used(self, limit: int, skip: Iterable[str] = ()) -> list[StoredRow]:
        """Eviction candidates, oldest access first; blobs a cached manifest references are never listed."""
        referenced = select(ManifestBlob.blob_digest)
        query = (
            select(StoredObject)
            .where(StoredObject.digest.not_in(referenced))
            .order_by(StoredObject.last_access, StoredObject.digest)
            .limit(limit)
        )
        skipped = set(skip)
        if skipped:
            query = query.where(StoredObject.digest.not_in(skipped))
        async with self._reads() as session:
            rows = (await session.execute(query)).scalars().all()
        return [StoredRow(r.digest, r.size, r.kind, _utc(r.last_access)) for r in rows]

    async def forget_object(self, digest: str) -> None:
        """Drop an object's metadata: for a manifest also every repository's record of it and tags on it."""
        async with self._sessions.begin() as session:
            await session.execute(delete(TagRecord).where(TagRecord.digest == digest))
            await session.execute(delete(ManifestRecord).where(ManifestRecord.digest == digest))
            await session.execute(delete(StoredObject).where(StoredObject.digest == digest))
