"""Repository scopes (policy globs on the routed repository) and the token protocol's scopes."""

from __future__ import annotations

import pytest

from proxy.cache.keys import RepoKey
from proxy.gate.auth.scopes import (
    RepositoryScope,
    ScopeSet,
    TokenGrants,
    TokenScopeError,
    parse_scope_argument,
    parse_token_scope,
)
from proxy.oci.reference import RepositoryName
from proxy.policy.errors import PolicyError


def key(upstream: str, name: str) -> RepoKey:
    return RepoKey(upstream, RepositoryName.parse(name))


def test_scopes_match_registry_and_repository_globs() -> None:
    scopes = ScopeSet.parse(
        [{"registry": "*.example.com", "repository": "team/**"}, {"repository": "library/*"}]
    )
    assert scopes.allows(key("ghcr.example.com", "team/a/b"))
    assert not scopes.allows(key("example.com", "team/a"))
    assert scopes.allows(key("127.0.0.1:5001", "library/alpine"))
    assert not scopes.allows(key("docker.io", "library/x/y"))
    assert TokenGrants(frozenset({"docker.io/library/alpine"})).allows(key("docker.io", "library/alpine"))
    assert not TokenGrants(frozenset({"docker.io/library/alpine"})).allows(key("ghcr.io", "library/alpine"))


def test_cli_scopes_split_at_the_last_colon() -> None:
    assert str(parse_scope_argument("127.0.0.1:5001:team/**")) == "127.0.0.1:5001:team/**"
    assert str(parse_scope_argument("Docker.IO:library/*")) == "docker.io:library/*"
    assert str(parse_scope_argument("team/*")) == "*:team/*"
    with pytest.raises(PolicyError, match="empty path component"):
        parse_scope_argument("docker.io:team//x")
    with pytest.raises(PolicyError, match="whole path component"):
        RepositoryScope.of("*", "team/**x")


def test_token_scopes() -> None:
    scope = parse_token_scope("repository:127.0.0.1:5001/team/app:pull,push")
    assert (scope.kind, scope.name, scope.actions, scope.wants_pull) == (
        "repository",
        "127.0.0.1:5001/team/app",
        frozenset({"pull", "push"}),
        True,
    )
    assert parse_token_scope("repository:team/app:*").wants_pull
    assert not parse_token_scope("repository:team/app:push").wants_pull
    assert not parse_token_scope("registry:catalog:*").wants_pull
    for bad in (
        "repository",
        "repository:team",
        ":team:pull",
        "repository:team/app:",
        "re po:x:pull",
        "x" * 600,
    ):
        with pytest.raises(TokenScopeError):
            parse_token_scope(bad)
