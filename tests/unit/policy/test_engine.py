"""PolicyEngine semantics as tables: matching, expiry, warn mode, defaults, reasons, errors."""

from datetime import datetime, timedelta

import pytest

from proxy.policy.engine import PolicyEngine
from proxy.policy.model import Action, Match, Outcome, Rule, Subject
from proxy.policy.patterns import PolicyError
from tests.unit.policy.builders import ALLOW, D1, D2, DENY, NOW, QUAR, WARN, decide, image, rule


@pytest.mark.parametrize(
    ("rules", "subject", "outcome", "winners"),
    [
        ([rule("g", DENY, repository="team/*/app")], image("team/web/app"), Outcome.DENY, ("g",)),
        ([rule("g", DENY, repository="team/*/app")], image("team/web/x/app"), Outcome.ALLOW, ()),
        ([rule("g", DENY, repository="team/**")], image("team"), Outcome.DENY, ("g",)),
        ([rule("g", DENY, repository="team/**")], image("team/a/b/c"), Outcome.DENY, ("g",)),
        ([rule("g", DENY, repository="**/debug")], image("a/b/debug"), Outcome.DENY, ("g",)),
        ([rule("g", DENY, repository="*/debug")], image("a/b/debug"), Outcome.ALLOW, ()),
        ([rule("g", DENY, repository="lib?ary/[a-c]*")], image("library/busybox"), Outcome.DENY, ("g",)),
        (
            [rule("g", DENY, registry="*.example.com")],
            image("x", registry="r.example.com"),
            Outcome.DENY,
            ("g",),
        ),
        ([rule("g", DENY, registry="*.example.com")], image("x", registry="example.com"), Outcome.ALLOW, ()),
        (
            [rule("g", DENY, registry="127.0.0.1:5001")],
            image("x", registry="127.0.0.1:5001"),
            Outcome.DENY,
            ("g",),
        ),
        ([rule("g", DENY, registry="ghcr.io")], image("x", registry="GHCR.io"), Outcome.DENY, ("g",)),
        ([rule("r", DENY, tag_regex=r"v[0-9]+")], image("x", "v12"), Outcome.DENY, ("r",)),
        ([rule("r", DENY, tag_regex=r"v[0-9]+")], image("x", "v12-rc"), Outcome.ALLOW, ()),
        ([rule("r", DENY, tag_regex=r"v[0-9]+")], image("x"), Outcome.ALLOW, ()),  # no tag: no tag rule
        ([rule("d", DENY, digest=D2)], image("x"), Outcome.ALLOW, ()),
        ([rule("d", DENY, digest=D1, repository="y")], image("x"), Outcome.ALLOW, ()),
        ([rule("t", DENY, tag="latest")], image("x", "3.19", "latest"), Outcome.DENY, ("t",)),
        ([rule("t", DENY, tag="v*")], image("x", "3.19", "latest", "v3"), Outcome.DENY, ("t",)),
        ([rule("t", DENY, tag="v*")], image("x", "3.19", "latest"), Outcome.ALLOW, ()),
    ],
)
def test_matching(rules: list[Rule], subject: Subject, outcome: Outcome, winners: tuple[str, ...]) -> None:
    assert decide(rules, subject, default=ALLOW) == (outcome, winners)


@pytest.mark.parametrize(
    ("expires_at", "outcome", "winners"),
    [
        (NOW - timedelta(days=1), Outcome.DENY, ("base",)),
        (NOW, Outcome.DENY, ("base",)),  # expiry is exclusive: at expires_at the rule is gone
        (NOW + timedelta(seconds=1), Outcome.ALLOW, ("exception",)),
        (None, Outcome.ALLOW, ("exception",)),
    ],
)
def test_expiry(expires_at: datetime | None, outcome: Outcome, winners: tuple[str, ...]) -> None:
    rules = [
        rule("base", DENY, repository="library/*"),
        rule("exception", ALLOW, repository="library/alpine", expires_at=expires_at),
    ]
    assert decide(rules, image("library/alpine")) == (outcome, winners)


@pytest.mark.parametrize(
    ("rules", "default", "outcome", "reason_ids"),
    [
        pytest.param(
            [rule("w", DENY, WARN, repository="library/*"), rule("ok", ALLOW, repository="library/*")],
            DENY,
            Outcome.WARN,
            ("w", "ok"),
            id="warn deny over allow -> WARN",
        ),
        pytest.param(
            [rule("w", DENY, WARN, repository="library/alpine"), rule("no", DENY, repository="library/*")],
            ALLOW,
            Outcome.DENY,
            ("no", "w"),
            id="warn deny with an enforced deny behind -> DENY",
        ),
        pytest.param(
            [rule("w", QUAR, WARN, repository="library/alpine"), rule("q", QUAR, repository="library/*")],
            ALLOW,
            Outcome.QUARANTINE,
            ("q", "w"),
            id="warn quarantine with an enforced quarantine behind",
        ),
        pytest.param(
            [rule("w", DENY, WARN, repository="library/*")],
            DENY,
            Outcome.DENY,
            ("w",),
            id="warn over default deny",
        ),
        pytest.param(
            [rule("w", DENY, WARN, repository="library/*")],
            ALLOW,
            Outcome.WARN,
            ("w",),
            id="warn over default allow",
        ),
        pytest.param(
            [rule("w", DENY, WARN, repository="library/*"), rule("ok", ALLOW, repository="library/alpine")],
            DENY,
            Outcome.ALLOW,
            ("ok",),
            id="a more specific enforced allow silences the warning",
        ),
        pytest.param(
            [rule("w", DENY, WARN, repository="library/*"), rule("d", DENY, repository="library/*")],
            ALLOW,
            Outcome.DENY,
            ("d",),
            id="enforced beats warn at equal rank",
        ),
        pytest.param(
            [rule("wa", ALLOW, WARN, repository="library/alpine"), rule("d", DENY, repository="library/*")],
            ALLOW,
            Outcome.DENY,
            ("d",),
            id="warn allow is ignored",
        ),
        pytest.param(
            [rule("wa", ALLOW, WARN, repository="library/alpine")],
            DENY,
            Outcome.DENY,
            (),
            id="warn allow never serves",
        ),
    ],
)
def test_warn_mode(rules: list[Rule], default: Action, outcome: Outcome, reason_ids: tuple[str, ...]) -> None:
    assert decide(rules, image("library/alpine"), default) == (outcome, reason_ids)


