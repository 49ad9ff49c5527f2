"""Dashboard figures from the audit log: pulls per outcome over time, the refusals' reasons
and images, bounded so that no question costs more than a known amount.

A time range is at most `MAX_RANGE` long and is cut into at most `MAX_BUCKETS` buckets of
equal width; buckets without pulls are answered with zeros, so a chart needs no gaps filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from db.gate_queries import now
from db.stats_queries import ImageCount, ReasonCount, StatsQueries
from proxy.gate.manage.errors import AdminError, AdminErrorKind
from proxy.policy.model import Outcome

__all__ = ["MAX_BUCKETS", "MAX_RANGE", "Denials", "PullSeries", "StatsAdmin", "TimeRange"]

MAX_RANGE = timedelta(days=90)
MAX_BUCKETS = 500
DEFAULT_RANGE = timedelta(hours=24)
REFUSED = (Outcome.DENY, Outcome.QUARANTINE, Outcome.PENDING)


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None) -> TimeRange:
        """The range asked for; the last 24 hours by default; refused if empty or too long."""
        end = until or now()
        start = since or end - DEFAULT_RANGE
        if start >= end:
            raise AdminError(AdminErrorKind.INVALID, "since must be before until", field="since")
        if end - start > MAX_RANGE:
            raise AdminError(
                AdminErrorKind.INVALID, f"the range is longer than {MAX_RANGE.days} days", field="since"
            )
        return cls(start, end)


@dataclass(frozen=True, slots=True)
class PullSeries:
    range: TimeRange
    bucket_seconds: float
    starts: list[datetime]  # the start of each bucket
    counts: dict[Outcome, list[int]]  # per outcome, one count per bucket

    def totals(self) -> dict[Outcome, int]:
        return {outcome: sum(values) for outcome, values in self.counts.items()}


@dataclass(frozen=True, slots=True)
class Denials:
    range: TimeRange
    outcomes: tuple[Outcome, ...]
    reasons: list[ReasonCount]
    images: list[ImageCount]


class StatsAdmin:
    def __init__(self, queries: StatsQueries) -> None:
        self._queries = queries

    async def pulls(self, span: TimeRange, buckets: int) -> PullSeries:
        if not 1 <= buckets <= MAX_BUCKETS:  # the API model bounds it; other callers too
            raise AdminError(AdminErrorKind.INVALID, f"buckets must be 1..{MAX_BUCKETS}", field="buckets")
        width = (span.until - span.since).total_seconds() / buckets
        counts = {outcome: [0] * buckets for outcome in Outcome}
        for bucket, outcome, count in await self._queries.pulls_by_bucket(span.since, span.until, width):
            if outcome in counts and bucket >= 0:
                # Float widths can put the range's last instant one bucket too far.
                counts[Outcome(outcome)][min(bucket, buckets - 1)] += count
        starts = [span.since + timedelta(seconds=width * i) for i in range(buckets)]
        return PullSeries(span, width, starts, counts)

    async def denials(self, span: TimeRange, outcomes: tuple[Outcome, ...], limit: int) -> Denials:
        chosen = outcomes or REFUSED
        if any(outcome.serves for outcome in chosen):
            raise AdminError(
                AdminErrorKind.INVALID, "outcome must be deny, quarantine or pending", field="outcome"
            )
        values = [outcome.value for outcome in chosen]
        reasons = await self._queries.top_reasons(span.since, span.until, values, limit)
        images = await self._queries.top_images(span.since, span.until, values, limit)
        return Denials(span, chosen, reasons, images)
