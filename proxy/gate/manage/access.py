"""Who may use the admin API (tokens), and what everyone did (the audit log)."""

from __future__ import annotations

from datetime import datetime

from db.audit_queries import AuditEventRow, AuditStore, Puller
from db.gate_queries import InvalidCursor, now
from db.token_queries import TokenInfo, TokenRole, TokenStore
from proxy.gate.auth.cache import CredentialCache
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.manage.paging import Page, bad_cursor, cursor_text, page_of

__all__ = ["AuditAdmin", "TokensAdmin"]


class TokensAdmin:
    def __init__(self, tokens: TokenStore, actions: ActionLog, *, cache_ttl: float = 0.0) -> None:
        self._tokens = tokens
        self._actions = actions
        # Every admin API call presents its token: without this, each would pay the slow hash.
        self._verified: CredentialCache[TokenInfo] = CredentialCache(cache_ttl)

    async def authenticate(self, plaintext: str) -> TokenInfo | None:
        """The unrevoked token `plaintext` is, or None; the caller refuses an expired one."""
        key = self._verified.key(plaintext)
        info = self._verified.get(key)
        if info is None:
            info = await self._tokens.authenticate(plaintext)
            if info is not None and not info.expired(now()):
                self._verified.put(key, info.id, info)
        return info

    async def page(self, limit: int, cursor: str | None) -> Page[TokenInfo]:
        # Tokens are few (people and deploy jobs), so the store lists them all; paging over
        # that list keeps the API's shape the same as every other list.
        tokens = await self._tokens.list_tokens()
        start = 0
        after = cursor_text(cursor)
        if after is not None:  # tokens are revoked, never deleted: the one named is still listed
            start = next((i + 1 for i, token in enumerate(tokens) if token.id == after), -1)
            if start < 0:
                raise bad_cursor(InvalidCursor())
        return page_of(tokens[start : start + limit + 1], limit, lambda token: token.id)

    async def create(
        self, actor: Actor, name: str, role: TokenRole, expires_at: datetime | None = None
    ) -> tuple[str, str]:
        """A new token: (id, plaintext); the plaintext is never available again."""
        if expires_at is not None and expires_at <= now():
            raise AdminError(AdminErrorKind.INVALID, "expires_at is in the past", field="expires_at")
        token_id, plaintext = await self._tokens.create_token(name, role, expires_at=expires_at)
        await self._actions.record(
            actor,
            "token.create",
            created_token_id=token_id,
            name=name,
            token_role=role.value,
            expires_at=expires_at.isoformat() if expires_at else None,
        )
        return token_id, plaintext

    async def revoke(self, actor: Actor, token_id: str) -> None:
        if not await self._tokens.revoke(token_id):
            raise not_found(f"active token {token_id!r}")
        self._verified.forget_owner(token_id)
        await self._actions.record(actor, "token.revoke", revoked_token_id=token_id)


class AuditAdmin:
    def __init__(self, audit: AuditStore) -> None:
        self._audit = audit

    async def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        upstream: str | None = None,
        repository: str | None = None,
        digest: str | None = None,
        outcome: str | None = None,
        client: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[AuditEventRow]:
        try:
            rows, after = await self._audit.query_events(
                since=since,
                until=until,
                upstream=upstream,
                repository=repository,
                digest=digest,
                outcome=outcome,
                client=client,
                kind=kind,
                limit=limit,
                cursor=cursor,
            )
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc
        return Page(rows, after)

    async def who_pulled(self, digest: str, limit: int, cursor: str | None) -> Page[Puller]:
        try:
            rows, after = await self._audit.who_pulled(digest, limit, cursor)
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc
        return Page(rows, after)
