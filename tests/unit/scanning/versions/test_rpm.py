"""rpm ordering against rpm's own vectors (tests/rpmvercmp.at) plus EVR handling."""

from __future__ import annotations

import re

import pytest

from proxy.scanning.versions import InvalidVersion, rpm
from tests.unit.scanning.versions.vectorfiles import assert_compares, lines

_ROW = re.compile(r"RPMVERCMP\((?P<a>[^,]*), (?P<b>[^,]*), (?P<result>-?[01])\)")


def _rows() -> list[tuple[str, str, int]]:
    # "dnl" lines are commented out upstream: rpm documents them as oddities, not behaviour.
    return [
        (m["a"], m["b"], int(m["result"]))
        for line in lines("rpm_rpmvercmp.at.data")
        if not line.startswith("dnl") and (m := _ROW.fullmatch(line))
    ]


def test_every_row_was_read() -> None:
    assert len(_rows()) == 91


@pytest.mark.parametrize(("a", "b", "expected"), _rows())
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert_compares(rpm.vercmp, a, b, expected)


@pytest.mark.parametrize(("a", "b", "expected"), _rows())
def test_rpmvercmp_rows_as_evr(a: str, b: str, expected: int) -> None:
    # rpm.vercmp in rpm >= 4.16 parses its arguments as EVRs; none of these has ":" or "-".
    assert_compares(rpm.compare, a, b, expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0-1", "1.0-2", -1),
        ("0:1.0-1", "1.0-1", 0),  # a missing epoch is 0
        ("1:1.0-1", "2.0-1", 1),  # the epoch decides first
        ("2.0-1.el9", "10.0-1.el9", -1),
        ("1.0", "1.0-1", -1),  # a missing release sorts before any release
        ("1.0-1.el9_2", "1.0-1.el9_10", -1),
        (":1.0", "0:1.0", 0),  # rpm reads a bare colon as epoch 0
        ("1.0-1-2", "1.0-1-10", -1),  # the release starts after the last "-"
        ("1.0~rc1-1", "1.0-1", -1),
        ("1.0^git1-1", "1.0-1", 1),
    ],
)
def test_evr(a: str, b: str, expected: int) -> None:
    assert_compares(rpm.compare, a, b, expected)


def test_parse_splits_epoch_version_release() -> None:
    assert rpm.parse("3:1.2.3-4.el9") == rpm.RpmVersion("3", "1.2.3", "4.el9")
    assert rpm.parse("1.2.3") == rpm.RpmVersion(None, "1.2.3", None)
    # Only leading digits make an epoch; otherwise the colon belongs to the version.
    assert rpm.parse("a:1-2") == rpm.RpmVersion(None, "a:1", "2")


@pytest.mark.parametrize("text", ["", "-1", "1.0-", "1:", "1.0 -1", "1.\u03b1", "1.0\n"])
def test_refused(text: str) -> None:
    with pytest.raises(InvalidVersion):
        rpm.parse(text)
