"""Scans, their findings and per-layer analyses; the vulnerability sections of the policy.

One scan per (manifest digest, scanner, vulnerability-database version): the row is the
lease. `start` inserts it as running, or hands back the row another replica holds; a running
row older than the lease time belongs to a replica that died and is taken over. Findings are
also written one row per name (id and aliases) for "which images does CVE-X affect?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, now, to_db
from db.policy_sections import merge_section, read_section
from db.scan_models import (
    LayerAnalysisRecord,
    ScanFindingRecord,
    ScanRecord,
    VulnerabilityExceptionRecord,
    VulnerabilityPolicyRecord,
)
from db.upsert import insert_ignore
from proxy.policy.document import PolicySections
from proxy.policy.vulnerability import VulnerabilityException, VulnerabilityPolicy
from proxy.policy.vulnerability_document import ExceptionSpec, VulnerabilityPolicySpec
from proxy.scanning.codec import analysis_from_json, analysis_to_json, report_from_json, report_to_json
from proxy.scanning.model import LayerAnalysis, ScanReport, Severity

__all__ = ["AffectedImage", "ScanRow", "ScanStore", "merge_vulnerability_sections"]


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    digest: str
    scanner: str
    db_version: str
    status: str  # queued | running | done | failed
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    report: ScanReport | None

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True, slots=True)
class AffectedImage:
    digest: str
    scanner: str
    package: str
    installed_version: str
    severity: Severity
    fixed_version: str | None
    scanned_at: datetime | None


class ScanStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions

    # -- the policy's vulnerability sections ----------------------------------------------
    async def vulnerability_policies(self) -> list[VulnerabilityPolicy]:
        async with self._reads() as session:
            specs = await read_section(session, VulnerabilityPolicyRecord)
        return [VulnerabilityPolicySpec.model_validate(s).to_policy() for s in specs]

    async def vulnerability_exceptions(self) -> list[VulnerabilityException]:
        async with self._reads() as session:
            specs = await read_section(session, VulnerabilityExceptionRecord)
        return [ExceptionSpec.model_validate(s).to_exception() for s in specs]

    # -- scans ------------------------------------------------------------------------------
    async def latest_done(self, digest: str, scanner: str | None = None) -> ScanRow | None:
        """The newest finished scan of `digest` (by any scanner unless one is named)."""
        query = select(ScanRecord).where(ScanRecord.digest == digest, ScanRecord.status == "done")
        if scanner is not None:
            query = query.where(ScanRecord.scanner == scanner)
        query = query.order_by(ScanRecord.finished_at.desc(), ScanRecord.id.desc()).limit(1)
        async with self._reads() as session:
            record = (await session.scalars(query)).first()
        return _row(record) if record is not None else None

    async def get(self, digest: str, scanner: str, db_version: str) -> ScanRow | None:
        async with self._reads() as session:
            record = (await session.scalars(_one(digest, scanner, db_version))).first()
        return _row(record) if record is not None else None

    async def history(self, digest: str, limit: int = 20) -> list[ScanRow]:
        query = (
            select(ScanRecord).where(ScanRecord.digest == digest).order_by(ScanRecord.id.desc()).limit(limit)
        )
        async with self._reads() as session:
            return [_row(r) for r in (await session.scalars(query)).all()]

    async def start(self, digest: str, scanner: str, db_version: str, lease: float) -> tuple[ScanRow, bool]:
        """(row, ours): ours is True when this caller must run the scan."""
        at = now()
        async with self._sessions.begin() as session:
            values = {
                "digest": digest,
                "scanner": scanner,
                "db_version": db_version,
                "status": "running",
                "requested_at": to_db(at),
                "started_at": to_db(at),
            }
            inserted = await session.execute(
                insert_ignore(session, ScanRecord, values, ["digest", "scanner", "db_version"])
            )
            record = (await session.scalars(_one(digest, scanner, db_version))).one()
            if _rowcount(inserted) == 1:
                return _row(record), True
            expired = record.status == "running" and (
                record.started_at is None or from_db(record.started_at) < at - timedelta(seconds=lease)
            )
            if record.status == "failed" or expired:
                # A failed scan is tried again; a lease nobody renewed belongs to a dead replica.
                taken = await session.execute(
                    update(ScanRecord)
                    .where(ScanRecord.id == record.id, ScanRecord.status == record.status)
                    .where(
                        ScanRecord.started_at == record.started_at
                        if record.started_at is not None
                        else ScanRecord.started_at.is_(None)
                    )
                    .values(status="running", started_at=to_db(at), error=None)
                )
                if _rowcount(taken) == 1:
                    await session.refresh(record)
                    return _row(record), True
            return _row(record), False

    async def finish(self, scan_id: int, report: ScanReport) -> None:
        at = now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(ScanRecord)
                .where(ScanRecord.id == scan_id)
                .values(status="done", finished_at=to_db(at), error=None, report=report_to_json(report))
            )
            await session.execute(delete(ScanFindingRecord).where(ScanFindingRecord.scan_id == scan_id))
            rows = []
            for position, finding in enumerate(report.findings):
                for name in dict.fromkeys((finding.vulnerability, *finding.aliases)):
                    rows.append(
                        {
                            "scan_id": scan_id,
                            "position": position,
                            "name": name[:128],
                            "package": finding.package[:255],
                            "installed_version": finding.installed_version[:255],
                            "severity": int(finding.severity),
                            "fixed_version": (finding.fixed_version or None) and finding.fixed_version[:255],
                        }
                    )
            if rows:
                await session.execute(insert(ScanFindingRecord), rows)

    async def fail(self, scan_id: int, error: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(ScanRecord)
                .where(ScanRecord.id == scan_id)
                .values(status="failed", finished_at=to_db(now()), error=error[:4000])
            )

    async def outdated(self, scanner: str, db_version: str, limit: int) -> list[str]:
        """Digests scanned by `scanner`, none of whose finished scans is at `db_version`."""
        current = select(ScanRecord.digest).where(
            ScanRecord.scanner == scanner, ScanRecord.db_version == db_version, ScanRecord.status == "done"
        )
        query = (
            select(ScanRecord.digest)
            .where(
                ScanRecord.scanner == scanner, ScanRecord.status == "done", ScanRecord.digest.not_in(current)
            )
            .group_by(ScanRecord.digest)
            .order_by(func.max(ScanRecord.finished_at))
            .limit(limit)
        )
        async with self._reads() as session:
            return list((await session.scalars(query)).all())

    async def affected_by(self, name: str, limit: int = 1000) -> list[AffectedImage]:
        """Images whose newest finished scan (per scanner) lists a finding named `name`."""
        newest = (
            select(ScanRecord.digest, ScanRecord.scanner, func.max(ScanRecord.id).label("id"))
            .where(ScanRecord.status == "done")
            .group_by(ScanRecord.digest, ScanRecord.scanner)
            .subquery()
        )
        query = (
            select(ScanRecord, ScanFindingRecord)
            .join(newest, newest.c.id == ScanRecord.id)
            .join(ScanFindingRecord, ScanFindingRecord.scan_id == ScanRecord.id)
            .where(ScanFindingRecord.name == name)
            .order_by(ScanRecord.digest, ScanFindingRecord.position)
            .limit(limit)
        )
        async with self._reads() as session:
            rows = (await session.execute(query)).all()
        return [
            AffectedImage(
                scan.digest,
                scan.scanner,
                finding.package,
                finding.installed_version,
                Severity(finding.severity),
                finding.fixed_version,
                from_db(scan.finished_at) if scan.finished_at else None,
            )
            for scan, finding in rows
        ]

    # -- layer analyses -------------------------------------------------------------------
    async def analyses(self, digests: Sequence[str], analyzer_version: int) -> dict[str, LayerAnalysis]:
        query = select(LayerAnalysisRecord).where(
            and_(
                LayerAnalysisRecord.digest.in_(list(digests)),
                LayerAnalysisRecord.analyzer_version == analyzer_version,
            )
        )
        async with self._reads() as session:
            records = (await session.scalars(query)).all()
        return {r.digest: analysis_from_json(r.analysis) for r in records}

    async def save_analysis(self, analysis: LayerAnalysis) -> None:
        values = {
            "digest": analysis.digest,
            "analyzer_version": analysis.analyzer_version,
            "analysis": analysis_to_json(analysis),
            "created_at": to_db(now()),
        }
        async with self._sessions.begin() as session:
            await session.execute(
                delete(LayerAnalysisRecord).where(LayerAnalysisRecord.digest == analysis.digest)
            )
            await session.execute(insert_ignore(session, LayerAnalysisRecord, values, ["digest"]))


async def merge_vulnerability_sections(session: AsyncSession, sections: PolicySections, at: datetime) -> bool:
    policies = [
        (p.id, VulnerabilityPolicySpec.from_policy(p).model_dump(mode="json", exclude_none=True))
        for p in sections.vulnerability_policies
    ]
    exceptions = [
        (e.id, ExceptionSpec.from_exception(e).model_dump(mode="json", exclude_none=True))
        for e in sections.vulnerability_exceptions
    ]
    changed = await merge_section(session, VulnerabilityPolicyRecord, policies, at)
    return await merge_section(session, VulnerabilityExceptionRecord, exceptions, at) or changed


def _rowcount(result: Any) -> int:
    # DML results are CursorResults; the typed execute() does not say so.
    assert isinstance(result, CursorResult)
    return result.rowcount


def _one(digest: str, scanner: str, db_version: str) -> Any:
    return select(ScanRecord).where(
        ScanRecord.digest == digest, ScanRecord.scanner == scanner, ScanRecord.db_version == db_version
    )


def _row(record: ScanRecord) -> ScanRow:
    return ScanRow(
        id=record.id,
        digest=record.digest,
        scanner=record.scanner,
        db_version=record.db_version,
        status=record.status,
        requested_at=from_db(record.requested_at),
        started_at=from_db(record.started_at) if record.started_at else None,
        finished_at=from_db(record.finished_at) if record.finished_at else None,
        error=record.error,
        report=report_from_json(record.report) if record.report else None,
    )
