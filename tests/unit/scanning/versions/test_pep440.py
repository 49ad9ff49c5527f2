"""PEP 440 against pypa/packaging's own vectors (tests/test_version.py)."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import InvalidVersion, pep440
from tests.unit.scanning.versions.vectorfiles import ascending_pairs, assert_compares, load_json

_VECTORS = load_json("pep440_test_version.py.json")
_ORDERED: list[str] = _VECTORS["ordered"]


@pytest.mark.parametrize(("lower", "higher"), ascending_pairs(_ORDERED))
def test_ordered_versions(lower: str, higher: str) -> None:
    assert_compares(pep440.compare, lower, higher, -1)


@pytest.mark.parametrize("version", _ORDERED)
def test_each_equals_itself(version: str) -> None:
    assert pep440.compare(version, version) == 0


@pytest.mark.parametrize(("version", "normalized"), [tuple(p) for p in _VECTORS["normalized"]])
def test_normalization(version: str, normalized: str) -> None:
    assert pep440.normalize(version) == normalized
    assert pep440.compare(version, normalized) == 0


@pytest.mark.parametrize(("a", "b"), [tuple(p) for p in _VECTORS["equal"]])
def test_equal_spellings(a: str, b: str) -> None:
    assert_compares(pep440.compare, a, b, 0)


@pytest.mark.parametrize("version", _VECTORS["invalid"])
def test_invalid(version: str) -> None:
    with pytest.raises(InvalidVersion):
        pep440.parse(version)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Release segments are padded with zeros for comparison.
        ("1.0", "1.0.0", 0),
        ("1", "1.0.0.0", 0),
        ("1.0.0.1", "1.0", 1),
        # From the PEP's ordering summary: dev < pre < final < post, each with its own devs.
        ("1.0.dev1", "1.0a1.dev1", -1),
        ("1.0a1.dev1", "1.0a1", -1),
        ("1.0a1.post1.dev1", "1.0a1.post1", -1),
        ("1.0", "1.0.post1.dev1", -1),
        ("1!0.1", "2.0", 1),
        # Local labels: absent first, numbers above words, longer wins on an equal prefix.
        ("1.0", "1.0+a", -1),
        ("1.0+abc", "1.0+1", -1),
        ("1.0+1", "1.0+1.0", -1),
        ("1.0+ubuntu.1", "1.0+UBUNTU-1", 0),
    ],
)
def test_pep_rules(a: str, b: str, expected: int) -> None:
    assert_compares(pep440.compare, a, b, expected)


def test_parse_fields() -> None:
    v = pep440.parse("2!1.02.3rc4.post5.dev6+Local.7")
    assert v == pep440.PythonVersion(2, (1, 2, 3), ("rc", 4), 5, 6, ("local", 7))
