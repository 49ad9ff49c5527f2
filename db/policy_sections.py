"""Policy sections besides rules (signature requirements, vulnerability policies and
exceptions): each kept as its document form (JSON) with its position, replaced as a whole
inside PolicyStore.replace_all's transaction, so they move with the policy version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SectionRecord", "merge_section", "read_section"]


class SectionRecord(Protocol):
    id: Any
    position: Any
    spec: Any
    created_at: Any
    updated_at: Any

    def __init__(self, **values: Any) -> None: ...


async def merge_section(
    session: AsyncSession,
    record: type[SectionRecord],
    wanted: Sequence[tuple[str, dict[str, Any]]],
    at: datetime,
) -> bool:
    """Make the stored section exactly `wanted` ((id, spec) in order); True if anything changed."""
    stored = {r.id: r for r in (await session.scalars(select(record))).all()}
    ids = {item_id for item_id, _ in wanted}
    changed = False
    for item_id in stored.keys() - ids:
        await session.delete(stored[item_id])
        changed = True
    for position, (item_id, spec) in enumerate(wanted):
        existing = stored.get(item_id)
        if existing is None:
            session.add(record(id=item_id, position=position, spec=spec, created_at=at, updated_at=at))
            changed = True
        elif existing.spec != spec or existing.position != position:
            existing.spec, existing.position, existing.updated_at = spec, position, at
            changed = True
    return changed


async def read_section(session: AsyncSession, record: type[SectionRecord]) -> list[dict[str, Any]]:
    query = select(record).order_by(record.position)
    return [r.spec for r in (await session.scalars(query)).all()]
