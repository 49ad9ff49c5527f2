"""The policy vocabulary: rules, what they match, and the verdicts they produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Action", "Match", "Mode", "Outcome", "Reason", "Rule", "Subject", "Verdict", "worst"]


class Action(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    QUARANTINE = "quarantine"


class Mode(StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"  # report what the rule would do, serve anyway


class Outcome(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # served, with a Warning header naming what would have blocked it
    DENY = "deny"
    QUARANTINE = "quarantine"
    PENDING = "pending"  # a check has not finished; not served yet

    @property
    def serves(self) -> bool:
        return self in (Outcome.ALLOW, Outcome.WARN)

    @property
    def restriction(self) -> int:
        """How restrictive: combining checks keeps the most restrictive outcome."""
        return _RESTRICTION[self]


_RESTRICTION = {Outcome.ALLOW: 0, Outcome.WARN: 1, Outcome.PENDING: 2, Outcome.QUARANTINE: 3, Outcome.DENY: 4}


def worst(*outcomes: Outcome) -> Outcome:
    return max(outcomes, key=lambda o: o.restriction)


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule applies to. Unset fields match anything.

    registry   glob over upstream names (``docker.io``, ``*.example.com``)
    repository glob over the repository path: ``*`` stays within one component, ``**`` spans
               components (``library/*``, ``team/**``, ``**``)
    tag        glob over tags (``v1.*``), or `tag_regex` (full match) — not both
    digest     one exact manifest digest
    """

    repository: str = "**"
    registry: str | None = None
    tag: str | None = None
    tag_regex: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    match: Match
    action: Action
    mode: Mode = Mode.ENFORCE
    description: str = ""
    owner: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """The image being decided: a manifest of a repository, with every tag known to name it."""

    registry: str
    repository: str
    digest: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Reason:
    check: str  # "rule", "default", "exception", "review", later "signature", "vulnerability"
    message: str
    rule_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"check": self.check, "message": self.message}
        if self.rule_id is not None:
            entry["rule_id"] = self.rule_id
        if self.detail:
            entry["detail"] = self.detail
        return entry


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reasons: tuple[Reason, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons if r.rule_id is not None)
