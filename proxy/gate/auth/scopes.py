"""What a robot (or anyone, anonymously) may pull: repository scopes, and the scopes of
the registry token protocol.

A `RepositoryScope` is a registry glob and a repository glob with the grammar of policy
rules (`proxy.policy.patterns`), matched against the *routed* repository — the upstream's
name and the repository as that upstream names it — never against the raw request path,
so ``?ns=``, path prefixes and Docker Hub's ``library/`` all meet the same scope.

Token scopes (``repository:<name>:<actions>``, distribution's token specification) name a
repository as the client spelled it; the HTTP layer routes each name before it asks for a
grant. Granted names are canonical: ``<upstream>/<repository>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from proxy.cache.keys import RepoKey
from proxy.policy.patterns import Glob, compile_registry_glob, compile_repository_glob

__all__ = [
    "MAX_SCOPES",
    "Grants",
    "RepositoryScope",
    "ScopeSet",
    "TokenGrants",
    "TokenScope",
    "TokenScopeError",
    "canonical_name",
    "parse_scope_argument",
    "parse_token_scope",
]

MAX_SCOPES = 100  # per robot
_MAX_TOKEN_SCOPE = 512


def canonical_name(key: RepoKey) -> str:
    return f"{key.upstream}/{key.name}"


@dataclass(frozen=True, slots=True)
class RepositoryScope:
    registry: str
    repository: str
    _registry: Glob
    _repository: Glob

    @classmethod
    def of(cls, registry: str, repository: str) -> RepositoryScope:
        """Compiled; raises PolicyError (a ValueError) naming the bad glob."""
        registry_glob = compile_registry_glob(registry, "scope.registry")
        return cls(
            registry_glob.pattern,
            repository,
            registry_glob,
            compile_repository_glob(repository, "scope.repository"),
        )

    @classmethod
    def parse(cls, spec: Mapping[str, str]) -> RepositoryScope:
        return cls.of(spec.get("registry", "*"), spec["repository"])

    def covers(self, key: RepoKey) -> bool:
        return self._registry.matches(key.upstream.lower()) and self._repository.matches(key.name.value)

    def as_dict(self) -> dict[str, str]:
        return {"registry": self.registry, "repository": self.repository}

    def __str__(self) -> str:
        return f"{self.registry}:{self.repository}"


class Grants(Protocol):
    """What an authenticated caller may pull."""

    def allows(self, key: RepoKey) -> bool: ...


@dataclass(frozen=True, slots=True)
class ScopeSet:
    scopes: tuple[RepositoryScope, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[Mapping[str, str]]) -> ScopeSet:
        return cls(tuple(RepositoryScope.parse(spec) for spec in specs))

    def allows(self, key: RepoKey) -> bool:
        return any(scope.covers(key) for scope in self.scopes)


@dataclass(frozen=True, slots=True)
class TokenGrants:
    """The canonical names a pull token grants ``pull`` on."""

    names: frozenset[str] = frozenset()

    def allows(self, key: RepoKey) -> bool:
        return canonical_name(key) in self.names


def parse_scope_argument(text: str) -> RepositoryScope:
    """``REGISTRY:REPOSITORY`` (or ``REPOSITORY`` for any registry), as the CLI takes it.

    Split at the last colon: registry names may carry a port, repository globs never hold one.
    """
    registry, sep, repository = text.rpartition(":")
    return RepositoryScope.of(registry if sep else "*", repository)


class TokenScopeError(ValueError):
    """A scope parameter that is not ``type:name:actions``."""


@dataclass(frozen=True, slots=True)
class TokenScope:
    kind: str  # "repository" is the only kind pullgate grants anything on
    name: str
    actions: frozenset[str]

    @property
    def wants_pull(self) -> bool:
        return self.kind == "repository" and bool({"pull", "*"} & self.actions)


def parse_token_scope(text: str) -> TokenScope:
    """``repository:library/alpine:pull,push`` -> TokenScope. The name may hold a
    ``host:port/`` prefix, so type is before the first colon and actions after the last."""
    if len(text) > _MAX_TOKEN_SCOPE:
        raise TokenScopeError(f"scope is longer than {_MAX_TOKEN_SCOPE} characters")
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        raise TokenScopeError(f"scope {text[:80]!r} is not type:name:actions")
    if not kind.isascii() or not kind.replace("_", "").isalnum():
        raise TokenScopeError(f"scope type {kind[:40]!r} is not a word")
    wanted = frozenset(action for action in actions.split(",") if action)
    if not wanted:
        raise TokenScopeError(f"scope {text[:80]!r} names no action")
    return TokenScope(kind, name, wanted)
