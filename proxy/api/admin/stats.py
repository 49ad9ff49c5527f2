"""Dashboard figures: pulls per outcome over time, and what is refused most (reasons, images).

    GET /api/v1/stats/pulls?since=2026-12-01T00:00:00Z&until=...&buckets=48
    GET /api/v1/stats/denials?since=...&limit=10

Both count in the database over a bounded range (at most 90 days; the last 24 hours when
no range is given), so a dashboard polling them costs the same whatever the log's size.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from proxy.api.admin.http import admin, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import View
from proxy.gate.admin import MAX_BUCKETS, TimeRange
from proxy.policy.model import Outcome

__all__ = ["OPERATIONS"]


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown parameter is an error, as everywhere

    since: AwareDatetime | None = Field(default=None, description="inclusive; default: 24 hours before until")
    until: AwareDatetime | None = Field(default=None, description="exclusive; default: now")


class PullStatsQuery(_Range):
    buckets: int = Field(default=48, ge=1, le=MAX_BUCKETS, description="equal slices of the range")


class DenialStatsQuery(_Range):
    limit: int = Field(default=10, ge=1, le=100, description="entries per list")
    outcome: Annotated[str, Field(pattern="^(deny|quarantine|pending)$")] | None = Field(
        default=None, description="only this refusal; default: deny, quarantine and pending"
    )


class BucketView(View):
    start: AwareDatetime
    counts: dict[str, int] = Field(description="pulls by outcome: allow, warn, deny, quarantine, pending")


class PullStatsView(View):
    since: AwareDatetime
    until: AwareDatetime
    bucket_seconds: float
    totals: dict[str, int] = Field(description="pulls by outcome over the whole range")
    buckets: list[BucketView]


class ReasonCountView(View):
    check: str = Field(description="the deciding check: rule, default, signature, vulnerability, review, ...")
    source: str | None = Field(description="the rule, signature requirement or vulnerability policy id")
    count: int
    example: str = Field(description="one message of this kind")
    last_at: AwareDatetime


class ImageCountView(View):
    upstream: str
    repository: str
    digest: str
    count: int
    last_at: AwareDatetime


class DenialStatsView(View):
    since: AwareDatetime
    until: AwareDatetime
    outcomes: list[Outcome]
    reasons: list[ReasonCountView] = Field(description="by the first (deciding) reason, most frequent first")
    images: list[ImageCountView] = Field(description="most often refused first")


async def pull_stats(request: web.Request) -> web.Response:
    wanted = query(request, PullStatsQuery)
    series = await admin(request).stats.pulls(TimeRange.of(wanted.since, wanted.until), wanted.buckets)
    buckets = [
        BucketView(start=start, counts={str(o): series.counts[o][i] for o in Outcome})
        for i, start in enumerate(series.starts)
    ]
    return reply(
        PullStatsView(
            since=series.range.since,
            until=series.range.until,
            bucket_seconds=series.bucket_seconds,
            totals={str(o): n for o, n in series.totals().items()},
            buckets=buckets,
        )
    )


async def denial_stats(request: web.Request) -> web.Response:
    wanted = query(request, DenialStatsQuery)
    outcomes = (Outcome(wanted.outcome),) if wanted.outcome else ()
    found = await admin(request).stats.denials(
        TimeRange.of(wanted.since, wanted.until), outcomes, wanted.limit
    )
    return reply(
        DenialStatsView(
            since=found.range.since,
            until=found.range.until,
            outcomes=list(found.outcomes),
            reasons=[ReasonCountView.model_validate(r, from_attributes=True) for r in found.reasons],
            images=[ImageCountView.model_validate(i, from_attributes=True) for i in found.images],
        )
    )


OPERATIONS = (
    Operation(
        "GET",
        "/stats/pulls",
        pull_stats,
        "Pulls per outcome over time (at most 90 days, in equal buckets)",
        "stats",
        {200: Reply("counts per bucket and in total", PullStatsView)},
        query=PullStatsQuery,
    ),
    Operation(
        "GET",
        "/stats/denials",
        denial_stats,
        "The reasons and images refused most often in a time range",
        "stats",
        {200: Reply("top reasons and top images", DenialStatsView)},
        query=DenialStatsQuery,
    ),
)