@pytest.mark.parametrize(
    ("default", "outcome"), [(DENY, Outcome.DENY), (ALLOW, Outcome.ALLOW), (QUAR, Outcome.QUARANTINE)]
)
def test_default_action(default: Action, outcome: Outcome) -> None:
    verdict = PolicyEngine([rule("other", ALLOW, repository="other/*")], default).evaluate(
        image("library/alpine"), NOW
    )
    assert verdict.outcome is outcome
    assert [r.check for r in verdict.reasons] == ["default"]
    assert f"the default action is {default}" in verdict.reasons[0].message
    assert "docker.io/library/alpine@" + D1 in verdict.reasons[0].message


def test_default_is_deny() -> None:
    assert PolicyEngine([]).evaluate(image("x"), NOW).outcome is Outcome.DENY


@pytest.mark.parametrize(
    ("match", "tags", "message"),
    [
        (
            Match(repository="library/*", tag="latest"),
            ("latest",),
            "rule r (deny): repository library/* tag latest",
        ),
        (Match(tag="v1.*"), ("v0", "v1.2"), "rule r (deny): tag v1.2 (matches v1.*)"),
        (Match(tag_regex="v[0-9]+"), ("v7",), "rule r (deny): tag v7 (matches /v[0-9]+/)"),
        (Match(registry="docker.io"), (), "rule r (deny): registry docker.io"),
        (Match(digest=D1), (), f"rule r (deny): digest {D1}"),
        (Match(), (), "rule r (deny): any repository"),
    ],
)
def test_reason_messages(match: Match, tags: tuple[str, ...], message: str) -> None:
    engine = PolicyEngine([Rule(id="r", match=match, action=DENY, owner="sec")], ALLOW)
    (reason,) = engine.evaluate(image("library/alpine", *tags), NOW).reasons
    assert (reason.check, reason.rule_id, reason.message) == ("rule", "r", message)
    assert reason.detail["action"] == "deny"
    assert reason.detail["owner"] == "sec"


def test_reason_detail_and_description() -> None:
    expires = NOW + timedelta(days=3)
    r = Rule(
        "no-latest",
        Match(repository="library/*", tag="latest"),
        DENY,
        WARN,
        "pin a version",
        expires_at=expires,
    )
    verdict = PolicyEngine([r], ALLOW).evaluate(image("library/alpine", "latest"), NOW)
    assert verdict.outcome is Outcome.WARN
    reason, served_by = verdict.reasons
    assert served_by.check == "default"
    assert (
        reason.message == "rule no-latest (warn, would deny): repository library/* tag latest — pin a version"
    )
    assert reason.detail == {
        "action": "deny",
        "mode": "warn",
        "match": {"repository": "library/*", "tag": "latest"},
        "tag": "latest",
        "expires_at": expires.isoformat(),
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([rule("", DENY)], "id must be"),
        ([rule("a", DENY), rule("a", ALLOW)], "rule 'a': id is used by more than one rule"),
        ([rule("a", DENY, repository="a//b")], "rule 'a': match.repository pattern 'a//b'"),
        ([rule("a", DENY, registry="x/y")], "rule 'a': match.registry pattern"),
        ([rule("a", DENY, tag="a/b")], "rule 'a': match.tag pattern"),
        ([rule("a", DENY, tag_regex="(a+)+")], "rule 'a': match.tag_regex"),
        ([rule("a", DENY, tag="x", tag_regex="x")], "rule 'a': match.tag and match.tag_regex are exclusive"),
        ([rule("a", DENY, digest="sha256:abc")], "rule 'a': match.digest"),
        ([rule("a", DENY, digest="md5:" + "a" * 32)], "rule 'a': match.digest"),
        ([rule("a", DENY, expires_at=datetime(2030, 1, 1))], "rule 'a': expires_at must carry a time zone"),
    ],
)
def test_invalid_rules(rules: list[Rule], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyEngine(rules)
    assert message in str(caught.value)


def test_evaluate_refuses_rather_than_guesses() -> None:
    engine = PolicyEngine([rule("a", ALLOW)], ALLOW)
    with pytest.raises(PolicyError, match="timezone-aware"):
        engine.evaluate(image("x"), datetime(2025, 1, 1))
    with pytest.raises(PolicyError, match="longer than 128"):
        engine.evaluate(image("x", "t" * 129), NOW)


def test_several_registries_and_memo_are_independent() -> None:
    engine = PolicyEngine([rule("gh", DENY, registry="ghcr.io"), rule("io", QUAR, registry="*.io")], ALLOW)
    outcomes = [
        engine.evaluate(image("x", registry=r), NOW).outcome
        for r in ("ghcr.io", "quay.io", "x.com", "ghcr.io")
    ]
    assert outcomes == [Outcome.DENY, Outcome.QUARANTINE, Outcome.ALLOW, Outcome.DENY]
