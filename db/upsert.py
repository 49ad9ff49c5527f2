"""Dialect-aware INSERT ... ON CONFLICT, for the two databases pullgate supports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from db.models import Base

__all__ = ["insert_ignore", "upsert"]


def _insert(session: AsyncSession, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def insert_ignore(
    session: AsyncSession, model: type[Base], values: Mapping[str, Any], keys: Sequence[str]
) -> Insert:
    stmt = _insert(session, model).values(**values)
    result: Insert = stmt.on_conflict_do_nothing(index_elements=list(keys))
    return result


def upsert(
    session: AsyncSession,
    model: type[Base],
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Sequence[str],
) -> Insert:
    stmt = _insert(session, model).values(**values)
    result: Insert = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in update}
    )
    return result
