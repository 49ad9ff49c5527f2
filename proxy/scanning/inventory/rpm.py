"""RPM packages from the rpm database: the SQLite one (`rpmdb.sqlite`, rpm 4.16+: Fedora 33+,
RHEL 9, Rocky 9) and the Berkeley DB one (`Packages`: RHEL 7 and 8, CentOS, Amazon Linux 2)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from proxy.scanning.inventory.distro import os_package
from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.rpmbdb import BerkeleyDBError, hash_values
from proxy.scanning.inventory.rpmheader import HeaderError, RpmHeader, parse_header
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_rpm_bdb", "extract_rpm_sqlite"]

# SQLite virtual-machine steps allowed for reading the table, checked every 1000 steps: a
# crafted database (a view over a recursive query) must not pin a worker.
_PROGRESS_STEP = 1000
_MAX_STEPS = 50_000_000 // _PROGRESS_STEP
_SQLITE_MIN = 512  # the smallest page size


def extract_rpm_sqlite(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    if len(data) < _SQLITE_MIN:
        # Not even a header and one page; deserialize() of nothing fails with MemoryError.
        raise ExtractionError(["unreadable rpm SQLite database: shorter than one page"])
    try:
        blobs = _sqlite_blobs(data)
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: SQLite's own error message quotes the crafted schema, and the
        # sqlite3 module decodes it as UTF-8.
        raise ExtractionError([f"unreadable rpm SQLite database: {exc}"]) from None
    return _packages(path, blobs, os)


def extract_rpm_bdb(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    try:
        blobs = list(hash_values(data))
    except BerkeleyDBError as exc:
        raise ExtractionError([f"unreadable rpm Berkeley DB: {exc}"]) from None
    # Key 0 of the Packages database holds the next header instance number, not a header.
    return _packages(path, (blob for blob in blobs if len(blob) > 8), os)


def _sqlite_blobs(data: bytes) -> list[bytes]:
    # An in-memory copy: the file is never written to disk, and deserialize() reads nothing
    # but these bytes. The schema is distrusted: Packages must be a plain table.
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(_without_wal(data))
        steps = [0]

        def interrupt() -> int:
            steps[0] += 1
            return 1 if steps[0] > _MAX_STEPS else 0

        connection.set_progress_handler(interrupt, _PROGRESS_STEP)
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA query_only = ON")
        # Text comes back as bytes: a crafted schema need not be valid UTF-8.
        connection.text_factory = bytes
        kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind is None or kind[0] != b"table":
            raise sqlite3.DatabaseError("no Packages table")
        return [
            row[0] for row in connection.execute("SELECT blob FROM Packages") if isinstance(row[0], bytes)
        ]
    finally:
        connection.close()


def _without_wal(data: bytes) -> bytes:
    """rpm keeps its database in WAL mode (header bytes 18 and 19 are 2), which an in-memory
    database cannot open; set them to 1, the rollback journal. Transactions still only in a
    `-wal` file beside it are not seen: rpm checkpoints when it closes the database."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def _packages(path: str, blobs: Iterable[bytes], os: OperatingSystem | None) -> tuple[Package, ...]:
    packages: list[Package] = []
    problems: list[str] = []
    for number, blob in enumerate(blobs, start=1):
        try:
            header = parse_header(blob)
        except HeaderError as exc:
            problems.append(f"package header {number}: {exc}")
            continue
        # Imported signing keys are recorded as packages named gpg-pubkey; they are not software.
        if header.name != "gpg-pubkey":
            packages.append(_package(path, header, os))
    if problems:
        raise ExtractionError(problems, packages)
    return tuple(packages)


def _package(path: str, header: RpmHeader, os: OperatingSystem | None) -> Package:
    version_release = f"{header.version}-{header.release}"
    source_name, source_version = _source(header.source_rpm)
    return os_package(
        purl_type="rpm",
        name=header.name,
        # OSV writes an RPM version with its epoch when there is one (2:1.2.3-4.el9).
        version=f"{header.epoch}:{version_release}" if header.epoch else version_release,
        purl_version=version_release,
        arch=header.arch,
        os=os,
        path=path,
        source_name=source_name,
        source_version=source_version if source_version != version_release else None,
        extra_qualifiers=(("epoch", str(header.epoch)),) if header.epoch else (),
    )


def _source(source_rpm: str) -> tuple[str | None, str | None]:
    """`openssl-3.0.7-24.el9.src.rpm` -> ("openssl", "3.0.7-24.el9")."""
    stem = source_rpm.removesuffix(".rpm").removesuffix(".src").removesuffix(".nosrc")
    name_version, _, release = stem.rpartition("-")
    name, _, version = name_version.rpartition("-")
    if not name or not version or not release:
        return None, None
    return name, f"{version}-{release}"
