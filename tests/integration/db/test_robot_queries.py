"""Robot accounts and the pull-token signing key in the database, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.auth_models import RobotRecord
from db.credential_hash import ScryptParams, SecretHasher, verify_secret
from db.pull_keys import SigningKeyStore
from db.robot_queries import RobotExists, RobotStore
from db.session import session_factory
from proxy.gate.auth.robot_states import RobotStates

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCOPES = [{"registry": "docker.io", "repository": "library/**"}]


@pytest.fixture
def store(engine: AsyncEngine) -> RobotStore:
    return RobotStore(session_factory(engine), SecretHasher(ScryptParams(log2_n=10)))


async def test_robots_verify_rotate_and_revoke(engine: AsyncEngine, store: RobotStore) -> None:
    row, secret = await store.create("ci", owner="platform", scopes=SCOPES, description="builds")
    assert secret.startswith("pgr_") and row.secret_version == 1 and row.scopes == tuple(SCOPES)
    async with session_factory(engine)() as session:
        (record,) = (await session.scalars(select(RobotRecord))).all()
    assert record.secret_hash.startswith("scrypt$") and verify_secret(secret, record.secret_hash)
    assert secret.removeprefix("pgr_") not in str(
        [getattr(record, c.key) for c in RobotRecord.__table__.columns]
    )

    found = await store.verify("ci", secret, at=T0)
    assert found is not None and found.id == row.id
    assert await store.verify("ci", secret + "x") is None
    assert await store.verify("nobody", secret) is None
    for seconds, expected in ((30, 0), (60, 60)):  # written once a minute at most
        await store.verify("ci", secret, at=T0 + timedelta(seconds=seconds))
        current = await store.get("ci")
        assert current is not None and current.last_used_at == T0 + timedelta(seconds=expected)

    rotated = await store.rotate("ci")
    assert rotated is not None
    rotated_row, new_secret = rotated
    assert rotated_row.secret_version == 2 and new_secret != secret
    assert await store.verify("ci", secret) is None
    assert (await store.verify("ci", new_secret)) is not None

    revoked = await store.revoke("ci")
    assert revoked is not None and revoked.revoked_at is not None
    assert await store.revoke("ci") is None and await store.rotate("ci") is None
    still = await store.verify("ci", new_secret)  # the secret is right; the caller refuses it
    assert still is not None and still.revoked_at is not None
    with pytest.raises(RobotExists):
        await store.create("ci", owner="someone", scopes=SCOPES)  # names are never reused
    later, _ = await store.create("nodes", owner="platform", scopes=SCOPES, expires_at=T0)
    assert later.expired(T0) and [r.name for r in await store.list_robots()] == ["ci", "nodes"]


async def test_replicas_share_one_signing_key_and_see_robot_changes_within_the_interval(
    engine: AsyncEngine, store: RobotStore
) -> None:
    stores = [SigningKeyStore(session_factory(engine)) for _ in range(4)]
    keys = await asyncio.gather(*(s.current() for s in stores))  # replicas starting together
    assert len({(k.kid, k.secret) for k in keys}) == 1 and len(keys[0].secret) == 32
    assert await SigningKeyStore(session_factory(engine)).current() == keys[0]
    assert keys[0].secret.hex() not in repr(keys[0])

    clock = [100.0]
    states = RobotStates(store.list_robots, store.get_by_id, interval=5.0, clock=lambda: clock[0])
    row, _ = await store.create("ci", owner="platform", scopes=SCOPES)
    seen = await states.get(row.id)
    assert seen is not None and seen.revoked_at is None and seen.scopes.scopes[0].repository == "library/**"
    await store.revoke("ci")  # by another replica: this one's snapshot is still fresh
    assert (await states.get(row.id)).revoked_at is None  # type: ignore[union-attr]
    clock[0] += 5.0
    assert (await states.get(row.id)).revoked_at is not None  # type: ignore[union-attr]
    newer, _ = await store.create("new", owner="platform", scopes=SCOPES)  # unknown to the snapshot
    assert (await states.get(newer.id)) is not None
    assert await states.get("00000000-0000-0000-0000-000000000000") is None
