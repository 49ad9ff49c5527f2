"""The indexed engine agrees with a naive linear reference on random policies and images.

The reference restates the engine's documented semantics as plainly as possible: globs via
`fnmatch` per path component (with a recursive `**`), every rule checked for every image,
the winner by `max` over (specificity, action, enforced, -position). Seeded `random` runs
a fixed set of policies; hypothesis then searches rule sets and images for a disagreement
(and shrinks any it finds to the smallest policy that shows it).
"""

import random
import re
from datetime import timedelta
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.policy.engine import PolicyEngine
from proxy.policy.model import Action, Match, Mode, Outcome, Rule, Subject
from proxy.policy.precedence import ACTION_RANK, specificity
from tests.support.properties import examples
from tests.unit.policy.builders import NOW

COMPONENTS = ["a", "b", "ab", "lib", "x1"]
GLOB_COMPONENTS = [*COMPONENTS, "*", "a*", "*b", "?", "[ab]*", "[!a]*", "**", "**"]
TAGS = ["latest", "v1", "v1.2", "v2", "rc1", "V1"]
TAG_GLOBS = [*TAGS, "v*", "*1", "v?", "[lv]*", "*.*"]
TAG_REGEXES = [r"v[0-9]+", r"v.*", r"latest|v1", r"[a-z]+[0-9]", r"(?i)v1"]
REGISTRIES = ["docker.io", "ghcr.io", "r.example.com", "127.0.0.1:5001"]
REGISTRY_GLOBS = [*REGISTRIES, "*.example.com", "*.io", "127.0.0.1:*", "GHCR.IO"]
DIGESTS = ["sha256:" + c * 64 for c in "abc"]
OUTCOME = {Action.ALLOW: Outcome.ALLOW, Action.DENY: Outcome.DENY, Action.QUARANTINE: Outcome.QUARANTINE}


def repository_matches(pattern: str, repository: str) -> bool:
    parts, names = pattern.split("/"), repository.split("/")

    def match(i: int, j: int) -> bool:
        if i == len(parts):
            return j == len(names)
        if parts[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(names) + 1))
        return j < len(names) and fnmatchcase(names[j], parts[i]) and match(i + 1, j + 1)

    return match(0, 0)


def rule_matches(m: Match, s: Subject) -> bool:
    tags_ok = True
    if m.tag is not None:
        tags_ok = any(fnmatchcase(t, m.tag) for t in s.tags)
    elif m.tag_regex is not None:
        tags_ok = any(re.fullmatch(m.tag_regex, t) for t in s.tags)
    return (
        (m.registry is None or fnmatchcase(s.registry.lower(), m.registry.lower()))
        and repository_matches(m.repository, s.repository)
        and (m.digest is None or m.digest == s.digest)
        and tags_ok
    )


def reference(rules: list[Rule], default: Action, s: Subject) -> tuple[Outcome, tuple[str, ...]]:
    keyed = [
        ((specificity(r.match), ACTION_RANK[r.action], int(r.mode is Mode.ENFORCE), -pos), r)
        for pos, r in enumerate(rules)
        if (r.expires_at is None or r.expires_at > NOW)
        and not (r.mode is Mode.WARN and r.action is Action.ALLOW)
        and rule_matches(r.match, s)
    ]
    if not keyed:
        return OUTCOME[default], ()
    best = max(keyed, key=lambda pair: pair[0])[1]
    if best.mode is Mode.ENFORCE:
        return OUTCOME[best.action], (best.id,)
    enforced = [pair for pair in keyed if pair[1].mode is Mode.ENFORCE]
    decider = max(enforced, key=lambda pair: pair[0])[1] if enforced else None
    action = decider.action if decider else default
    ids = (decider.id,) if decider else ()
    if action is Action.ALLOW:
        return Outcome.WARN, (best.id, *ids)
    return OUTCOME[action], (*ids, best.id)


