"""Debian-looking test images and OSV records for them, for tests of the vulnerability gate.

An image has a real dpkg status file and os-release (Debian 12), so the built-in scanner's
inventory, the matching by source package and release, and the version ordering are the
real ones. Records are modelled on real advisories (see tests/support/osv.py) and imported
into pullgate's own database the way `pullgate vulndb import` stores them.
"""

from __future__ import annotations

from typing import Any

from db.session import create_engine, session_factory
from db.vulndb_queries import VulnStore
from tests.support.images import Image, build_image, file_layer
from tests.support.osv import osv_record, parsed

__all__ = [
    "BASH",
    "CRITICAL",
    "LIBSSL_FIXED",
    "LIBSSL_OLD",
    "OS_RELEASE",
    "debian_image",
    "dpkg_status",
    "import_records",
    "openssl_record",
]

OS_RELEASE = (
    b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
)
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8

LIBSSL_OLD = ("libssl3", "openssl", "3.0.11-1~deb12u2")
LIBSSL_FIXED = ("libssl3", "openssl", "3.0.13-1~deb12u1")
BASH = ("bash", "bash", "5.2.15-2+b2")


def dpkg_status(*packages: tuple[str, str, str]) -> bytes:
    stanzas = [
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nSource: {source}\nVersion: {version}\n"
        for name, source, version in packages
    ]
    return "\n".join(stanzas).encode()


def debian_image(*packages: tuple[str, str, str]) -> Image:
    """A one-layer image whose dpkg database lists `packages` (name, source, version)."""
    return build_image(
        [file_layer({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": dpkg_status(*packages)})]
    )


def openssl_record(record_id: str, fixed: str, *, modified: str = "2024-09-18T03:15:45Z") -> dict[str, Any]:
    """Modelled on DEBIAN-CVE-2023-5678: bookworm's openssl source package, fixed in `fixed`."""
    return osv_record(
        record_id,
        {
            "package": {"name": "openssl", "ecosystem": "Debian:12"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
        },
        modified=modified,
        upstream=[record_id.removeprefix("DEBIAN-")],
        severity=[{"type": "CVSS_V3", "score": CRITICAL}],
        summary="openssl: test advisory modelled on a real one",
    )


async def import_records(database_url: str, *records: dict[str, Any]) -> None:
    """Store OSV records in pullgate's vulnerability database, as `pullgate vulndb import` does."""
    engine = create_engine(database_url, pool_size=1)
    try:
        await VulnStore(session_factory(engine)).import_records([parsed(r) for r in records], "test")
    finally:
        await engine.dispose()
