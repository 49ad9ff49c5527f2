"""Maven ordering against Maven's own vectors (maven-artifact ComparableVersionTest.java)."""

from __future__ import annotations

from itertools import combinations_with_replacement

import pytest

from proxy.scanning.versions import maven
from tests.unit.scanning.versions.vectorfiles import ascending_pairs, assert_compares, load_json

_VECTORS = load_json("maven_ComparableVersionTest.java.json")


@pytest.mark.parametrize(("lower", "higher"), ascending_pairs(_VECTORS["VERSIONS_QUALIFIER"]))
def test_versions_qualifier(lower: str, higher: str) -> None:
    assert_compares(maven.compare, lower, higher, -1)


@pytest.mark.parametrize(("lower", "higher"), ascending_pairs(_VECTORS["VERSIONS_NUMBER"]))
def test_versions_number(lower: str, higher: str) -> None:
    assert_compares(maven.compare, lower, higher, -1)


@pytest.mark.parametrize(("a", "b"), [tuple(p) for p in _VECTORS["equal"] + _VECTORS["same_order"]])
def test_versions_equal(a: str, b: str) -> None:
    assert_compares(maven.compare, a, b, 0)


@pytest.mark.parametrize(("lower", "higher"), [tuple(p) for p in _VECTORS["ordered_pairs"]])
def test_version_comparing(lower: str, higher: str) -> None:
    assert_compares(maven.compare, lower, higher, -1)


def _all_equal_pairs() -> list[tuple[str, str]]:
    return [pair for group in _VECTORS["all_equal"] for pair in combinations_with_replacement(group, 2)]


@pytest.mark.parametrize(("a", "b"), _all_equal_pairs())
def test_leading_zeroes(a: str, b: str) -> None:
    assert_compares(maven.compare, a, b, 0)


def _mng7644() -> list[tuple[str, str, int]]:
    """MNG-7644: 1.0.0.X1 < 1.0.0-X2, and 2-X == 2.0.X == 2.0.0.X, for each qualifier X."""
    rows = []
    for x in _VECTORS["mng7644_qualifiers"]:
        rows.append((f"1.0.0.{x}1", f"1.0.0-{x}2", -1))
        rows += [(f"2-{x}", f"2.0.{x}", 0), (f"2-{x}", f"2.0.0.{x}", 0), (f"2.0.{x}", f"2.0.0.{x}", 0)]
    return rows


@pytest.mark.parametrize(("a", "b", "expected"), _mng7644())
def test_mng7644(a: str, b: str, expected: int) -> None:
    assert_compares(maven.compare, a, b, expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # The qualifier ladder of the POM reference's version order specification.
        ("1-alpha", "1-beta", -1),
        ("1-beta", "1-milestone", -1),
        ("1-milestone", "1-rc", -1),
        ("1-rc", "1-cr", 0),
        ("1-rc", "1-snapshot", -1),
        ("1-snapshot", "1", -1),
        ("1", "1-ga", 0),
        ("1", "1-final", 0),
        ("1", "1-release", 0),
        ("1", "1-sp", -1),
        ("1-sp", "1-foo", -1),
        ("1-foo", "1-1", -1),
        ("1.0.RC1", "1.0-RC2", -1),
        ("1.0-RC2", "1.0.1", -1),
    ],
)
def test_specification_ladder(a: str, b: str, expected: int) -> None:
    assert_compares(maven.compare, a, b, expected)
