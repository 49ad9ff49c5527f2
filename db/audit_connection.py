"""The audit writer's own connection: a batch costs BEGIN, INSERT and COMMIT, nothing more.

With `gate.audit_durability: ack` every manifest request waits for its batch's commit, so
the commit's latency is the request's. A pooled session adds a checkout, a reset on return
and the session's bookkeeping to every batch, and with SQLite each of those is a hop to the
driver's thread and back through a busy event loop. One connection kept open for the
writer avoids them. A failed batch drops the connection (it may be broken: a restarted
PostgreSQL); the writer's retry opens a new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.audit_queries import NewAuditEvent, event_values
from db.models import AuditEvent

__all__ = ["AuditConnection"]

_INSERT = insert(cast(Table, AuditEvent.__table__))


class AuditConnection:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def insert_events(self, events: Sequence[NewAuditEvent]) -> None:
        """Write a batch in one transaction (one executemany); raise if it was not committed."""
        if not events:
            return
        if self._connection is None:
            self._connection = await self._engine.connect()
        try:
            async with self._connection.begin():
                await self._connection.execute(_INSERT, [event_values(event) for event in events])
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already failing: the caller reports the first error
                await connection.close()
