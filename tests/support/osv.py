"""OSV records for tests, shaped like the real advisories they are modelled on, and a writer
of OSV's ``all.zip`` export (one ``<id>.json`` member per record, as
https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip has them).

Builders return plain JSON values (dicts), so a test can alter a field before parsing or
writing it. Package names and versions are those of Debian 12 (bookworm), Alpine 3.18,
Ubuntu 22.04 and PyPI; dates, version lists and details are abridged.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from proxy.scanning.model import Package
from proxy.scanning.osv.record import OsvRecord, parse_record

__all__ = [
    "affected_entry",
    "alpine_openssl_cve_2023_5678",
    "deb_package",
    "debian_openssl_cve_2023_5678",
    "ecdsa_minerva_last_affected",
    "osv_record",
    "parsed",
    "pypi_package",
    "requests_proxy_auth_leak",
    "ubuntu_openssl_cve_2023_5678",
    "withdrawn_requests_duplicate",
    "write_all_zip",
    "write_json_tree",
]

Record = dict[str, Any]


def osv_record(
    record_id: str, *affected: Mapping[str, Any], modified: str = "2024-01-10T12:00:00Z", **fields: Any
) -> Record:
    """A minimal valid record; `fields` adds or replaces top-level fields."""
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": modified,
        "affected": [dict(a) for a in affected],
        **fields,
    }


def affected_entry(
    ecosystem: str, name: str, *events: Mapping[str, str], versions: Iterable[str] = (), **fields: Any
) -> Record:
    entry: Record = {"package": {"ecosystem": ecosystem, "name": name}, **fields}
    if events:
        entry["ranges"] = [
            {"type": "SEMVER" if ecosystem == "npm" else "ECOSYSTEM", "events": [dict(e) for e in events]}
        ]
    if versions:
        entry["versions"] = list(versions)
    return entry


def debian_openssl_cve_2023_5678() -> Record:
    """DEBIAN-CVE-2023-5678 (OpenSSL: excessive time checking X9.42 DH keys): one entry per
    Debian release, named by the source package, fixed in bookworm by 3.0.13-1~deb12u1."""
    purl = "pkg:deb/debian/openssl?arch=source"
    return osv_record(
        "DEBIAN-CVE-2023-5678",
        {
            "package": {"name": "openssl", "ecosystem": "Debian:11", "purl": purl},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1w-0+deb11u2"}]}],
            "versions": ["1.1.1n-0+deb11u4", "1.1.1n-0+deb11u5", "1.1.1v-0~deb11u1", "1.1.1w-0+deb11u1"],
        },
        {
            "package": {"name": "openssl", "ecosystem": "Debian:12", "purl": purl},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}],
            "versions": ["3.0.9-1", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"],
        },
        modified="2024-09-18T03:15:45.624914Z",
        published="2023-11-06T16:15:42Z",
        upstream=["CVE-2023-5678"],
        details="Issue summary: Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys or parameters may be very slow.",
    )


def alpine_openssl_cve_2023_5678() -> Record:
    """The same CVE in Alpine 3.18's secdb: named by the origin package (openssl, which
    builds libcrypto3 and libssl3), fixed in 3.1.4-r1."""
    return osv_record(
        "ALPINE-CVE-2023-5678",
        affected_entry("Alpine:v3.18", "openssl", {"introduced": "0"}, {"fixed": "3.1.4-r1"}),
        modified="2024-07-02T08:29:58Z",
        upstream=["CVE-2023-5678"],
    )


def ubuntu_openssl_cve_2023_5678() -> Record:
    """UBUNTU-CVE-2023-5678: Ubuntu writes its priority as a severity of type "Ubuntu"."""
    return osv_record(
        "UBUNTU-CVE-2023-5678",
        affected_entry("Ubuntu:22.04:LTS", "openssl", {"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.12"}),
        modified="2024-08-01T10:00:00Z",
        upstream=["CVE-2023-5678"],
        severity=[{"type": "Ubuntu", "score": "low"}],
    )


def requests_proxy_auth_leak() -> Record:
    """GHSA-j8r2-6x86-q33q (CVE-2023-32681): requests leaked Proxy-Authorization headers to
    destination servers on redirects; introduced in 2.3.0, fixed in 2.31.0."""
    return osv_record(
        "GHSA-j8r2-6x86-q33q",
        affected_entry(
            "PyPI",
            "requests",
            {"introduced": "2.3.0"},
            {"fixed": "2.31.0"},
            database_specific={
                "source": "https://github.com/github/advisory-database/blob/main/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q/GHSA-j8r2-6x86-q33q.json"
            },
        ),
        modified="2024-06-21T21:33:53Z",
        published="2023-05-22T20:36:32Z",
        aliases=["CVE-2023-32681"],
        related=["PYSEC-2023-74"],
        summary="Unintended leak of Proxy-Authorization header in requests",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
        database_specific={"cwe_ids": ["CWE-200"], "severity": "MODERATE", "github_reviewed": True},
    )


def withdrawn_requests_duplicate() -> Record:
    """A duplicate of the requests advisory, withdrawn as GitHub withdraws duplicates (the
    id is made up: the record keeps its affected ranges, but must never match)."""
    record = requests_proxy_auth_leak()
    record.update(id="GHSA-2222-3333-4444", withdrawn="2023-05-23T10:00:00Z", modified="2023-05-23T10:00:00Z")
    return record


def ecdsa_minerva_last_affected() -> Record:
    """GHSA-wj6h-64fc-37mp (CVE-2024-23342, Minerva timing attack on python-ecdsa): no fix
    is planned, so the range ends with last_affected. The CVSS v4.0 vector is illustrative,
    there to outrank the v3.1 one."""
    return osv_record(
        "GHSA-wj6h-64fc-37mp",
        affected_entry("PyPI", "ecdsa", {"introduced": "0"}, {"last_affected": "0.19.0"}),
        modified="2024-06-10T18:00:00Z",
        aliases=["CVE-2024-23342"],
        summary="Minerva timing attack on P-256 in python-ecdsa",
        severity=[
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N"},
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N"},
        ],
        database_specific={"severity": "HIGH"},
    )


def parsed(record: Mapping[str, Any]) -> OsvRecord:
    return parse_record(copy.deepcopy(dict(record)))


def deb_package(
    name: str, version: str, source: str | None = None, release: str = "12", **fields: Any
) -> Package:
    return Package(
        name, version, f"Debian:{release}", source_name=source, path="var/lib/dpkg/status", **fields
    )


def pypi_package(name: str, version: str, **fields: Any) -> Package:
    fields.setdefault("path", "usr/lib/python3/dist-packages")
    return Package(name, version, "PyPI", **fields)


def write_all_zip(
    path: Path, records: Iterable[Mapping[str, Any]], extra: Mapping[str, bytes] | None = None
) -> Path:
    """An all.zip with one <id>.json per record, plus `extra` members written as given."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record, indent=2))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def write_json_tree(root: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """A directory of records as the osv.dev git mirrors lay them out: <prefix>/<id>.json."""
    for record in records:
        target = root / str(record["id"]).split("-", 1)[0] / f"{record['id']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record, indent=2))
    return root
