"""Admin API tokens: only slow salted hashes stored, found by the id they carry, revocation
final, expiry reported, legacy SHA-256 tokens still accepted, last use recorded sparingly."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.credential_hash import ScryptParams, SecretHasher, parse_params, verify_secret
from db.models import ApiToken
from db.session import session_factory
from db.token_queries import TokenRole, TokenStore, token_id_of

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHEAP = ScryptParams(log2_n=10)


@pytest.fixture
def store(engine: AsyncEngine) -> TokenStore:
    return TokenStore(session_factory(engine), SecretHasher(CHEAP))


async def _rows(engine: AsyncEngine) -> list[ApiToken]:
    async with session_factory(engine)() as session:
        return list((await session.scalars(select(ApiToken))).all())


async def test_only_a_scrypt_hash_is_stored(engine: AsyncEngine) -> None:
    store = TokenStore(session_factory(engine))  # the default parameters, as in production
    token_id, plaintext = await store.create_token("ci", TokenRole.ADMIN)
    assert plaintext.startswith("pgt_") and len(plaintext) == 4 + 32 + 1 + 43
    assert token_id_of(plaintext) == token_id
    (row,) = await _rows(engine)
    assert row.token_hash is None  # no fast hash of a new token anywhere
    assert row.secret_hash is not None and row.secret_hash.startswith("scrypt$ln=15,r=8,p=1$")
    assert hashlib.sha256(plaintext.encode()).hexdigest() not in row.secret_hash
    assert verify_secret(plaintext, row.secret_hash)
    secret = plaintext.rsplit("_", 1)[1]
    assert not any(secret in str(getattr(row, column.key)) for column in ApiToken.__table__.columns)


async def test_a_token_authenticates_as_its_role(store: TokenStore) -> None:
    admin_id, admin = await store.create_token("ops", "admin")
    auditor_id, auditor = await store.create_token("soc", TokenRole.AUDITOR)
    assert admin != auditor
    found = await store.authenticate(admin)
    assert found is not None and (found.id, found.name, found.role) == (admin_id, "ops", TokenRole.ADMIN)
    assert not found.legacy
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


async def test_wrong_secrets_and_unknown_ids_are_refused_legacy_tokens_accepted(
    engine: AsyncEngine, store: TokenStore
) -> None:
    _, plaintext = await store.create_token("ops", TokenRole.ADMIN)
    body = plaintext.removeprefix("pgt_")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert await store.authenticate("pgt_" + flipped) is None
    assert await store.authenticate(f"pgt_{uuid.uuid4().hex}_{body[33:]}") is None
    assert await store.authenticate(plaintext) is not None
    # A token as pullgate made them before revision 0008: 43 random characters, SHA-256 stored.
    legacy = "pgt_" + "x" * 20 + "_" + "Y" * 22
    values = {
        "id": str(uuid.uuid4()),
        "name": "old-ci",
        "role": "admin",
        "token_hash": hashlib.sha256(legacy.encode()).hexdigest(),
        "created_at": T0,
    }
    async with session_factory(engine).begin() as session:
        await session.execute(insert(ApiToken).values(**values))
    found = await store.authenticate(legacy)
    assert found is not None and found.legacy and found.name == "old-ci"
    assert await store.authenticate(legacy[:-1] + "Z") is None
    assert {token.name: token.legacy for token in await store.list_tokens()} == {"old-ci": True, "ops": False}


async def test_expiry_is_reported_and_weaker_hashes_are_replaced_on_use(
    engine: AsyncEngine, store: TokenStore
) -> None:
    _, plaintext = await store.create_token("temp", TokenRole.ADMIN, expires_at=T0 + timedelta(days=90))
    found = await store.authenticate(plaintext, at=T0 + timedelta(days=89))
    assert found is not None and not found.expired(T0 + timedelta(days=89))
    late = T0 + timedelta(days=90)
    found = await store.authenticate(plaintext, at=late)
    assert found is not None and found.expired(late) and found.expires_at == T0 + timedelta(days=90)
    (listed,) = await store.list_tokens()
    assert listed.last_used_at == T0 + timedelta(days=89)
    (row,) = await _rows(engine)
    assert row.expires_at is not None

    sessions = session_factory(engine)
    _, plaintext = await TokenStore(sessions, SecretHasher(CHEAP)).create_token("ci", TokenRole.ADMIN)
    stronger = TokenStore(sessions, SecretHasher(ScryptParams(log2_n=11)))
    assert await stronger.authenticate(plaintext) is not None
    row = next(row for row in await _rows(engine) if row.name == "ci")
    assert row.secret_hash is not None and parse_params(row.secret_hash) == ScryptParams(log2_n=11)
    assert await stronger.authenticate(plaintext) is not None


async def test_tokens_are_listed_oldest_first(store: TokenStore) -> None:
    ids = [(await store.create_token(name, TokenRole.AUDITOR))[0] for name in ("a", "b", "c")]
    assert [token.id for token in await store.list_tokens()] == ids


async def test_an_unknown_role_is_refused(store: TokenStore) -> None:
    with pytest.raises(ValueError, match="root"):
        await store.create_token("x", "root")
    assert await store.list_tokens() == []
