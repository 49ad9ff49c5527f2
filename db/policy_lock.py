"""The policy lock and version bump every policy write goes through (rules, signature
requirements, trust material): see `db.policy_queries` for why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PolicyState
from proxy.policy.model import Action

__all__ = ["STATE_ID", "bump_policy", "lock_policy"]

STATE_ID = 1  # the one policy_state row, inserted by migration 0002


async def lock_policy(session: AsyncSession) -> tuple[int, Action]:
    query = (
        select(PolicyState.version, PolicyState.default_action)
        .where(PolicyState.id == STATE_ID)
        .with_for_update()
    )
    row = (await session.execute(query)).one()
    return row.version, Action(row.default_action)


async def bump_policy(session: AsyncSession, at: datetime, **values: Any) -> int:
    # version + 1 computed by the database, under the row lock: never a lost update.
    statement = (
        update(PolicyState)
        .where(PolicyState.id == STATE_ID)
        .values(version=PolicyState.version + 1, updated_at=at, **values)
        .returning(PolicyState.version)
    )
    return int((await session.execute(statement)).scalar_one())
