"""Scans in the database, on SQLite and PostgreSQL: the row is the lease, findings are
searchable by every name, analyses are kept per layer, policy sections move the version."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.policy_queries import PolicyStore
from db.scan_queries import ScanStore
from db.session import session_factory
from proxy.policy.document import PolicySections
from proxy.policy.model import Action, Match
from proxy.policy.vulnerability import VulnerabilityException, VulnerabilityPolicy
from proxy.scanning.model import Finding, Inventory, LayerAnalysis, Package, ScanReport, Severity

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def _report(version: str, *findings: Finding) -> ScanReport:
    inventory = Inventory(None, (Package("openssl", "3.0.11-1", "Debian:12", source_name="openssl"),))
    return ScanReport("builtin", version, datetime(2026, 11, 23, tzinfo=UTC), findings, inventory)


FINDING = Finding(
    "DEBIAN-CVE-2024-1", ("CVE-2024-1",), "openssl", "3.0.11-1", "Debian:12", "3.0.13-1", Severity.HIGH, 7.5
)


@pytest.fixture
def scans(engine: AsyncEngine) -> ScanStore:
    return ScanStore(session_factory(engine))


async def test_one_replica_gets_the_lease_and_the_others_see_it(scans: ScanStore) -> None:
    results = await asyncio.gather(*(scans.start(DIGEST, "builtin", "1", lease=60) for _ in range(5)))
    assert sorted(ours for _, ours in results) == [False] * 4 + [True]
    row = next(row for row, ours in results if ours)
    await scans.finish(row.id, _report("1", FINDING))
    again, ours = await scans.start(DIGEST, "builtin", "1", lease=60)
    assert not ours and again.done and again.report is not None
    assert again.report.findings == (FINDING,)


async def test_an_expired_lease_or_a_failure_is_taken_over(scans: ScanStore) -> None:
    row, ours = await scans.start(DIGEST, "builtin", "1", lease=60)
    assert ours
    taken, ours = await scans.start(DIGEST, "builtin", "1", lease=0)  # the holder is silent too long
    assert ours and taken.id == row.id
    await scans.fail(taken.id, "layer fetch failed")
    state = await scans.get(DIGEST, "builtin", "1")
    assert state is not None and state.status == "failed" and state.error == "layer fetch failed"
    retried, ours = await scans.start(DIGEST, "builtin", "1", lease=60)
    assert ours and retried.status == "running" and retried.error is None


async def test_latest_outdated_and_affected(scans: ScanStore) -> None:
    first, _ = await scans.start(DIGEST, "builtin", "1", lease=60)
    await scans.finish(first.id, _report("1"))
    other, _ = await scans.start(OTHER, "builtin", "2", lease=60)
    await scans.finish(other.id, _report("2", FINDING))
    assert await scans.outdated("builtin", "2", 10) == [DIGEST]
    second, _ = await scans.start(DIGEST, "builtin", "2", lease=60)
    await scans.finish(second.id, _report("2", FINDING))
    assert await scans.outdated("builtin", "2", 10) == []
    latest = await scans.latest_done(DIGEST)
    assert latest is not None and latest.db_version == "2"
    for name in ("DEBIAN-CVE-2024-1", "CVE-2024-1"):
        affected = await scans.affected_by(name)
        assert sorted(a.digest for a in affected) == sorted([DIGEST, OTHER])
        assert {a.fixed_version for a in affected} == {"3.0.13-1"} and {a.severity for a in affected} == {
            Severity.HIGH
        }
    assert await scans.affected_by("CVE-1999-0001") == []
    assert [r.db_version for r in await scans.history(DIGEST)] == ["2", "1"]


async def test_layer_analyses_are_kept_per_digest_and_version(scans: ScanStore) -> None:
    analysis = LayerAnalysis(
        "sha256:" + "11" * 32,
        files={"var/lib/dpkg/status": (Package("bash", "5.2.15-2+b2", "Debian:12"),)},
        whiteouts=("etc/old",),
        problems=("entry ../x refused",),
    )
    await scans.save_analysis(analysis)
    await scans.save_analysis(analysis)  # idempotent
    assert await scans.analyses([analysis.digest, "sha256:" + "22" * 32], 1) == {analysis.digest: analysis}
    assert await scans.analyses([analysis.digest], 2) == {}


async def test_vulnerability_sections_move_the_policy_version(engine: AsyncEngine, scans: ScanStore) -> None:
    policies = PolicyStore(session_factory(engine))
    sections = PolicySections(
        vulnerability_policies=[VulnerabilityPolicy("no-criticals", Match(), max_severity=Severity.HIGH)],
        vulnerability_exceptions=[
            VulnerabilityException("waive", "CVE-2024-1", justification="mitigated", owner="sec")
        ],
    )
    start, _ = await policies.policy_state()
    version, changed = await policies.replace_all([], Action.ALLOW, sections)
    assert changed and version == start + 1
    assert await scans.vulnerability_policies() == list(sections.vulnerability_policies)
    assert await scans.vulnerability_exceptions() == list(sections.vulnerability_exceptions)
    assert await policies.replace_all([], Action.ALLOW, sections) == (version, False)
    assert (await policies.replace_all([], Action.ALLOW, PolicySections()))[1] is True
    assert await scans.vulnerability_policies() == []
