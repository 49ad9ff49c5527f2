"""Where rules are filed, and which ones an image visits."""

import pytest

from proxy.policy.compiled import compile_rule
from proxy.policy.index import RegistryIndex, RepositoryIndex
from proxy.policy.model import Action, Match, Rule


def filed(*repositories: str) -> RepositoryIndex:
    index = RepositoryIndex()
    for n, repository in enumerate(repositories):
        index.add(compile_rule(Rule(repository, Match(repository=repository), Action.DENY), n))
    return index


def test_globs_are_filed_under_their_literal_prefix() -> None:
    index = filed("team/app", "team/*/app", "team/web/**", "**/debug", "*/x")
    assert set(index.exact) == {"team/app"}
    assert index.root.bucket is not None
    assert [r.rule.id for r in index.root.bucket.untagged] == ["**/debug", "*/x"]
    team = index.root.children["team"]
    assert team.bucket is not None
    assert [r.rule.id for r in team.bucket.untagged] == ["team/*/app"]
    web = team.children["web"].bucket
    assert web is not None
    assert [r.rule.id for r in web.untagged] == ["team/web/**"]


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("team/app", {"team/app"}),
        ("team/web/app", {"team/*/app", "team/web/**"}),
        ("team/web", {"team/web/**"}),
        ("other/debug", {"**/debug"}),
        ("other/x", {"*/x"}),
        ("nothing", set()),
    ],
)
def test_an_image_visits_its_trie_path(repository: str, expected: set[str]) -> None:
    index = filed("team/app", "team/*/app", "team/web/**", "**/debug", "*/x", "other2/**")
    found = {rule.rule.id for rule, _ in index.candidates(repository, repository.split("/"), [])}
    assert found == expected


def test_registries_are_partitioned() -> None:
    index = RegistryIndex()
    for n, registry in enumerate([None, "docker.io", "*.io", "*.example.com"]):
        index.add(compile_rule(Rule(f"r{n}", Match(registry=registry), Action.DENY), n))
    assert len(index.for_registry("docker.io")) == 3  # any, the name, *.io
    assert len(index.for_registry("r.example.com")) == 2
    assert len(index.for_registry("localhost:5000")) == 1
