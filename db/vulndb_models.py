"""Tables of the vulnerability database (OSV records), beside db.models' (same metadata).

`vuln_records` keeps each record's JSON; `vuln_affected` and `vuln_aliases` index it by
(ecosystem, package) and by every name it goes by; `vulndb_state` holds the version that
every import which changed anything moves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

__all__ = ["VulnAffected", "VulnAlias", "VulnDbStateRecord", "VulnRecord"]


class VulnRecord(Base):
    """An OSV record as imported (its JSON), kept whole: matching needs every range."""

    __tablename__ = "vuln_records"
    # "Did anything land since the last version bump?" (an import that died before bumping).
    __table_args__ = (Index("ix_vuln_records_imported_at", "imported_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    modified: Mapped[datetime]  # the record's own; an import replaces a record only when it grows
    withdrawn: Mapped[datetime | None]
    content: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime]


class VulnAffected(Base):
    """A package a (not withdrawn) record affects: how a scan finds the records to match."""

    __tablename__ = "vuln_affected"
    __table_args__ = (Index("ix_vuln_affected_package", "ecosystem", "name"),)

    record_id: Mapped[str] = mapped_column(
        ForeignKey("vuln_records.id", ondelete="CASCADE"), primary_key=True
    )
    ecosystem: Mapped[str] = mapped_column(String(128), primary_key=True)  # as the record writes it
    name: Mapped[str] = mapped_column(String(512), primary_key=True)  # normalised (PEP 503 for PyPI)


class VulnAlias(Base):
    """Every name of a (not withdrawn) record, its own id included, upper-cased: which
    records are CVE-X?"""

    __tablename__ = "vuln_aliases"
    __table_args__ = (Index("ix_vuln_aliases_alias", "alias"),)

    record_id: Mapped[str] = mapped_column(
        ForeignKey("vuln_records.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)


class VulnDbStateRecord(Base):
    """One row: the vulnerability database version, bumped once by each import that changed
    something, so that scans made against an older version are known to be stale."""

    __tablename__ = "vulndb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(BigInteger)  # 0: nothing imported yet
    updated_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(2000))  # what the last changing import read
    records: Mapped[int] = mapped_column(BigInteger)  # records stored after it
