"""A rule validated and compiled once, when a policy version is loaded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.policy.model import Rule
from proxy.policy.patterns import (
    MAX_PATTERN_LENGTH,
    Glob,
    PatternCache,
    PolicyError,
)
from proxy.policy.precedence import Precedence, Specificity, precedence, specificity_of

__all__ = ["CompiledRule", "compile_rule"]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    rule: Rule
    registry: Glob | None
    repository: Glob
    tag: Glob | None
    tag_regex: re.Pattern[str] | None
    digest: str | None
    specificity: Specificity
    rank: Precedence

    @property
    def has_tag_condition(self) -> bool:
        return self.tag is not None or self.tag_regex is not None

    def live(self, now: datetime) -> bool:
        expires_at = self.rule.expires_at
        return expires_at is None or expires_at > now

    def matching_tag(self, tags: Sequence[str]) -> str | None:
        """The first of ``tags`` (sorted by the caller) that the tag condition accepts."""
        for tag in tags:
            if self.tag is not None and self.tag.matches(tag):
                return tag
            if self.tag_regex is not None and self.tag_regex.fullmatch(tag):
                return tag
        return None

    def matches(
        self, registry: str, repository: str, digest: str, tags: Sequence[str]
    ) -> tuple[bool, str | None]:
        """Check every condition (the linear path); returns (matched, the tag that matched)."""
        if self.digest is not None and digest != self.digest:
            return False, None
        if self.registry is not None and not self.registry.matches(registry):
            return False, None
        if not self.repository.matches(repository):
            return False, None
        if not self.has_tag_condition:
            return True, None
        tag = self.matching_tag(tags)
        return tag is not None, tag


def compile_rule(rule: Rule, position: int, patterns: PatternCache | None = None) -> CompiledRule:
    """Validate and compile ``rule``; errors name the rule and the field."""
    try:
        return _compile(rule, position, patterns or PatternCache())
    except PolicyError as exc:
        raise PolicyError(f"rule {rule.id!r}: {exc}") from None


def _compile(rule: Rule, position: int, patterns: PatternCache) -> CompiledRule:
    if not rule.id or len(rule.id) > MAX_PATTERN_LENGTH or not rule.id.isprintable():
        raise PolicyError(f"id must be 1 to {MAX_PATTERN_LENGTH} printable characters")
    match = rule.match
    if match.tag is not None and match.tag_regex is not None:
        raise PolicyError("match.tag and match.tag_regex are exclusive; use one")
    if rule.expires_at is not None and rule.expires_at.utcoffset() is None:
        raise PolicyError("expires_at must carry a time zone")
    repository = patterns.glob("match.repository", match.repository)
    registry = None if match.registry is None else patterns.glob("match.registry", match.registry)
    tag = None if match.tag is None else patterns.glob("match.tag", match.tag)
    tag_regex = None if match.tag_regex is None else patterns.tag_regex("match.tag_regex", match.tag_regex)
    digest = None if match.digest is None else _digest(match.digest)
    spec = specificity_of(
        repository=repository,
        registry=registry,
        tag=tag,
        has_tag_regex=tag_regex is not None,
        has_digest=digest is not None,
    )
    return CompiledRule(
        rule=rule,
        registry=registry,
        repository=repository,
        tag=tag,
        tag_regex=tag_regex,
        digest=digest,
        specificity=spec,
        rank=precedence(spec, rule.action, rule.mode, position),
    )


def _digest(text: str) -> str:
    try:
        return str(Digest.parse(text))
    except InvalidDigestError as exc:
        raise PolicyError(f"match.digest: {exc}") from None
