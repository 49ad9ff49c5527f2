"""Signature requirements and trust material: stored whole, each change one policy version.

Runs on SQLite and PostgreSQL (the `engine` fixture is parametrised over both).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import downgrade, upgrade
from db.policy_queries import PolicyStore
from db.session import session_factory
from db.signing_queries import MaterialNotFound, SigningStore
from proxy.policy.document import PolicySections
from proxy.policy.model import Action, Match, Mode
from proxy.policy.signing import SignatureRequirement
from proxy.signatures.model import Identity, KeyAuthority, KeylessAuthority, NotationAuthority
from tests.integration.db.test_gate_migration import _tables

REQUIREMENTS = [
    SignatureRequirement(
        "team-signed",
        Match(repository="team/**", registry="docker.io"),
        (
            KeyAuthority("ci-key", "ci", {"env": "prod"}, True, "signatures/team"),
            KeylessAuthority(
                "ci-keyless",
                "corp-root",
                (Identity(issuer="https://issuer.example", subject_regex=r"^ci@corp\.example$"),),
            ),
        ),
        threshold=2,
        mode=Mode.WARN,
        description="two signers",
    ),
    SignatureRequirement("notary", Match(repository="**"), (NotationAuthority("n", "corp-notation"),)),
]


@pytest.fixture
def stores(engine: AsyncEngine) -> tuple[PolicyStore, SigningStore]:
    sessions = session_factory(engine)
    return PolicyStore(sessions), SigningStore(sessions)


async def test_requirements_round_trip_with_the_policy_and_bump_once(
    stores: tuple[PolicyStore, SigningStore],
) -> None:
    policies, signing = stores
    start, _ = await policies.policy_state()
    version, changed = await policies.replace_all([], Action.ALLOW, PolicySections(REQUIREMENTS))
    assert (version, changed) == (start + 1, True)
    assert await signing.requirements() == REQUIREMENTS

    # The same document again writes nothing and keeps the version.
    assert await policies.replace_all([], Action.ALLOW, PolicySections(REQUIREMENTS)) == (version, False)
    # Order is part of the policy; None leaves the requirements alone.
    assert await policies.replace_all([], Action.ALLOW, None) == (version, False)
    reordered, changed = await policies.replace_all([], Action.ALLOW, PolicySections(REQUIREMENTS[::-1]))
    assert changed and reordered == version + 1
    assert await signing.requirements() == REQUIREMENTS[::-1]
    emptied, changed = await policies.replace_all([], Action.ALLOW, PolicySections())
    assert changed and await signing.requirements() == []
    assert emptied == reordered + 1


async def test_trust_material_put_replace_delete(stores: tuple[PolicyStore, SigningStore]) -> None:
    policies, signing = stores
    start, _ = await policies.policy_state()
    stored, changed, version = await signing.put_material("ci", "public_key", "KEY-1")
    assert (changed, version, stored.kind) == (True, start + 1, "public_key")
    assert len(stored.sha256) == 64

    same = await signing.put_material("ci", "public_key", "KEY-1")
    assert same[1:] == (False, version)  # identical content: no write, no new version
    replaced, changed, newer = await signing.put_material("ci", "public_key", "KEY-2")
    assert changed and newer == version + 1 and replaced.sha256 != stored.sha256
    assert replaced.created_at == stored.created_at and replaced.updated_at >= stored.updated_at
    assert [m.name for m in await signing.materials()] == ["ci"]
    assert (await signing.material("ci")).content == "KEY-2"  # type: ignore[union-attr]

    assert await signing.delete_material("ci") == newer + 1
    assert await signing.material("ci") is None
    with pytest.raises(MaterialNotFound):
        await signing.delete_material("ci")
    assert (await policies.policy_state())[0] == newer + 1  # a failed delete bumps nothing


async def test_concurrent_trust_writes_get_distinct_versions(
    stores: tuple[PolicyStore, SigningStore],
) -> None:
    policies, signing = stores
    start, _ = await policies.policy_state()
    results = await asyncio.gather(
        *(signing.put_material(f"key-{n}", "public_key", f"K{n}") for n in range(8))
    )
    versions = sorted(version for _, _, version in results)
    assert versions == list(range(start + 1, start + 9))


def test_migration_0003_comes_and_goes(migrated_database_url: str) -> None:
    assert {"signature_requirements", "trust_materials"} <= _tables(migrated_database_url)
    downgrade(migrated_database_url, "0002")
    assert _tables(migrated_database_url).isdisjoint({"signature_requirements", "trust_materials"})
    assert "rules" in _tables(migrated_database_url)
    upgrade(migrated_database_url)
    assert {"signature_requirements", "trust_materials"} <= _tables(migrated_database_url)
