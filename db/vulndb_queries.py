"""The vulnerability database: OSV records imported in batches, found by package and by name.

Imports are idempotent. A record replaces the stored one only when its ``modified`` time is
later (OSV moves ``modified`` on every change), so importing the same export twice writes
nothing the second time. Records missing from an import stay: an export may cover one
ecosystem only, and OSV withdraws records rather than deleting them.

Each batch is one transaction, so a large import neither holds the write lock for minutes
nor builds an unbounded transaction. The version in ``vulndb_state`` moves once, at the end,
and only if some batch changed something: scans record the version they matched against,
and a version that moved without a change would make every scan stale for nothing. An
import that dies between its batches and that final bump leaves rows newer than the state's
``updated_at``; the next import finds them and bumps even if it changes nothing itself.

Writers first lock the ``vulndb_state`` row (SELECT ... FOR UPDATE; on SQLite, BEGIN
IMMEDIATE serialises writers already), so two imports never interleave inside a batch and
concurrent bumps yield distinct versions.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, now, to_db
from db.vulndb_models import VulnAffected, VulnAlias, VulnDbStateRecord, VulnRecord
from proxy.scanning.osv.names import ecosystem_applies, normalize_name
from proxy.scanning.osv.record import OsvRecord, RecordError, RecordProblem, load_record

__all__ = ["DEFAULT_BATCH_SIZE", "ImportResult", "VulnDbState", "VulnStore"]

log = logging.getLogger("pullgate.vulndb")

STATE_ID = 1  # the one vulndb_state row, inserted by migration 0004
DEFAULT_BATCH_SIZE = 500
_IN_CHUNK = 500  # values per IN (...) list: far below either database's parameter limit
_MAX_SOURCE = 2000
_MAX_ALIAS = 255

ImportItem = OsvRecord | RecordProblem


@dataclass(frozen=True, slots=True)
class ImportResult:
    version: int  # the database version after the import
    added: int
    updated: int
    unchanged: int
    withdrawn: int  # stored withdrawn by this import (new, or updated to withdrawn)
    rejected: int  # problems the import met: records that could not be read or used

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.withdrawn)


@dataclass(frozen=True, slots=True)
class VulnDbState:
    version: int  # 0 until the first import
    updated_at: datetime
    records: int
    source: str


@dataclass(slots=True)
class _Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class _Row:
    """What one record writes: computed off the event loop (serialising is CPU work)."""

    id: str
    modified: datetime
    withdrawn: datetime | None
    content: str
    packages: frozenset[tuple[str, str]]
    aliases: frozenset[str]


class VulnStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
        *,
        parsed_cache: int = 20_000,
    ) -> None:
        self._sessions = sessions
        # Scans only read: on SQLite they then never queue behind an import's batches.
        self._reads = reads or sessions
        # Parsed records by (id, modified): a rescan matches thousands of inventories against
        # the same few thousand records, and parsing them again per image dominated its time.
        self._parsed: OrderedDict[tuple[str, str], OsvRecord] = OrderedDict()
        self._parsed_limit = parsed_cache

    async def state(self) -> VulnDbState:
        async with self._reads() as session:
            row = await session.get_one(VulnDbStateRecord, STATE_ID)
        return VulnDbState(row.version, from_db(row.updated_at), row.records, row.source)

    # -- importing ------------------------------------------------------------------------
    async def import_records(
        self,
        records: Iterable[ImportItem] | AsyncIterable[ImportItem],
        source: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> ImportResult:
        """Store `records` (problems among them are counted as rejected); see the module doc."""
        if batch_size < 1:
            raise ValueError(f"a batch holds at least one record, not {batch_size}")
        counts = _Counts()
        async for batch in _batches(records, batch_size):
            usable = [item for item in batch if isinstance(item, OsvRecord)]
            counts.rejected += len(batch) - len(usable)
            if usable:
                await self._write_batch(usable, counts)
        changed = bool(counts.added or counts.updated or counts.withdrawn)
        version = await self._finish(source, changed)
        return ImportResult(
            version, counts.added, counts.updated, counts.unchanged, counts.withdrawn, counts.rejected
        )

    async def _write_batch(self, batch: Sequence[OsvRecord], counts: _Counts) -> None:
        latest: dict[str, OsvRecord] = {}
        for record in batch:  # the same id twice in one batch: the later modified wins
            if record.id not in latest or record.modified > latest[record.id].modified:
                latest[record.id] = record
        counts.unchanged += len(batch) - len(latest)
        rows = await asyncio.to_thread(lambda: [_row(record) for record in latest.values()])
        at = to_db(now())
        async with self._sessions.begin() as session:
            await _lock_state(session)
            stored = await _stored_modified(session, list(latest))
            fresh = [row for row in rows if row.id not in stored]
            replaced = [row for row in rows if row.id in stored and row.modified > stored[row.id]]
            counts.unchanged += len(rows) - len(fresh) - len(replaced)
            for row in fresh + replaced:
                if row.withdrawn is not None:
                    counts.withdrawn += 1
                elif row.id in stored:
                    counts.updated += 1
                else:
                    counts.added += 1
            await _replace(session, fresh, replaced, at)

    async def _finish(self, source: str, changed: bool) -> int:
        async with self._sessions.begin() as session:
            version, updated_at = await _lock_state(session)
            if not changed and not await _rows_since(session, updated_at):
                return version
            records = (await session.execute(select(func.count()).select_from(VulnRecord))).scalar_one()
            # version + 1 computed by the database, under the row lock: never a lost update.
            statement = (
                update(VulnDbStateRecord)
                .where(VulnDbStateRecord.id == STATE_ID)
                .values(
                    version=VulnDbStateRecord.version + 1,
                    updated_at=to_db(now()),
                    source=source[:_MAX_SOURCE],
                    records=records,
                )
                .returning(VulnDbStateRecord.version)
            )
            return int((await session.execute(statement)).scalar_one())

    # -- reading --------------------------------------------------------------------------
    async def records_for(self, pairs: Iterable[tuple[str, str]]) -> list[OsvRecord]:
        """The records, not withdrawn, that name any of the (ecosystem, package name) pairs.

        A record's ecosystem matches exactly (``Debian:12``) or, when it has no release of
        its own (``PyPI``, a bare ``Debian``), by the pair's ecosystem without its release.
        Names compare normalised (PEP 503 for PyPI). Sorted by record id.
        """
        wanted: dict[str, set[str]] = {}
        for ecosystem, name in pairs:
            wanted.setdefault(normalize_name(ecosystem, name), set()).add(ecosystem)
        if not wanted:
            return []
        ecosystems = sorted(
            {part for eco in set().union(*wanted.values()) for part in (eco, eco.split(":")[0])}
        )
        ids: set[str] = set()
        contents: list[str] = []
        async with self._reads() as session:
            for names in _chunks(sorted(wanted)):
                query = select(VulnAffected.record_id, VulnAffected.ecosystem, VulnAffected.name).where(
                    VulnAffected.name.in_(names), VulnAffected.ecosystem.in_(ecosystems)
                )
                for record_id, ecosystem, name in (await session.execute(query)).all():
                    if any(ecosystem_applies(ecosystem, mine) for mine in wanted[name]):
                        ids.add(record_id)
            cached: list[OsvRecord] = []
            missing: list[str] = []
            for chunk in _chunks(sorted(ids)):
                current = select(VulnRecord.id, VulnRecord.modified).where(
                    VulnRecord.id.in_(chunk), VulnRecord.withdrawn.is_(None)
                )
                for record_id, modified in (await session.execute(current)).all():
                    key = _cache_key(record_id, from_db(modified))
                    hit = self._parsed.get(key)
                    if hit is None:
                        missing.append(record_id)
                    else:
                        self._parsed.move_to_end(key)
                        cached.append(hit)
            for chunk in _chunks(missing):
                content_query = select(VulnRecord.content).where(
                    VulnRecord.id.in_(chunk), VulnRecord.withdrawn.is_(None)
                )
                contents += (await session.scalars(content_query)).all()
        loaded = await asyncio.to_thread(_load_all, contents) if contents else []
        for record in loaded:
            self._remember(record)
        return sorted([*cached, *loaded], key=lambda record: record.id)

    def _remember(self, record: OsvRecord) -> None:
        self._parsed[_cache_key(record.id, record.modified)] = record
        while len(self._parsed) > self._parsed_limit:
            self._parsed.popitem(last=False)

    async def affected_ids(self, vulnerability_id: str) -> list[str]:
        """Ids of the records (not withdrawn) that are `vulnerability_id` or name it as an
        alias or upstream id (case-insensitive): the records behind "images affected by X"."""
        query = (
            select(VulnAlias.record_id)
            .where(VulnAlias.alias == vulnerability_id.strip().upper())
            .order_by(VulnAlias.record_id)
        )
        async with self._reads() as session:
            return list((await session.scalars(query)).all())

    async def record(self, record_id: str) -> OsvRecord | None:
        """One stored record by id, withdrawn or not."""
        async with self._reads() as session:
            content = await session.scalar(select(VulnRecord.content).where(VulnRecord.id == record_id))
        return None if content is None else load_record(content)


async def _lock_state(session: AsyncSession) -> tuple[int, datetime]:
    query = (
        select(VulnDbStateRecord.version, VulnDbStateRecord.updated_at)
        .where(VulnDbStateRecord.id == STATE_ID)
        .with_for_update()
    )
    row = (await session.execute(query)).one()
    return row.version, from_db(row.updated_at)


async def _stored_modified(session: AsyncSession, ids: list[str]) -> dict[str, datetime]:
    stored: dict[str, datetime] = {}
    for chunk in _chunks(ids):
        query = select(VulnRecord.id, VulnRecord.modified).where(VulnRecord.id.in_(chunk))
        stored.update(
            (record_id, from_db(modified)) for record_id, modified in (await session.execute(query)).all()
        )
    return stored


async def _replace(session: AsyncSession, fresh: list[_Row], replaced: list[_Row], at: datetime) -> None:
    if replaced:
        ids = [row.id for row in replaced]
        await session.execute(delete(VulnAffected).where(VulnAffected.record_id.in_(ids)))
        await session.execute(delete(VulnAlias).where(VulnAlias.record_id.in_(ids)))
        await session.execute(update(VulnRecord), [_columns(row, at) for row in replaced])
    if fresh:
        await session.execute(insert(VulnRecord), [_columns(row, at) for row in fresh])
    # Withdrawn records are kept (an update may restore them) but not indexed: they never match.
    live = [row for row in fresh + replaced if row.withdrawn is None]
    packages = [{"record_id": r.id, "ecosystem": eco, "name": name} for r in live for eco, name in r.packages]
    aliases = [{"record_id": r.id, "alias": alias} for r in live for alias in r.aliases]
    if packages:
        await session.execute(insert(VulnAffected), packages)
    if aliases:
        await session.execute(insert(VulnAlias), aliases)


async def _rows_since(session: AsyncSession, updated_at: datetime) -> bool:
    query = select(VulnRecord.id).where(VulnRecord.imported_at > to_db(updated_at)).limit(1)
    return (await session.scalar(query)) is not None


def _columns(row: _Row, at: datetime) -> dict[str, object]:
    withdrawn = to_db(row.withdrawn) if row.withdrawn is not None else None
    return {
        "id": row.id,
        "modified": to_db(row.modified),
        "withdrawn": withdrawn,
        "content": row.content,
        "imported_at": at,
    }


def _row(record: OsvRecord) -> _Row:
    packages = {
        (affected.ecosystem, normalize_name(affected.ecosystem, affected.name))
        for affected in record.affected
        if affected.ecosystem and affected.name
    }
    names = {name.upper() for name in (record.id, *record.aliases, *record.upstream)}
    return _Row(
        id=record.id,
        modified=record.modified,
        withdrawn=record.withdrawn,
        content=record.to_json(),
        packages=frozenset(packages),
        aliases=frozenset(name for name in names if len(name) <= _MAX_ALIAS),
    )


def _cache_key(record_id: str, modified: datetime) -> tuple[str, str]:
    return record_id, modified.astimezone(UTC).isoformat()


def _load_all(contents: list[str]) -> list[OsvRecord]:
    records = []
    for content in contents:
        try:
            records.append(load_record(content))
        except RecordError as exc:  # stored by a pullgate that parsed more leniently
            log.warning("skipping a stored OSV record that no longer parses: %s", exc)
    return records


async def _batches(
    items: Iterable[ImportItem] | AsyncIterable[ImportItem], size: int
) -> AsyncIterator[list[ImportItem]]:
    batch: list[ImportItem] = []
    async for item in _each(items):
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _each(items: Iterable[ImportItem] | AsyncIterable[ImportItem]) -> AsyncIterator[ImportItem]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    return (values[start : start + _IN_CHUNK] for start in range(0, len(values), _IN_CHUNK))
