"""The vulnerability database: idempotent imports, one version bump per changing import,
lookups by package and by alias; and `pullgate vulndb` driving it from a real process.

Runs on SQLite and PostgreSQL (the `engine` fixture is parametrised over both).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import upgrade
from db.session import read_only, session_factory
from db.vulndb_queries import ImportResult, VulnStore
from proxy.scanning.osv.importer import import_paths
from proxy.scanning.osv.matcher import match_inventory
from proxy.scanning.osv.record import RecordProblem
from tests.support.osv import (
    affected_entry,
    alpine_openssl_cve_2023_5678,
    deb_package,
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    osv_record,
    parsed,
    pypi_package,
    requests_proxy_auth_leak,
    withdrawn_requests_duplicate,
    write_all_zip,
)

ROOT = Path(__file__).resolve().parents[3]
GHSA_REQUESTS = "GHSA-j8r2-6x86-q33q"


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    # Every head: 0005 (scans) is written against 0003 until 0004 (this store) lands, and
    # "heads" is "head" once the two are in line.
    upgrade(database_url, "heads")
    return database_url


@pytest.fixture
def store(engine: AsyncEngine) -> VulnStore:
    return VulnStore(session_factory(engine), session_factory(read_only(engine)))


def _dsa_openssl() -> dict[str, Any]:
    """A Debian advisory without a release in its ecosystem: it covers every release."""
    return osv_record(
        "DSA-5532-1", affected_entry("Debian", "openssl", {"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"})
    )


def _all() -> list[dict[str, Any]]:
    return [
        debian_openssl_cve_2023_5678(),
        alpine_openssl_cve_2023_5678(),
        requests_proxy_auth_leak(),
        withdrawn_requests_duplicate(),
        ecdsa_minerva_last_affected(),
        _dsa_openssl(),
    ]


def _records(*data: dict[str, Any]) -> list[Any]:
    return [parsed(item) for item in data]


def _counts(result: ImportResult) -> tuple[int, int, int, int, int]:
    return result.added, result.updated, result.unchanged, result.withdrawn, result.rejected


async def test_a_new_database_is_empty_at_version_zero(store: VulnStore) -> None:
    state = await store.state()
    assert (state.version, state.records, state.source) == (0, 0, "")
    assert await store.records_for([("Debian:12", "openssl")]) == []


async def test_importing_the_same_records_again_changes_nothing(store: VulnStore) -> None:
    first = await store.import_records(_records(*_all()), "osv all.zip")
    assert _counts(first) == (5, 0, 0, 1, 0) and first.version == 1 and first.changed
    state = await store.state()
    assert (state.version, state.records, state.source) == (1, 6, "osv all.zip")
    again = await store.import_records(_records(*_all()), "osv all.zip, again")
    assert _counts(again) == (0, 0, 6, 0, 0) and again.version == 1 and not again.changed
    assert await store.state() == state  # not even the source or the time moved


async def test_a_later_modified_replaces_a_record_and_an_earlier_one_does_not(store: VulnStore) -> None:
    await store.import_records(_records(requests_proxy_auth_leak()), "one")
    newer = requests_proxy_auth_leak()
    newer["modified"] = "2025-01-01T00:00:00Z"
    newer["affected"][0]["ranges"][0]["events"][1] = {"fixed": "2.32.0"}
    result = await store.import_records(_records(newer), "two")
    assert _counts(result) == (0, 1, 0, 0, 0) and result.version == 2
    (stored,) = await store.records_for([("PyPI", "requests")])
    assert stored.affected[0].ranges[0].events[1].version == "2.32.0"
    older = {**requests_proxy_auth_leak(), "modified": "2020-01-01T00:00:00Z"}
    assert _counts(await store.import_records(_records(older), "three")) == (0, 0, 1, 0, 0)
    assert (await store.state()).version == 2
    (stored,) = await store.records_for([("PyPI", "requests")])
    assert stored.modified.year == 2025


async def test_withdrawing_hides_a_record_and_restoring_brings_it_back(store: VulnStore) -> None:
    await store.import_records(_records(requests_proxy_auth_leak()), "one")
    assert await store.affected_ids("CVE-2023-32681") == [GHSA_REQUESTS]
    withdrawn = {
        **requests_proxy_auth_leak(),
        "modified": "2025-01-01T00:00:00Z",
        "withdrawn": "2025-01-01T00:00:00Z",
    }
    result = await store.import_records(_records(withdrawn), "two")
    assert _counts(result) == (0, 0, 0, 1, 0) and result.version == 2
    assert await store.records_for([("PyPI", "requests")]) == []
    assert await store.affected_ids("CVE-2023-32681") == []
    kept = await store.record(GHSA_REQUESTS)
    assert kept is not None and kept.withdrawn is not None  # kept, for the record
    restored = {**requests_proxy_auth_leak(), "modified": "2025-02-01T00:00:00Z"}
    assert _counts(await store.import_records(_records(restored), "three")) == (0, 1, 0, 0, 0)
    assert [r.id for r in await store.records_for([("PyPI", "requests")])] == [GHSA_REQUESTS]


async def test_records_for_matches_the_release_or_a_record_without_one(store: VulnStore) -> None:
    await store.import_records(_records(*_all()), "all")

    async def ids(*pairs: tuple[str, str]) -> list[str]:
        return [record.id for record in await store.records_for(pairs)]

    assert await ids(("Debian:12", "openssl")) == ["DEBIAN-CVE-2023-5678", "DSA-5532-1"]
    assert await ids(("Debian:13", "openssl")) == ["DSA-5532-1"]
    assert await ids(("Alpine:v3.18", "openssl")) == ["ALPINE-CVE-2023-5678"]
    assert await ids(("Alpine:v3.19", "openssl")) == []
    assert await ids(("PyPI", "Requests"), ("PyPI", "ECDSA")) == [GHSA_REQUESTS, "GHSA-wj6h-64fc-37mp"]
    assert await ids(("Debian:12", "requests"), ("PyPI", "openssl")) == []
    assert await ids() == []


async def test_affected_ids_finds_records_by_id_alias_or_upstream_in_any_case(store: VulnStore) -> None:
    await store.import_records(_records(*_all()), "all")
    assert await store.affected_ids("cve-2023-5678") == ["ALPINE-CVE-2023-5678", "DEBIAN-CVE-2023-5678"]
    assert await store.affected_ids(" ghsa-J8R2-6x86-q33q ") == [GHSA_REQUESTS]
    assert await store.affected_ids("GHSA-2222-3333-4444") == []  # withdrawn
    assert await store.affected_ids("PYSEC-2023-74") == []  # "related" is not an alias


async def test_batches_commit_one_by_one_but_the_version_moves_once(store: VulnStore) -> None:
    result = await store.import_records(_records(*_all()), "all", batch_size=2)
    assert result.version == 1 and result.added == 5
    assert (await store.state()).records == 6


async def test_the_latest_of_duplicate_ids_wins_within_and_across_batches(store: VulnStore) -> None:
    versions = [
        {**requests_proxy_auth_leak(), "modified": f"2025-0{month}-01T00:00:00Z"} for month in (2, 3, 1)
    ]
    result = await store.import_records(_records(*versions), "dupes", batch_size=2)
    assert (result.added, result.updated, result.unchanged) == (1, 0, 2)
    stored = await store.record(GHSA_REQUESTS)
    assert stored is not None and stored.modified.month == 3


async def test_problems_are_counted_as_rejected(store: VulnStore) -> None:
    items = [*_records(requests_proxy_auth_leak()), RecordProblem("all.zip!x.json", "not JSON")]
    result = await store.import_records(items, "mixed")
    assert _counts(result) == (1, 0, 0, 0, 1)
    only_problems = await store.import_records([RecordProblem("all.zip", "bad", whole_source=True)], "bad")
    assert _counts(only_problems) == (0, 0, 0, 0, 1) and only_problems.version == 1


async def test_an_import_that_died_before_its_bump_is_versioned_by_the_next(
    store: VulnStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def die(*_: object) -> int:
        raise ConnectionError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(VulnStore, "_finish", die)
        with pytest.raises(ConnectionError):
            await store.import_records(_records(*_all()), "died")
    assert (await store.state()).version == 0
    again = await store.import_records(_records(*_all()), "retried")
    assert not again.changed and again.version == 1  # nothing new, but the rows were unversioned
    assert (await store.import_records(_records(*_all()), "third")).version == 1


async def test_concurrent_imports_bump_to_distinct_versions(store: VulnStore) -> None:
    halves = _all()[:3], _all()[3:]
    results = await asyncio.gather(
        *(store.import_records(_records(*half), "half", batch_size=1) for half in halves)
    )
    assert sorted(result.version for result in results) == [1, 2]
    state = await store.state()
    assert (state.version, state.records) == (2, 6)


async def test_lookups_span_more_names_than_one_query_holds(store: VulnStore) -> None:
    many = [
        osv_record(f"PYSEC-2024-{n}", affected_entry("PyPI", f"pkg-{n}", {"introduced": "0"}))
        for n in range(1200)
    ]
    await store.import_records(_records(*many), "many", batch_size=700)
    found = await store.records_for([("PyPI", f"Pkg_{n}") for n in range(1200)])
    assert len(found) == 1200


async def test_an_archive_imported_and_matched_end_to_end(store: VulnStore, tmp_path: Path) -> None:
    archive = write_all_zip(tmp_path / "all.zip", _all(), extra={"BROKEN.json": b"{"})
    report = await import_paths([archive], store, batch_size=4)
    assert _counts(report.result) == (5, 0, 0, 1, 1) and report.sources_failed == 0
    inventory = [deb_package("libssl3", "3.0.9-1", source="openssl"), pypi_package("requests", "2.28.1")]
    findings = await match_inventory(inventory, store)
    assert [(f.vulnerability, f.fixed_version) for f in findings] == [
        (GHSA_REQUESTS, "2.31.0"),
        ("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1"),
        ("DSA-5532-1", "3.0.11-1~deb12u2"),
    ]
    again = await import_paths([archive], store)
    assert not again.result.changed and again.result.version == 1


# -- the CLI, in a real process -----------------------------------------------------------------
@pytest.fixture
def cli_database(sqlite_url: str) -> Iterator[dict[str, str]]:
    upgrade(sqlite_url)
    yield {**os.environ, "PULLGATE_DATABASE__URL": sqlite_url}


def _vulndb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", "vulndb", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_cli_import_then_status(cli_database: dict[str, str], tmp_path: Path) -> None:
    empty = _vulndb(cli_database, "status")
    assert empty.returncode == 0 and "empty" in empty.stdout
    archive = write_all_zip(tmp_path / "all.zip", _all()[:3], extra={"BROKEN.json": b"{"})
    single = tmp_path / "GHSA-wj6h-64fc-37mp.json"
    single.write_text(json.dumps(ecdsa_minerva_last_affected()))
    imported = _vulndb(cli_database, "import", str(archive), str(single))
    assert imported.returncode == 0, imported.stderr
    assert "4 records read: 4 added, 0 updated, 0 withdrawn, 0 unchanged, 1 rejected" in imported.stdout
    assert "version 1" in imported.stdout and "BROKEN.json: not JSON" in imported.stderr
    status = _vulndb(cli_database, "status")
    assert status.returncode == 0
    lines = dict(line.split(None, 1) for line in status.stdout.splitlines())
    assert lines["version"] == "1" and lines["records"] == "4"
    assert lines["source"] == f"{archive}, {single}"
    again = _vulndb(cli_database, "import", "--source", "nightly", str(archive), str(single))
    assert again.returncode == 0 and "0 added" in again.stdout and "(unchanged)" in again.stdout


def test_cli_import_reports_unreadable_sources(cli_database: dict[str, str], tmp_path: Path) -> None:
    missing = _vulndb(cli_database, "import", str(tmp_path / "nothing.zip"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    broken = tmp_path / "all.zip"
    broken.write_bytes(b"not a zip")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(requests_proxy_auth_leak()))
    partial = _vulndb(cli_database, "import", str(broken), str(good))
    assert partial.returncode == 1 and "not a readable zip archive" in partial.stderr
    assert "1 added" in partial.stdout  # the readable source was imported all the same
