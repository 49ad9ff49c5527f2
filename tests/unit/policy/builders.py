"""Small builders shared by the policy tests."""

from datetime import UTC, datetime

from proxy.policy.engine import PolicyEngine
from proxy.policy.model import Action, Match, Mode, Outcome, Rule, Subject

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
ALLOW, DENY, QUAR = Action.ALLOW, Action.DENY, Action.QUARANTINE
WARN = Mode.WARN


def rule(
    rule_id: str,
    action: Action,
    mode: Mode = Mode.ENFORCE,
    expires_at: datetime | None = None,
    **match: str,
) -> Rule:
    return Rule(id=rule_id, match=Match(**match), action=action, mode=mode, expires_at=expires_at)


def image(repository: str, *tags: str, registry: str = "docker.io", digest: str = D1) -> Subject:
    return Subject(registry=registry, repository=repository, digest=digest, tags=frozenset(tags))


def decide(rules: list[Rule], subject: Subject, default: Action = DENY) -> tuple[Outcome, tuple[str, ...]]:
    verdict = PolicyEngine(rules, default).evaluate(subject, NOW)
    return verdict.outcome, verdict.rule_ids
