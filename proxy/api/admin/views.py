"""What the admin API answers: response models, built from the admin service's results.

Every response body is one of these models, serialised by pydantic, and the OpenAPI
document is generated from the same models, so the two cannot drift apart (a test
validates real responses against the document as well). Fields are all present in every
response (nullable rather than omitted), which is what `serialization_defaults_required`
tells the schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from proxy.gate.admin import QuarantineStatus, TokenRole
from proxy.policy.document import PolicyDocument, RuleSpec
from proxy.policy.model import Outcome

__all__ = [
    "CacheView",
    "CircuitView",
    "DecisionView",
    "DeletedRuleView",
    "DryRunView",
    "ErrorView",
    "ImageDetailView",
    "ImageView",
    "LatestDecisionView",
    "ObjectTotalsView",
    "PageView",
    "PolicyChangeView",
    "PolicyView",
    "PullerView",
    "PurgeView",
    "QuarantineStateView",
    "QuarantineView",
    "ReasonView",
    "ReviewView",
    "RevokedView",
    "RuleResource",
    "StoredView",
    "TokenCreatedView",
    "TokenView",
    "UpstreamView",
    "View",
]

T = TypeVar("T")


class View(BaseModel):
    model_config = ConfigDict(
        extra="forbid", from_attributes=True, json_schema_serialization_defaults_required=True
    )


class PageView(View, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null after the last")


class RuleResource(RuleSpec):
    """A rule as stored: the fields a client writes, plus read-only bookkeeping.

    The same model is the request body of POST and PUT, so a client can GET a rule, edit it
    and PUT it back; the read-only fields are then ignored (If-Match says which revision).
    """

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    revision: int | None = Field(
        default=None, json_schema_extra={"readOnly": True}, description="also the ETag"
    )
    created_at: AwareDatetime | None = Field(default=None, json_schema_extra={"readOnly": True})
    updated_at: AwareDatetime | None = Field(default=None, json_schema_extra={"readOnly": True})


class DeletedRuleView(View):
    id: str
    policy_version: int


class PolicyView(View):
    version: int
    document: PolicyDocument


class PolicyChangeView(View):
    version: int = Field(description="the policy version in force after the call")
    changed: bool = Field(description="false: the request matched the policy in force; nothing was written")


class ReasonView(View):
    check: str = Field(description="rule, default, exception, review, gate, artifact, ...")
    message: str
    rule_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class DecisionView(View):
    id: str
    upstream: str
    repository: str
    digest: str
    reference: str | None
    outcome: Outcome
    reasons: list[ReasonView]
    rule_ids: list[str]
    policy_version: int
    created_at: datetime


class DryRunView(View):
    upstream: str
    repository: str
    tag: str | None
    digest: str
    image: str
    outcome: Outcome
    serves: bool = Field(description="whether a pull would get the manifest (allow or warn)")
    reasons: list[ReasonView]
    rule_ids: list[str]
    policy_version: int


class LatestDecisionView(View):
    id: str
    outcome: Outcome
    policy_version: int
    decided_at: datetime


class QuarantineStateView(View):
    id: int
    status: QuarantineStatus


class ImageView(View):
    upstream: str
    repository: str
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    fetched_at: datetime
    tags: list[str]
    decision: LatestDecisionView | None = Field(description="the newest decision, under any policy version")
    quarantine: QuarantineStateView | None


class QuarantineView(View):
    id: int
    upstream: str
    repository: str
    digest: str
    reference: str | None
    decision_id: str
    rule_ids: list[str]
    status: QuarantineStatus
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    expires_at: datetime | None


class ReviewView(QuarantineView):
    policy_version: int = Field(description="every replica re-decides under this version")


class PullerView(View):
    client_address: str | None
    identity: str | None
    first_at: datetime
    last_at: datetime
    pulls: int = Field(description="every attempt, whatever the outcome")
    served: int = Field(description="attempts that got the manifest")


class StoredView(View):
    digest: str
    size: int
    kind: str
    created_at: datetime
    last_access: datetime


class ImageDetailView(View):
    digest: str
    stored: StoredView | None = Field(description="null: not in the content store")
    repositories: list[ImageView]
    decisions: list[DecisionView] = Field(description="the newest 50, every repository")
    quarantine: list[QuarantineView]
    pulled_by: PageView[PullerView] = Field(description="first page; GET /audit/pulls for more")


class AuditEventView(View):
    id: int
    created_at: datetime
    kind: str
    client_address: str | None
    user_agent: str | None
    identity: str | None
    upstream: str | None
    repository: str | None
    reference: str | None
    digest: str | None
    decision_id: str | None
    outcome: str | None
    reasons: list[dict[str, Any]]
    rule_ids: list[str]
    policy_version: int | None
    detail: dict[str, Any]


class CircuitView(View):
    """The upstream's circuit breaker on the replica that answered (see docs/failures.md)."""

    state: Literal["closed", "open", "half_open", "disabled"]
    consecutive_failures: int
    retry_in_seconds: float | None = Field(
        description="until an open circuit lets a trial through, or a Retry-After hold ends"
    )
    held_for_seconds: float | None = Field(description="left of a 429/503 Retry-After pause, if any")
    opened: int = Field(description="times the circuit opened since this replica started")
    rejected: int = Field(description="requests answered without asking the upstream, since start")
    last_error: str | None


class UpstreamView(View):
    name: str
    url: str
    default: bool
    aliases: list[str]
    healthy: bool
    error: str | None
    latency_ms: float
    circuit: CircuitView


class ObjectTotalsView(View):
    objects: int
    bytes: int


class CacheView(View):
    stored_bytes: int
    max_bytes: int | None = Field(description="null: unbounded")
    objects: dict[str, ObjectTotalsView] = Field(description="by kind: blob, manifest")
    hits: dict[str, float] = Field(description="by kind, since this replica started")
    misses: dict[str, float]
    hit_ratio: dict[str, float | None] = Field(
        description="hits / (hits + misses) by kind, since this replica started; null before any request"
    )
    evicted_bytes: float


class PurgeView(View):
    freed_bytes: int
    stored_bytes: int


class TokenView(View):
    id: str
    name: str
    role: TokenRole
    created_at: datetime
    expires_at: datetime | None = Field(description="null: never expires")
    last_used_at: datetime | None
    revoked_at: datetime | None
    legacy: bool = Field(description="made before pullgate hashed tokens with scrypt: rotate it")


class TokenCreatedView(View):
    id: str
    name: str
    role: TokenRole
    expires_at: datetime | None
    token: str = Field(description="the secret; shown only in this response")


class RevokedView(View):
    id: str
    revoked: bool


class FieldProblem(View):
    field: str | None
    message: str


class ErrorBody(View):
    code: str
    message: str
    field: str | None = Field(description="the offending field, dotted (match.tag_regex), if one")
    details: list[FieldProblem]
    request_id: str | None


class ErrorView(View):
    error: ErrorBody
