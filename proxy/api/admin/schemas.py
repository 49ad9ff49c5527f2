"""What admin clients send: request bodies and query strings, as strict pydantic models.

Unknown fields (and unknown query parameters) are errors, never ignored: a misspelt
`expires_at` silently dropped would turn a temporary exception into a permanent one. Rules
and the policy document reuse `proxy.policy.document`, so the API accepts exactly what the
engine can enforce. The same models produce the OpenAPI schemas (`openapi.py`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from proxy.gate.admin import QuarantineStatus, TokenRole
from proxy.oci.digest import Digest
from proxy.policy.model import Action, Outcome

__all__ = [
    "AuditQuery",
    "DefaultActionBody",
    "DigestText",
    "DryRunBody",
    "ImagesQuery",
    "Paging",
    "PullsQuery",
    "PurgeBody",
    "QuarantineQuery",
    "RejectBody",
    "ReleaseBody",
    "TokenBody",
]

MAX_PAGE = 1000


def _digest(text: str) -> str:
    return str(Digest.parse(text))  # ValueError (InvalidDigestError) names what is wrong


DigestText = Annotated[
    str,
    Field(max_length=160, pattern=r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", examples=["sha256:…"]),
    AfterValidator(_digest),
]
Name = Annotated[str, Field(min_length=1, max_length=255)]
# Query filters name what pullgate stores, so they take only the characters it stores: a
# request line stays within the HTTP server's limit (8190 bytes) however long each one is.
UpstreamName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-z0-9.-]+(?::[0-9]{1,5})?$")]
RepositoryText = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-z0-9._/-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=2000, description="why, for the audit log")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- query strings ---------------------------------------------------------------------------
class Paging(_Strict):
    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="items per page")
    cursor: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="next_cursor of the previous page",
    )


class ImagesQuery(Paging):
    upstream: UpstreamName | None = None
    repository: RepositoryText | None = Field(default=None, description="exact repository name")
    outcome: Outcome | None = Field(default=None, description="outcome of the newest decision")


class QuarantineQuery(Paging):
    status: QuarantineStatus | None = None


class AuditQuery(Paging):
    since: AwareDatetime | None = Field(default=None, description="inclusive, RFC 3339 with offset")
    until: AwareDatetime | None = Field(default=None, description="exclusive, RFC 3339 with offset")
    upstream: UpstreamName | None = None
    repository: RepositoryText | None = None
    digest: DigestText | None = None
    outcome: Outcome | None = None
    client: Name | None = Field(default=None, description="client address or identity")
    kind: Annotated[str, Field(pattern="^(pull|admin|rescan)$")] | None = None


class PullsQuery(Paging):
    digest: DigestText


# -- bodies ----------------------------------------------------------------------------------
class DefaultActionBody(_Strict):
    default_action: Action


class DryRunBody(_Strict):
    """Either `image` (as a runtime names it) or `repository` with `tag` or `digest`."""

    image: str | None = Field(
        default=None, max_length=512, examples=["docker.io/library/alpine:3.19", "alpine@sha256:…"]
    )
    registry: Name | None = Field(default=None, description="a configured upstream; default: the default one")
    repository: Name | None = None
    tag: str | None = Field(default=None, max_length=128)
    digest: DigestText | None = None

    @model_validator(mode="after")
    def _one_form(self) -> DryRunBody:
        parts = (self.registry, self.repository, self.tag, self.digest)
        if self.image is not None and any(part is not None for part in parts):
            raise ValueError("give either image, or registry/repository/tag|digest, not both")
        if self.image is None and self.repository is None:
            raise ValueError("image or repository is required")
        if self.tag is not None and self.digest is not None:
            raise ValueError("give tag or digest, not both")
        return self


class ReleaseBody(_Strict):
    reason: Reason
    expires_at: AwareDatetime | None = Field(default=None, description="the exception ends here; null: never")


class RejectBody(_Strict):
    reason: Reason


class PurgeBody(_Strict):
    """Either shrink the cache to `target_bytes` (LRU first), or remove one `digest`."""

    target_bytes: int | None = Field(default=None, ge=0)
    digest: DigestText | None = None

    @model_validator(mode="after")
    def _one_target(self) -> PurgeBody:
        if (self.target_bytes is None) == (self.digest is None):
            raise ValueError("give exactly one of target_bytes and digest")
        return self


class TokenBody(_Strict):
    name: Name
    role: TokenRole
    expires_at: AwareDatetime | None = Field(
        default=None, description="the token stops working here; null: never"
    )
