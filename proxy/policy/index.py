"""Rule indexes: an evaluation looks only at rules that could match the image.

Layout (built once per policy version):

* ``digests``: manifest digest -> the rules naming it (checked in full, they are few per digest)
* per registry: exact upstream names in a dict, registry globs in a short list of distinct
  patterns, rules without a registry on their own; each holds a `RepositoryIndex`
* `RepositoryIndex`: wildcard-free repositories in a dict; every other repository glob in a
  trie over its leading literal components (``team/*/app`` lives under ``team``, ``**/x`` and
  ``*/x`` at the root). An image ``a/b/c`` visits the root, ``a``, ``a/b`` and ``a/b/c``: only
  globs that share its literal prefix are ever tried.
* `Bucket`: the rules of one dict entry or trie node, split by their tag condition: none,
  an exact tag (a dict keyed by tag), or a tag glob/regex.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from proxy.policy.compiled import CompiledRule
from proxy.policy.patterns import Glob

__all__ = ["Bucket", "Candidate", "RegistryIndex", "RepositoryIndex"]

Candidate = tuple[CompiledRule, str | None]  # a rule and the subject tag it matched, if any


class Bucket:
    __slots__ = ("by_tag", "tag_patterns", "untagged")

    def __init__(self) -> None:
        self.untagged: list[CompiledRule] = []
        self.by_tag: dict[str, list[CompiledRule]] = {}
        self.tag_patterns: list[CompiledRule] = []

    def add(self, rule: CompiledRule) -> None:
        if rule.tag is not None and rule.tag.literal:
            self.by_tag.setdefault(rule.tag.pattern, []).append(rule)
        elif rule.has_tag_condition:
            self.tag_patterns.append(rule)
        else:
            self.untagged.append(rule)

    def candidates(self, tags: Sequence[str]) -> Iterator[Candidate]:
        """Rules whose tag condition (if any) accepts one of ``tags``; repository unchecked."""
        for rule in self.untagged:
            yield rule, None
        if self.by_tag:
            for tag in tags:
                for rule in self.by_tag.get(tag, ()):
                    yield rule, tag
        for rule in self.tag_patterns:
            matched = rule.matching_tag(tags)
            if matched is not None:
                yield rule, matched


class _Node:
    __slots__ = ("bucket", "children")

    def __init__(self) -> None:
        self.bucket: Bucket | None = None
        self.children: dict[str, _Node] = {}


class RepositoryIndex:
    __slots__ = ("exact", "root")

    def __init__(self) -> None:
        self.exact: dict[str, Bucket] = {}
        self.root = _Node()

    def add(self, rule: CompiledRule) -> None:
        glob = rule.repository
        if glob.literal:
            self.exact.setdefault(glob.pattern, Bucket()).add(rule)
            return
        node = self.root
        for component in glob.prefix:
            node = node.children.setdefault(component, _Node())
        if node.bucket is None:
            node.bucket = Bucket()
        node.bucket.add(rule)

    def candidates(
        self, repository: str, components: Sequence[str], tags: Sequence[str]
    ) -> Iterator[Candidate]:
        exact = self.exact.get(repository)
        if exact is not None:
            yield from exact.candidates(tags)
        node: _Node | None = self.root
        depth = 0
        while node is not None:
            if node.bucket is not None:
                for rule, tag in node.bucket.candidates(tags):
                    if rule.repository.matches(repository):
                        yield rule, tag
            if depth == len(components):
                break
            node = node.children.get(components[depth])
            depth += 1


class RegistryIndex:
    """Rules without a digest, partitioned by their registry condition."""

    __slots__ = ("any_registry", "by_name", "by_pattern")

    def __init__(self) -> None:
        self.any_registry = RepositoryIndex()
        self.by_name: dict[str, RepositoryIndex] = {}
        self.by_pattern: dict[str, tuple[Glob, RepositoryIndex]] = {}

    def add(self, rule: CompiledRule) -> None:
        glob = rule.registry
        if glob is None:
            index = self.any_registry
        elif glob.literal:
            index = self.by_name.setdefault(glob.pattern, RepositoryIndex())
        else:
            index = self.by_pattern.setdefault(glob.pattern, (glob, RepositoryIndex()))[1]
        index.add(rule)

    def for_registry(self, registry: str) -> tuple[RepositoryIndex, ...]:
        """The indexes whose registry condition accepts ``registry`` (lowercase)."""
        found = [self.any_registry]
        named = self.by_name.get(registry)
        if named is not None:
            found.append(named)
        found.extend(index for glob, index in self.by_pattern.values() if glob.matches(registry))
        return tuple(found)
