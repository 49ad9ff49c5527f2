"""dpkg ordering against dpkg's own vectors: scripts/t/Dpkg_Version.t and lib/dpkg/t/t-version.c."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import InvalidVersion, dpkg
from tests.unit.scanning.versions.vectorfiles import assert_compares, lines, load_json

_T_VERSION = load_json("dpkg_t-version.json")

# Dpkg_Version.t rows whose operand today's dpkg refuses with an error, not a warning:
# t-version.c asserts that "1.0-" (empty revision) and "-0" (empty upstream) fail to parse, and
# `dpkg --compare-versions` stops on such errors. The Perl module they came from never checked.
_REFUSED_BY_DPKG = {"0foo-", "-0.6.5"}


def _rows() -> list[tuple[str, str, int]]:
    rows = []
    for line in lines("dpkg_Dpkg_Version.t.data"):
        a, b, result = line.split()
        rows.append((a, b, int(result)))
    return rows


@pytest.mark.parametrize(("a", "b", "expected"), _rows())
def test_dpkg_version_t(a: str, b: str, expected: int) -> None:
    if {a, b} & _REFUSED_BY_DPKG:
        with pytest.raises(InvalidVersion):
            dpkg.compare(a, b)
        return
    assert_compares(dpkg.compare, a, b, expected)


@pytest.mark.parametrize(("a", "b", "expected"), [tuple(row) for row in _T_VERSION["compare"]])
def test_t_version_compare(a: str, b: str, expected: int) -> None:
    assert_compares(dpkg.compare, a, b, expected)


@pytest.mark.parametrize(("a", "b"), [tuple(row) for row in _T_VERSION["not_equal"]])
def test_t_version_not_equal(a: str, b: str) -> None:
    assert dpkg.compare(a, b) != 0


@pytest.mark.parametrize(("text", "epoch", "upstream", "revision"), [tuple(r) for r in _T_VERSION["parse"]])
def test_t_version_parse(text: str, epoch: int, upstream: str, revision: str) -> None:
    assert dpkg.parse(text) == dpkg.DebianVersion(epoch, upstream, revision)


@pytest.mark.parametrize("text", _T_VERSION["error"])
def test_t_version_errors_are_refused(text: str) -> None:
    with pytest.raises(InvalidVersion):
        dpkg.parse(text)


def _warnings() -> list[str]:
    upstream = [
        _T_VERSION["warn_upstream_template"].replace("?", c) for c in _T_VERSION["warn_upstream_chars"]
    ]
    revision = [
        _T_VERSION["warn_revision_template"].replace("?", c) for c in _T_VERSION["warn_revision_chars"]
    ]
    return [*_T_VERSION["warn"], *upstream, *revision]


@pytest.mark.parametrize("text", _warnings())
def test_t_version_warnings_still_compare(text: str) -> None:
    # dpkg --compare-versions only warns about these, then compares them.
    assert dpkg.compare(text, text) == 0
    assert dpkg.compare(text, "1:0") == -1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Debian Policy §5.6.12's own illustration of "~": ~~ < ~~a < ~ < (empty) < a.
        ("1~~", "1~~a", -1),
        ("1~~a", "1~", -1),
        ("1~", "1", -1),
        ("1", "1a", -1),
        # Letters sort before non-letters.
        ("1a", "1+", -1),
        ("1.0", "1.0.0", -1),
        ("1:1.0", "2.0", 1),
    ],
)
def test_policy_rules(a: str, b: str, expected: int) -> None:
    assert_compares(dpkg.compare, a, b, expected)


@pytest.mark.parametrize("text", ["1.0\x00", "1.0é", "1 .0", "1.0-\t1", "2147483648:1"])
def test_refuses_what_cannot_be_ordered_reliably(text: str) -> None:
    with pytest.raises(InvalidVersion):
        dpkg.parse(text)


def test_largest_epoch_is_accepted() -> None:
    assert dpkg.parse("2147483647:1").epoch == 2**31 - 1


def test_epoch_sign_as_dpkg_reads_it() -> None:
    # dpkg parses the epoch with strtol: a "+" sign is accepted, a bare sign is an empty epoch.
    assert dpkg.compare("+1:1.0", "1:1.0") == 0
    with pytest.raises(InvalidVersion, match="epoch in version is empty"):
        dpkg.parse("+:1.0")
