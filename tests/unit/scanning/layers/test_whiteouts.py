"""Whiteout entries: what they delete, recorded in the analysis."""

from __future__ import annotations

import pytest

from proxy.scanning.layers.paths import UnsafeName, Whiteout, parse_whiteout
from tests.support.layers import Layer


@pytest.mark.parametrize(
    ("path", "whiteout"),
    [
        (
            "usr/lib/python3/dist-packages/.wh.requests",
            Whiteout("usr/lib/python3/dist-packages/requests", opaque=False),
        ),
        (".wh.opt", Whiteout("opt", opaque=False)),
        ("app/node_modules/.wh..wh..opq", Whiteout("app/node_modules", opaque=True)),
        (".wh..wh..opq", Whiteout("", opaque=True)),
        ("usr/bin/.wh..wh.plnk", None),  # AUFS bookkeeping, not a deletion
        ("usr/bin/python.wh.x", None),
        ("usr/bin/python", None),
    ],
)
def test_whiteout_names(path: str, whiteout: Whiteout | None) -> None:
    assert parse_whiteout(path) == whiteout


@pytest.mark.parametrize("path", ["usr/.wh.", "usr/.wh..", "usr/.wh..."])
def test_whiteouts_of_nothing_or_a_parent_are_refused(path: str) -> None:
    with pytest.raises(UnsafeName):
        parse_whiteout(path)


def test_recorded_in_the_analysis_in_order_once() -> None:
    analysis = (
        Layer()
        .whiteout("usr/lib/python3/dist-packages/requests-2.28.1.dist-info")
        .opaque("app/node_modules")
        .whiteout("etc/os-release")
        .whiteout("etc/os-release")
        .file("usr/.wh..", "")
        .analyse()
    )
    assert analysis.whiteouts == ("usr/lib/python3/dist-packages/requests-2.28.1.dist-info", "etc/os-release")
    assert analysis.opaque_dirs == ("app/node_modules",)
    assert analysis.files == {}
    assert analysis.problems == ("refused entry 'usr/.wh..': whiteout of no name, '.' or '..'",)
