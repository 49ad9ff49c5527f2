"""Upstream credentials through the admin API: read (never the secret), set, delete; all audited.

A change is applied on this replica before the call answers, and by every other replica
within `secrets.refresh_interval`. Audit records name the upstream, the username and the
key id, never the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.credential_queries import StoredCredential
from proxy.gate.credential_sync import CredentialSync
from proxy.gate.credentials import CredentialKeeper
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import not_found

__all__ = ["CredentialsAdmin", "CredentialsState"]


@dataclass(frozen=True, slots=True)
class CredentialsState:
    upstream: str
    stored: bool
    username: str | None
    password_set: bool
    key_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    in_use: str
    problem: str | None


class CredentialsAdmin:
    def __init__(self, keeper: CredentialKeeper, sync: CredentialSync, actions: ActionLog) -> None:
        self._keeper = keeper
        self._sync = sync
        self._actions = actions

    async def get(self, upstream: str) -> CredentialsState:
        return self._state(upstream, await self._keeper.get(upstream))

    async def put(
        self, actor: Actor, upstream: str, username: str, password: str
    ) -> tuple[CredentialsState, bool]:
        """Store (sealed) and use at once; (state, created)."""
        stored, before = await self._keeper.put(upstream, username, password)
        await self._sync.refresh()
        await self._actions.record(
            actor,
            "upstream.credentials.create" if before is None else "upstream.credentials.update",
            upstream=upstream,
            username=username,
            key_id=stored.key_id,
            previous_username=before.username if before else None,
        )
        return self._state(upstream, stored), before is None

    async def delete(self, actor: Actor, upstream: str) -> CredentialsState:
        removed = await self._keeper.delete(upstream)
        await self._sync.refresh()
        await self._actions.record(
            actor,
            "upstream.credentials.delete",
            upstream=upstream,
            username=removed.username,
            key_id=removed.key_id,
        )
        return self._state(upstream, None) if self._sync.knows(upstream) else _orphan_state(upstream)

    def _state(self, upstream: str, stored: StoredCredential | None) -> CredentialsState:
        if not self._sync.knows(upstream):
            if stored is None:
                raise not_found(f"upstream {upstream!r} is configured")
            return _orphan_state(upstream, stored)
        use = self._sync.in_use(upstream)
        return CredentialsState(
            upstream=upstream,
            stored=stored is not None,
            username=stored.username if stored else use.username,
            password_set=stored is not None or use.source == "settings",
            key_id=stored.key_id if stored else None,
            created_at=stored.created_at if stored else None,
            updated_at=stored.updated_at if stored else None,
            in_use=use.source,
            problem=use.problem,
        )


def _orphan_state(upstream: str, stored: StoredCredential | None = None) -> CredentialsState:
    """Credentials of an upstream that is no longer configured: shown so they can be deleted."""
    return CredentialsState(
        upstream=upstream,
        stored=stored is not None,
        username=stored.username if stored else None,
        password_set=stored is not None,
        key_id=stored.key_id if stored else None,
        created_at=stored.created_at if stored else None,
        updated_at=stored.updated_at if stored else None,
        in_use="none",
        problem=None,
    )
