"""The review queue: list what is held, release it (an exception, perhaps until a date) or
reject it for good.

A review changes what every replica must decide about the image, but it is not a rule
change, so the store does not bump the policy version by itself: after a review the
version is bumped here (`stores.policies.bump()`), and every replica's cached decisions
(made under the old version) are thrown away — the next pull anywhere re-decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.gate_queries import now
from db.policy_queries import PolicyStore
from db.quarantine_queries import (
    InvalidTransition,
    QuarantineNotFound,
    QuarantineRow,
    QuarantineStatus,
    QuarantineStore,
)
from db.stats_queries import ScanSummary, StatsQueries
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.manage.paging import Page, cursor_id, pack
from proxy.gate.service import Gate

__all__ = ["QuarantineAdmin", "QueueEntry", "Reviewed"]


@dataclass(frozen=True, slots=True)
class Reviewed:
    entry: QuarantineRow
    policy_version: int  # the version every replica now decides under


@dataclass(frozen=True, slots=True)
class QueueEntry:
    entry: QuarantineRow
    scan: ScanSummary | None  # the newest finished scan of the digest, if any


class QuarantineAdmin:
    def __init__(
        self,
        queue: QuarantineStore,
        policies: PolicyStore,
        gate: Gate,
        actions: ActionLog,
        stats: StatsQueries,
    ) -> None:
        self._queue = queue
        self._policies = policies
        self._gate = gate
        self._actions = actions
        self._stats = stats

    async def page(self, status: QuarantineStatus | None, limit: int, cursor: str | None) -> Page[QueueEntry]:
        """A page of the queue, each entry with its scan summary (one query for the page)."""
        rows, after = await self._queue.list_quarantine(status, limit, cursor_id(cursor))
        scans = await self._stats.scan_summaries([row.digest for row in rows])
        entries = [QueueEntry(row, scans.get(row.digest)) for row in rows]
        return Page(entries, pack(after))  # the store's own cursor is an id: pack it like every other

    async def get(self, entry_id: int) -> QuarantineRow:
        entry = await self._queue.get_quarantine_by_id(entry_id)
        if entry is None:
            raise not_found(f"quarantine entry {entry_id}")
        return entry

    async def release(
        self, actor: Actor, entry_id: int, reason: str, expires_at: datetime | None
    ) -> Reviewed:
        if expires_at is not None and expires_at <= now():
            raise AdminError(AdminErrorKind.INVALID, "expires_at must be in the future", field="expires_at")
        try:
            entry = await self._queue.release(entry_id, actor.identity, reason, expires_at)
        except (QuarantineNotFound, InvalidTransition) as exc:
            raise _refused(exc) from exc
        return await self._reviewed(actor, "quarantine.release", entry)

    async def reject(self, actor: Actor, entry_id: int, reason: str) -> Reviewed:
        try:
            entry = await self._queue.reject(entry_id, actor.identity, reason)
        except (QuarantineNotFound, InvalidTransition) as exc:
            raise _refused(exc) from exc
        return await self._reviewed(actor, "quarantine.reject", entry)

    async def _reviewed(self, actor: Actor, action: str, entry: QuarantineRow) -> Reviewed:
        version = await self._policies.bump()
        self._gate.forget()
        await self._actions.record(
            actor,
            action,
            policy_version=version,
            upstream=entry.upstream,
            repository=entry.repository,
            digest=entry.digest,
            entry_id=entry.id,
            status=entry.status.value,
            reason=entry.review_reason,
            expires_at=entry.expires_at.isoformat() if entry.expires_at else None,
        )
        return Reviewed(entry, version)


def _refused(exc: QuarantineNotFound | InvalidTransition) -> AdminError:
    if isinstance(exc, QuarantineNotFound):
        return not_found(f"quarantine entry {exc.entry_id}")
    return AdminError(AdminErrorKind.CONFLICT, str(exc))
