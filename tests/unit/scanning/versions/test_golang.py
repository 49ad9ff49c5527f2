"""Go module versions against Go's own vectors: golang.org/x/mod semver/semver_test.go and
cmd/go's modfetch/pseudo_test.go."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import InvalidVersion, golang
from tests.unit.scanning.versions.vectorfiles import assert_compares, load_json

_SEMVER_TEST = load_json("golang_semver_test.go.json")
_PSEUDO_TEST = load_json("golang_pseudo_test.go.json")
_VALID = [(i, v, canonical) for i, (v, canonical) in enumerate(_SEMVER_TEST["tests"]) if canonical]

# The stored copy of semver_test.go also asserts Compare("v1.19", "v1.2") == -1, alongside a
# compareInt that compares digit strings as text. That contradicts SemVer §11 ("compared
# numerically") and Go's own use (go1.19 is newer than go1.2), so that row is checked the
# right way round; see vectors/README.md.
_CONTRADICTS_SPEC = ("v1.19", "v1.2")


def _ordered_pairs() -> list[tuple[str, str, int]]:
    """TestCompare: entries are listed in ascending order; equal canonical forms compare 0."""
    return [(v, w, 0 if cv == cw else -1) for i, v, cv in _VALID for j, w, cw in _VALID if i < j]


@pytest.mark.parametrize(("a", "b", "expected"), _ordered_pairs())
def test_semver_test_ordering(a: str, b: str, expected: int) -> None:
    assert_compares(golang.compare, a, b, expected)


@pytest.mark.parametrize("version", [v for v, canonical in _SEMVER_TEST["tests"] if not canonical])
def test_semver_test_invalid(version: str) -> None:
    with pytest.raises(InvalidVersion):
        golang.parse(version)


@pytest.mark.parametrize(("a", "b", "expected"), [tuple(r) for r in _SEMVER_TEST["compare"]])
def test_semver_test_explicit_compares(a: str, b: str, expected: int) -> None:
    if (a, b) == _CONTRADICTS_SPEC:
        expected = 1
    assert_compares(golang.compare, a, b, expected)


@pytest.mark.parametrize(("older", "pseudo"), [(r[1], r[2]) for r in _PSEUDO_TEST["pseudoTests"] if r[1]])
def test_pseudo_version_sorts_after_its_base(older: str, pseudo: str) -> None:
    assert_compares(golang.compare, older, pseudo, -1)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.2.3", "v1.2.3", 0),  # OSV writes Go versions without the "v"
        ("v2.0.0+incompatible", "v2.0.0", 0),  # build metadata is ignored
        ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4", -1),
        ("v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", -1),
        ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa", -1),
    ],
)
def test_module_versions(a: str, b: str, expected: int) -> None:
    assert_compares(golang.compare, a, b, expected)


@pytest.mark.parametrize("version", ["", "v", "v1.", "v01.2.3", "v1.2.3-01", "1.2.3.4", " v1.2.3"])
def test_invalid(version: str) -> None:
    with pytest.raises(InvalidVersion):
        golang.parse(version)
