"""apk ordering and validity against apk-tools' own vectors (test/version.data and the newer
test/unit/version.data rows; see vectors/README.md)."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import InvalidVersion, apk
from tests.unit.scanning.versions.vectorfiles import assert_compares, lines

_RESULTS = {"<": -1, "=": 0, ">": 1}

# Operands in version.data that apk's own validator rejects ("1.0bc" is even commented
# "invalid" there; "!0.1bc" in the newer validity rows is the same case). apk still orders
# them, but here an invalid version is refused rather than placed.
_INVALID_OPERANDS = {"23_foo", "1.0bc"}


def _comparisons(name: str) -> list[tuple[str, str, int]]:
    rows = []
    for line in lines(name):
        fields = line.split("#", 1)[0].split()
        if len(fields) == 3 and fields[1] in _RESULTS:
            rows.append((fields[0], fields[2], _RESULTS[fields[1]]))
    return rows


def _validity(name: str) -> list[tuple[str, bool]]:
    """Rows of a single version: valid as written, invalid when prefixed with "!"."""
    rows = []
    for line in lines(name):
        if len(line.split()) == 1:
            rows.append((line[1:], False) if line.startswith("!") else (line, True))
    return rows


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    _comparisons("apk_version.data") + _comparisons("apk_unit_version_tail.data"),
)
def test_version_data(a: str, b: str, expected: int) -> None:
    if {a, b} & _INVALID_OPERANDS:
        with pytest.raises(InvalidVersion):
            apk.compare(a, b)
        return
    assert_compares(apk.compare, a, b, expected)


def test_vector_files_were_read_whole() -> None:
    # Every row of test/version.data is a comparison. The newer file's other rows are
    # validity checks (tested below) and fuzzy "~" matches, which are apk's dependency
    # matching, not ordering, and are not transcribed into tests.
    assert len(_comparisons("apk_version.data")) == 733
    assert len(_comparisons("apk_unit_version_tail.data")) == 5


@pytest.mark.parametrize(("version", "valid"), _validity("apk_unit_version_tail.data"))
def test_validity(version: str, valid: bool) -> None:
    if valid:
        assert apk.compare(version, version) == 0
    else:
        with pytest.raises(InvalidVersion):
            apk.parse(version)


@pytest.mark.parametrize("version", sorted(_INVALID_OPERANDS))
def test_invalid_operands_of_version_data(version: str) -> None:
    with pytest.raises(InvalidVersion):
        apk.parse(version)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # The suffix order, pre-releases below the bare version, post-release markers above.
        ("1.0_alpha1", "1.0_beta1", -1),
        ("1.0_beta1", "1.0_pre1", -1),
        ("1.0_pre1", "1.0_rc1", -1),
        ("1.0_rc1", "1.0", -1),
        ("1.0", "1.0_cvs1", -1),
        ("1.0_cvs1", "1.0_svn1", -1),
        ("1.0_svn1", "1.0_git1", -1),
        ("1.0_git1", "1.0_hg1", -1),
        ("1.0_hg1", "1.0_p1", -1),
        ("1.0-r0", "1.0-r1", -1),
        ("1.0", "1.0-r0", -1),
        ("1.0~abc-r1", "1.0~abd-r0", -1),
    ],
)
def test_suffix_order(a: str, b: str, expected: int) -> None:
    assert_compares(apk.compare, a, b, expected)
