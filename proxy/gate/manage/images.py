"""Cached images with what the gate says about them, and one digest's blast radius.

"Blast radius" is the question an admin asks when an image turns out bad: every repository
holding the digest, every decision about it, every review, and every client that pulled it,
in one answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from db.admin_queries import AdminQueries, CachedImageRow, StoredObjectRow
from db.audit_queries import AuditStore, Puller
from db.decision_queries import DecisionRow, DecisionStore
from db.quarantine_queries import QuarantineRow, QuarantineStore
from proxy.gate.manage.errors import not_found
from proxy.gate.manage.paging import Page, cursor_id, pack
from proxy.policy.model import Outcome

__all__ = ["ImageDetail", "ImagesAdmin"]

_DECISIONS_SHOWN = 50  # the newest; older ones are in the audit log
_PULLERS_SHOWN = 100  # the first page; `GET /audit/pulls` pages through the rest


@dataclass(frozen=True, slots=True)
class ImageDetail:
    digest: str
    stored: StoredObjectRow | None  # None: not in the content store (evicted, or never cached)
    holders: list[CachedImageRow]  # every repository that has the manifest cached
    decisions: list[DecisionRow]
    quarantine: list[QuarantineRow]
    pulled_by: Page[Puller]


class ImagesAdmin:
    def __init__(
        self, queries: AdminQueries, decisions: DecisionStore, quarantine: QuarantineStore, audit: AuditStore
    ) -> None:
        self._queries = queries
        self._decisions = decisions
        self._quarantine = quarantine
        self._audit = audit

    async def page(
        self,
        *,
        upstream: str | None,
        repository: str | None,
        outcome: Outcome | None,
        limit: int,
        cursor: str | None,
    ) -> Page[CachedImageRow]:
        rows, more = await self._queries.cached_images(
            upstream=upstream,
            repository=repository,
            outcome=outcome.value if outcome is not None else None,
            limit=limit,
            after_id=cursor_id(cursor),
        )
        return Page(rows, pack(rows[-1].id) if more else None)

    async def detail(self, digest: str) -> ImageDetail:
        stored, holders, decision_ids, entry_ids, pulled = await asyncio.gather(
            self._queries.stored_object(digest),
            self._queries.cached_images(digest=digest, limit=1000),
            self._queries.decision_ids_for_digest(digest, _DECISIONS_SHOWN),
            self._queries.quarantine_ids_for_digest(digest),
            self._audit.who_pulled(digest, _PULLERS_SHOWN),
        )
        # One by one through the stores, which own the row mapping: a few dozen small reads,
        # one after the other so as not to crowd SQLite's single writer lock.
        decisions = [d for d in [await self._decisions.get_decision(i) for i in decision_ids] if d]
        entries = [e for e in [await self._quarantine.get_quarantine_by_id(i) for i in entry_ids] if e]
        (cached, _), (pullers, after) = holders, pulled
        if stored is None and not (cached or decisions or entries or pullers):
            raise not_found(f"image {digest}: it was never cached, decided, held or pulled")
        return ImageDetail(digest, stored, cached, decisions, entries, Page(pullers, after))
