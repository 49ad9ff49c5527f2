"""How a rule or a signature requirement says which images it applies to."""

from __future__ import annotations

from pydantic import Field

from proxy.policy.model import Match
from proxy.policy.spec_base import StrictSpec

__all__ = ["MatchSpec"]


class MatchSpec(StrictSpec):
    registry: str | None = Field(default=None, max_length=255, description="glob over upstream names")
    repository: str = Field(default="**", max_length=255, description="glob: * within a component, ** across")
    tag: str | None = Field(default=None, max_length=255, description="glob over tags")
    tag_regex: str | None = Field(default=None, max_length=512, description="regular expression, full match")
    digest: str | None = Field(default=None, max_length=160, description="one manifest digest")

    def to_match(self) -> Match:
        return Match(self.repository, self.registry, self.tag, self.tag_regex, self.digest)

    @classmethod
    def from_match(cls, match: Match) -> MatchSpec:
        return cls(
            registry=match.registry,
            repository=match.repository,
            tag=match.tag,
            tag_regex=match.tag_regex,
            digest=match.digest,
        )
