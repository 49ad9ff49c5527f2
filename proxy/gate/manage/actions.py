"""Who made an admin change, and the audit record every change leaves.

Admin changes are written to the audit log directly, not through the gate's batching
writer: the call answers only once its record is stored, so an admin (or a test) reading
the log right after a change finds it, and a change whose record cannot be written is
answered as a failure rather than silently unaudited. The record is written after the
change commits (they live in different stores), so a failure here means "changed, but
unaudited" and the error says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from db.audit_queries import NewAuditEvent
from db.gate_queries import now
from db.token_queries import TokenRole

__all__ = ["ActionLog", "Actor"]

log = logging.getLogger(__name__)

AuditSink = Callable[[Sequence[NewAuditEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of an admin operation."""

    token_id: str
    name: str
    role: TokenRole
    address: str | None = None
    user_agent: str | None = None

    @property
    def identity(self) -> str:
        # The token's name is what a person recognises; its id (in the detail) is unique.
        return f"token:{self.name}"


class ActionLog:
    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    async def record(
        self,
        actor: Actor,
        action: str,
        *,
        policy_version: int | None = None,
        upstream: str | None = None,
        repository: str | None = None,
        digest: str | None = None,
        **detail: Any,
    ) -> None:
        event = NewAuditEvent(
            created_at=now(),
            kind="admin",
            client_address=actor.address,
            user_agent=actor.user_agent,
            identity=actor.identity,
            upstream=upstream,
            repository=repository,
            digest=digest,
            policy_version=policy_version,
            detail={"action": action, "token_id": actor.token_id, "role": actor.role.value, **detail},
        )
        try:
            await self._sink([event])
        except Exception:
            log.error(
                "admin action %s by %s took effect but was not audited: %s", action, actor.identity, event
            )
            raise
