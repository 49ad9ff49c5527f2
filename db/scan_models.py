"""Tables of the vulnerability gate: the policy sections for vulnerabilities, per-layer
analyses, scans and their findings. Same metadata as `db.models` (imported by migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import DIGEST, Base

__all__ = [
    "LayerAnalysisRecord",
    "ScanFindingRecord",
    "ScanRecord",
    "VulnerabilityExceptionRecord",
    "VulnerabilityPolicyRecord",
]


class VulnerabilityPolicyRecord(Base):
    """A vulnerability policy of the policy document, as its document form (JSON)."""

    __tablename__ = "vulnerability_policies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VulnerabilityExceptionRecord(Base):
    __tablename__ = "vulnerability_exceptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LayerAnalysisRecord(Base):
    """What the built-in analyser found in one layer: layers are shared, analysed once."""

    __tablename__ = "layer_analyses"

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    analyzer_version: Mapped[int] = mapped_column(Integer)
    analysis: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class ScanRecord(Base):
    """One scan of one manifest by one scanner against one vulnerability-database version."""

    __tablename__ = "scans"
    __table_args__ = (
        UniqueConstraint("digest", "scanner", "db_version"),
        Index("ix_scans_digest_finished_at", "digest", "finished_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    digest: Mapped[str] = mapped_column(DIGEST)
    scanner: Mapped[str] = mapped_column(String(64))
    db_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    requested_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, object] | None] = mapped_column(JSON)  # findings, inventory, problems


class ScanFindingRecord(Base):
    """A finding of a finished scan, one row per name it goes by (id and each alias), so that
    "which images does CVE-X affect?" is an index lookup."""

    __tablename__ = "scan_findings"
    __table_args__ = (Index("ix_scan_findings_name", "name"),)

    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    package: Mapped[str] = mapped_column(String(255))
    installed_version: Mapped[str] = mapped_column(String(255))
    severity: Mapped[int] = mapped_column(Integer)
    fixed_version: Mapped[str | None] = mapped_column(String(255))
