"""Precedence as tables: the most specific rule wins; at equal specificity, the strictest."""

import pytest

from proxy.policy.model import Match, Outcome, Rule, Subject
from proxy.policy.precedence import specificity
from tests.unit.policy.builders import ALLOW, D1, DENY, QUAR, decide, image, rule

PRECEDENCE = [
    # (rules, subject, outcome, winning rule ids)
    pytest.param(
        [rule("glob", DENY, repository="library/*"), rule("exact", ALLOW, repository="library/alpine")],
        image("library/alpine"),
        Outcome.ALLOW,
        ("exact",),
        id="exact repository beats glob",
    ),
    pytest.param(
        [rule("star", ALLOW, repository="library/*"), rule("any", DENY, repository="**")],
        image("library/alpine"),
        Outcome.ALLOW,
        ("star",),
        id="more literal characters beat fewer",
    ),
    pytest.param(
        [rule("deep", DENY, repository="library/**"), rule("one", ALLOW, repository="library/*")],
        image("library/alpine"),
        Outcome.ALLOW,
        ("one",),
        id="single star beats double star at equal literals",
    ),
    pytest.param(
        [rule("a", ALLOW, repository="library/alp*"), rule("b", DENY, repository="library/*")],
        image("library/alpine"),
        Outcome.ALLOW,
        ("a",),
        id="longer literal prefix wins",
    ),
    pytest.param(
        [
            rule("exact", ALLOW, repository="library/alpine", tag="3.19", registry="docker.io"),
            rule("digest", DENY, digest=D1),
        ],
        image("library/alpine", "3.19"),
        Outcome.DENY,
        ("digest",),
        id="digest beats everything",
    ),
    pytest.param(
        [rule("glob", ALLOW, tag="v1.*"), rule("exact", QUAR, tag="v1.2")],
        image("app", "v1.2"),
        Outcome.QUARANTINE,
        ("exact",),
        id="exact tag beats tag glob",
    ),
    pytest.param(
        [rule("repo", ALLOW, repository="library/alpine"), rule("no-latest", DENY, tag="latest")],
        image("library/alpine", "latest"),
        Outcome.DENY,
        ("no-latest",),
        id="any tag condition beats a repository",
    ),
    pytest.param(
        [rule("no-latest", DENY, tag="latest"), rule("ok", ALLOW, repository="library/alpine", tag="latest")],
        image("library/alpine", "latest"),
        Outcome.ALLOW,
        ("ok",),
        id="repository and tag beat tag alone",
    ),
    pytest.param(
        [rule("allow", ALLOW, repository="library/*"), rule("deny", DENY, repository="library/*")],
        image("library/alpine"),
        Outcome.DENY,
        ("deny",),
        id="deny beats allow at equal specificity",
    ),
    pytest.param(
        [rule("q", QUAR, repository="library/*"), rule("a", ALLOW, repository="library/*")],
        image("library/alpine"),
        Outcome.QUARANTINE,
        ("q",),
        id="quarantine beats allow",
    ),
    pytest.param(
        [rule("q", QUAR, repository="library/*"), rule("d", DENY, repository="library/*")],
        image("library/alpine"),
        Outcome.DENY,
        ("d",),
        id="deny beats quarantine",
    ),
    pytest.param(
        [
            rule("any", DENY, repository="library/*"),
            rule("named", ALLOW, repository="library/*", registry="docker.io"),
        ],
        image("library/alpine"),
        Outcome.ALLOW,
        ("named",),
        id="registry name beats no registry",
    ),
    pytest.param(
        [rule("glob", DENY, registry="*.io"), rule("named", ALLOW, registry="docker.io")],
        image("library/alpine"),
        Outcome.ALLOW,
        ("named",),
        id="registry name beats registry glob",
    ),
    pytest.param(
        [rule("first", DENY, repository="a"), rule("second", DENY, repository="a")],
        image("a"),
        Outcome.DENY,
        ("first",),
        id="full tie: the rule declared first",
    ),
]


@pytest.mark.parametrize(("rules", "subject", "outcome", "winners"), PRECEDENCE)
def test_precedence(rules: list[Rule], subject: Subject, outcome: Outcome, winners: tuple[str, ...]) -> None:
    assert decide(rules, subject) == (outcome, winners)


@pytest.mark.parametrize(
    ("stronger", "weaker"),
    [
        (Match(digest=D1), Match(repository="a/b", tag="t", registry="r")),
        (Match(tag="latest"), Match(repository="a/b", registry="r")),
        (Match(tag="l*"), Match(repository="a/b", registry="r")),
        (Match(repository="a/b"), Match(repository="a/b*", registry="r")),
        (Match(repository="ab/*"), Match(repository="a/*")),
        (Match(repository="a/*"), Match(repository="a/**")),
        (Match(repository="a/*", registry="r"), Match(repository="a/*", registry="r*")),
        (Match(repository="a/*", registry="r*"), Match(repository="a/*")),
    ],
)
def test_specificity_order(stronger: Match, weaker: Match) -> None:
    assert specificity(stronger) > specificity(weaker)
