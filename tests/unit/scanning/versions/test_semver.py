"""SemVer 2.0.0 against the specification's own examples (semver.md) and node-semver's
fixtures (test/fixtures/*.js)."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import InvalidVersion, semver
from tests.unit.scanning.versions.vectorfiles import ascending_pairs, assert_compares, load_json

_SPEC = load_json("semver_semver.md.json")
_NODE = load_json("semver_node-semver.json")


def _chain_pairs() -> list[tuple[str, str]]:
    return [pair for chain in _SPEC["ordered_chains"] for pair in ascending_pairs(chain)]


@pytest.mark.parametrize(("lower", "higher"), _chain_pairs())
def test_spec_precedence_examples(lower: str, higher: str) -> None:
    assert_compares(semver.compare, lower, higher, -1)


@pytest.mark.parametrize("version", _SPEC["valid_build_examples"])
def test_spec_build_examples_parse(version: str) -> None:
    assert semver.compare(version, version) == 0


@pytest.mark.parametrize(
    ("greater", "lesser", "loose"), [tuple(r) for r in _NODE["comparisons_greater_first"]]
)
def test_node_semver_comparisons(greater: str, lesser: str, loose: bool) -> None:
    assert_compares(semver.compare_npm, greater, lesser, 1)


@pytest.mark.parametrize(("a", "b", "loose"), [tuple(r) for r in _NODE["equality"]])
def test_node_semver_equality(a: str, b: str, loose: bool) -> None:
    if not loose:
        assert_compares(semver.compare_npm, a, b, 0)
        return
    # node-semver's loose mode also takes "=" and spaces after "v"; npm registry versions are
    # strict, so those spellings are refused here, but never ordered wrongly.
    try:
        result = semver.compare_npm(a, b)
    except InvalidVersion:
        return
    assert result == 0


@pytest.mark.parametrize("version", _NODE["valid"])
def test_node_semver_valid(version: str) -> None:
    assert semver.compare_npm(version, version) == 0


def _invalid() -> list[str]:
    too_long = _NODE["invalid_too_long"]
    return [*_NODE["invalid"], too_long["repeat"] * too_long["count"] + too_long["suffix"]]


@pytest.mark.parametrize("version", _invalid())
def test_node_semver_invalid(version: str) -> None:
    with pytest.raises(InvalidVersion):
        semver.parse(version, prefixed=True)


@pytest.mark.parametrize(
    "version",
    ["1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b", "1.2.3-ä"],
)
def test_strict_syntax(version: str) -> None:
    with pytest.raises(InvalidVersion):
        semver.parse(version)


def test_v_prefix_only_where_asked() -> None:
    assert semver.compare_npm("v1.2.3", "1.2.3") == 0
    with pytest.raises(InvalidVersion):
        semver.compare("v1.2.3", "1.2.3")


def test_build_metadata_leading_zeros_are_allowed_and_ignored() -> None:
    assert semver.parse("1.0.0+001").build == ("001",)
    assert semver.compare("1.0.0+001", "1.0.0+1") == 0
