"""The policy engine: one immutable instance per policy version, pure and fast.

``PolicyEngine(rules, default_action).evaluate(subject, now)`` answers with a `Verdict`:

1. Rules whose ``expires_at`` is at or before ``now`` are ignored.
2. A rule matches when its registry and repository globs accept the image, when its tag
   condition (``tag`` or ``tag_regex``), if any, accepts *any* of the image's tags, and when
   its digest, if any, is the image's digest. An image known by no tag matches no tag rule.
3. The matching rule with the greatest `Precedence` wins (see `proxy.policy.precedence`:
   most specific first, then deny > quarantine > allow, then enforce > warn, then the rule
   declared first).
4. An enforced winner decides: allow -> ALLOW, deny -> DENY, quarantine -> QUARANTINE.
5. A warn-only winner (deny or quarantine) never blocks and never unblocks. The best
   *enforced* matching rule, or the default action when there is none, decides whether the
   image is served: if it allows, the outcome is WARN and the reasons are (the warn rule,
   the rule or default that allowed); if it denies or quarantines, that is the outcome and the
   reasons are (the blocking rule or default, the warn rule).
6. Warn-only allow rules cannot change any outcome and are dropped when the engine is built.
7. No matching rule: the default action (deny unless configured), with a "default" reason.

Fail closed: invalid rules fail the build with `PolicyError`; ``evaluate`` raises rather than
guess (a naive ``now``, a tag longer than 128 characters), and callers turn any exception
into a denial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from proxy.policy.compiled import CompiledRule, compile_rule
from proxy.policy.explain import default_reason, rule_reason
from proxy.policy.index import Candidate, RegistryIndex, RepositoryIndex
from proxy.policy.model import Action, Mode, Outcome, Reason, Rule, Subject, Verdict
from proxy.policy.patterns import MAX_TAG_LENGTH, PatternCache, PolicyError

__all__ = ["PolicyEngine"]

_OUTCOME = {Action.ALLOW: Outcome.ALLOW, Action.DENY: Outcome.DENY, Action.QUARANTINE: Outcome.QUARANTINE}
_REGISTRY_MEMO_LIMIT = 1024  # upstream names come from configuration, so few are ever seen


class PolicyEngine:
    """Rules compiled and indexed once; `evaluate` touches only the rules that could match."""

    __slots__ = ("_by_digest", "_by_registry", "_default", "_registry_memo", "_rule_count")

    def __init__(self, rules: Iterable[Rule], default_action: Action = Action.DENY) -> None:
        self._default = Action(default_action)
        self._by_digest: dict[str, list[CompiledRule]] = {}
        self._by_registry = RegistryIndex()
        self._registry_memo: dict[str, tuple[RepositoryIndex, ...]] = {}
        seen: set[str] = set()
        patterns = PatternCache()
        for position, rule in enumerate(rules):
            compiled = compile_rule(rule, position, patterns)
            if rule.id in seen:
                raise PolicyError(f"rule {rule.id!r}: id is used by more than one rule")
            seen.add(rule.id)
            if rule.mode is Mode.WARN and rule.action is Action.ALLOW:
                continue  # see rule 6 in the module docstring
            if compiled.digest is not None:
                self._by_digest.setdefault(compiled.digest, []).append(compiled)
            else:
                self._by_registry.add(compiled)
        self._rule_count = len(seen)

    @property
    def default_action(self) -> Action:
        return self._default

    @property
    def rule_count(self) -> int:
        return self._rule_count

    def evaluate(self, subject: Subject, now: datetime) -> Verdict:
        if now.utcoffset() is None:
            raise PolicyError("evaluate() needs a timezone-aware 'now'")
        tags = sorted(subject.tags)  # sorted: the tag named in a reason must not vary
        if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            raise PolicyError(f"subject has a tag longer than {MAX_TAG_LENGTH} characters")
        enforced: Candidate | None = None
        warned: Candidate | None = None
        for rule, tag in self._candidates(subject, tags):
            if not rule.live(now):
                continue
            if rule.rule.mode is Mode.ENFORCE:
                if enforced is None or rule.rank > enforced[0].rank:
                    enforced = (rule, tag)
            elif warned is None or rule.rank > warned[0].rank:
                warned = (rule, tag)
        return self._decide(subject, enforced, warned)

    def matching(self, subject: Subject, now: datetime) -> list[Rule]:
        """Every live rule that matches, in declaration order (not just the winner).

        Signature requirements combine with AND, so all of the matching ones are needed.
        """
        if now.utcoffset() is None:
            raise PolicyError("matching() needs a timezone-aware 'now'")
        tags = sorted(subject.tags)
        if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            raise PolicyError(f"subject has a tag longer than {MAX_TAG_LENGTH} characters")
        found: dict[str, CompiledRule] = {}
        for rule, _tag in self._candidates(subject, tags):
            if rule.live(now):
                found.setdefault(rule.rule.id, rule)
        return [c.rule for c in sorted(found.values(), key=lambda c: -c.rank.earlier)]

    def _candidates(self, subject: Subject, tags: Sequence[str]) -> Iterable[Candidate]:
        registry = subject.registry.lower()
        repository = subject.repository
        for rule in self._by_digest.get(subject.digest, ()):
            matched, tag = rule.matches(registry, repository, subject.digest, tags)
            if matched:
                yield rule, tag
        components = repository.split("/")
        for index in self._indexes_for(registry):
            yield from index.candidates(repository, components, tags)

    def _indexes_for(self, registry: str) -> tuple[RepositoryIndex, ...]:
        indexes = self._registry_memo.get(registry)
        if indexes is None:
            indexes = self._by_registry.for_registry(registry)
            if len(self._registry_memo) < _REGISTRY_MEMO_LIMIT:
                self._registry_memo[registry] = indexes
        return indexes

    def _decide(self, subject: Subject, enforced: Candidate | None, warned: Candidate | None) -> Verdict:
        if warned is None or (enforced is not None and enforced[0].rank > warned[0].rank):
            if enforced is None:
                return Verdict(_OUTCOME[self._default], (default_reason(subject, self._default),))
            return Verdict(_OUTCOME[enforced[0].rule.action], (rule_reason(*enforced),))
        warning = rule_reason(*warned)
        action, decider = self._decider(subject, enforced)
        if action is Action.ALLOW:
            return Verdict(Outcome.WARN, (warning, decider))
        return Verdict(_OUTCOME[action], (decider, warning))

    def _decider(self, subject: Subject, enforced: Candidate | None) -> tuple[Action, Reason]:
        if enforced is None:
            return self._default, default_reason(subject, self._default)
        return enforced[0].rule.action, rule_reason(*enforced)
