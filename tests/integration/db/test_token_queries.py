"""Admin API tokens: only hashes stored, revocation final, last use recorded sparingly."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import ApiToken
from db.session import session_factory
from db.token_queries import TokenRole, TokenStore

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(engine: AsyncEngine) -> TokenStore:
    return TokenStore(session_factory(engine))


async def test_only_the_hash_is_stored(engine: AsyncEngine, store: TokenStore) -> None:
    token_id, plaintext = await store.create_token("ci", TokenRole.ADMIN)
    assert plaintext.startswith("pgt_") and len(plaintext) == 4 + 43
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(ApiToken.__table__))).all()
    assert len(rows) == 1
    assert rows[0].id == token_id
    assert rows[0].token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.removeprefix("pgt_")
    assert not any(secret in str(value) for value in rows[0])


async def test_a_token_authenticates_as_its_role(store: TokenStore) -> None:
    admin_id, admin = await store.create_token("ops", "admin")
    auditor_id, auditor = await store.create_token("soc", TokenRole.AUDITOR)
    assert admin != auditor
    found = await store.authenticate(admin)
    assert found is not None and (found.id, found.name, found.role) == (admin_id, "ops", TokenRole.ADMIN)
    found = await store.authenticate(auditor)
    assert found is not None and (found.id, found.role) == (auditor_id, TokenRole.AUDITOR)


@pytest.mark.parametrize("presented", ["", "pgt_", "pgt_" + "A" * 43, "Bearer x", "pgt_\u00e9\ud800", "\x00"])
async def test_anything_else_is_refused(store: TokenStore, presented: str) -> None:
    await store.create_token("ops", TokenRole.ADMIN)
    assert await store.authenticate(presented) is None


async def test_a_revoked_token_is_refused(store: TokenStore) -> None:
    token_id, plaintext = await store.create_token("old", TokenRole.ADMIN)
    kept_id, kept = await store.create_token("new", TokenRole.ADMIN)
    assert await store.revoke(token_id) is True
    assert await store.authenticate(plaintext) is None
    assert await store.revoke(token_id) is False  # already revoked
    assert await store.revoke("no-such-token") is False
    assert await store.authenticate(kept) is not None
    listed = {token.id: token for token in await store.list_tokens()}
    assert listed[token_id].revoked_at is not None and listed[kept_id].revoked_at is None


async def test_last_use_is_written_at_most_once_a_minute(store: TokenStore) -> None:
    _, plaintext = await store.create_token("ci", TokenRole.AUDITOR)
    assert (await store.list_tokens())[0].last_used_at is None
    for seconds, expected in ((0, 0), (30, 0), (59, 0), (60, 60), (61, 60), (200, 200)):
        found = await store.authenticate(plaintext, at=T0 + timedelta(seconds=seconds))
        assert found is not None and found.last_used_at == T0 + timedelta(seconds=expected)
        (listed,) = await store.list_tokens()
        assert listed.last_used_at == T0 + timedelta(seconds=expected)


async def test_tokens_are_listed_oldest_first(store: TokenStore) -> None:
    ids = [(await store.create_token(name, TokenRole.AUDITOR))[0] for name in ("a", "b", "c")]
    assert [token.id for token in await store.list_tokens()] == ids


async def test_an_unknown_role_is_refused(store: TokenStore) -> None:
    with pytest.raises(ValueError, match="root"):
        await store.create_token("x", "root")
    assert await store.list_tokens() == []