def random_rule(rng: random.Random, n: int) -> Rule:
    depth = rng.randint(1, 3)
    fields: dict[str, str] = {"repository": "/".join(rng.choice(GLOB_COMPONENTS) for _ in range(depth))}
    if rng.random() < 0.4:
        fields["registry"] = rng.choice(REGISTRY_GLOBS)
    roll = rng.random()
    if roll < 0.3:
        fields["tag"] = rng.choice(TAG_GLOBS)
    elif roll < 0.45:
        fields["tag_regex"] = rng.choice(TAG_REGEXES)
    if rng.random() < 0.1:
        fields["digest"] = rng.choice(DIGESTS)
    expiry = rng.choice([None, None, None, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)])
    return Rule(
        id=f"r{n}",
        match=Match(**fields),
        action=rng.choice(list(Action)),
        mode=Mode.WARN if rng.random() < 0.25 else Mode.ENFORCE,
        expires_at=expiry,
    )


def random_subject(rng: random.Random) -> Subject:
    return Subject(
        registry=rng.choice([*REGISTRIES, "quay.io", "GHCR.io"]),
        repository="/".join(rng.choice(COMPONENTS) for _ in range(rng.randint(1, 4))),
        digest=rng.choice(DIGESTS),
        tags=frozenset(rng.sample(TAGS, rng.randint(0, 3))),
    )


@pytest.mark.parametrize("seed", range(60))
def test_engine_agrees_with_linear_reference(seed: int) -> None:
    rng = random.Random(seed)
    rules = [random_rule(rng, n) for n in range(rng.randint(0, 40))]
    default = rng.choice([Action.DENY, Action.DENY, Action.ALLOW, Action.QUARANTINE])
    engine = PolicyEngine(rules, default)
    for _ in range(150):
        subject = random_subject(rng)
        verdict = engine.evaluate(subject, NOW)
        assert (verdict.outcome, verdict.rule_ids) == reference(rules, default, subject), subject


_EXPIRIES = st.sampled_from([None, None, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)])


@st.composite
def rules(draw: st.DrawFn, n: int) -> Rule:
    fields: dict[str, str] = {
        "repository": "/".join(draw(st.lists(st.sampled_from(GLOB_COMPONENTS), min_size=1, max_size=3)))
    }
    if draw(st.booleans()):
        fields["registry"] = draw(st.sampled_from(REGISTRY_GLOBS))
    tag = draw(st.sampled_from(["none", "none", "glob", "regex"]))
    if tag == "glob":
        fields["tag"] = draw(st.sampled_from(TAG_GLOBS))
    elif tag == "regex":
        fields["tag_regex"] = draw(st.sampled_from(TAG_REGEXES))
    if draw(st.integers(0, 9)) == 0:
        fields["digest"] = draw(st.sampled_from(DIGESTS))
    return Rule(
        id=f"r{n}",
        match=Match(**fields),
        action=draw(st.sampled_from(list(Action))),
        mode=draw(st.sampled_from([Mode.ENFORCE, Mode.ENFORCE, Mode.ENFORCE, Mode.WARN])),
        expires_at=draw(_EXPIRIES),
    )


@st.composite
def policies(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(0, 25))
    return [draw(rules(n)) for n in range(count)]


_SUBJECTS = st.builds(
    Subject,
    registry=st.sampled_from([*REGISTRIES, "quay.io", "GHCR.io"]),
    repository=st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4).map("/".join),
    digest=st.sampled_from(DIGESTS),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=3),
)


@given(policies(), st.sampled_from(list(Action)), st.lists(_SUBJECTS, min_size=1, max_size=8))
@examples(150)
def test_engine_agrees_with_linear_reference_on_generated_policies(
    rules: list[Rule], default: Action, subjects: list[Subject]
) -> None:
    engine = PolicyEngine(rules, default)
    for subject in subjects:
        verdict = engine.evaluate(subject, NOW)
        assert (verdict.outcome, verdict.rule_ids) == reference(rules, default, subject), subject
        matching = [r.id for r in engine.matching(subject, NOW)]
        assert matching == [
            r.id
            for r in rules
            if (r.expires_at is None or r.expires_at > NOW)
            and not (r.mode is Mode.WARN and r.action is Action.ALLOW)
            and rule_matches(r.match, subject)
        ]
