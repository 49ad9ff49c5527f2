"""Hostile entries: names that escape the root, links, special files, and the count limits."""

from __future__ import annotations

import pytest

from tests.support.layers import Layer
from tests.unit.scanning.inventory.samples import DEBIAN_OS_RELEASE, DPKG_STATUS

STATUS = "var/lib/dpkg/status"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../etc/passwd", "'..' component"),
        ("../../../../../../etc/shadow", "'..' component"),
        ("/etc/os-release", "absolute path"),
        ("//var/lib/dpkg/status", "absolute path"),
        ("usr/../var/lib/dpkg/status", "'..' component"),  # depends on whether usr is a link
        ("./var/lib/dpkg/../dpkg/status", "'..' component"),
        ("var/lib/dpkg/status\x00.txt", "name contains NUL"),
        ("a/" * 2100 + "status", "name longer than 4096 characters"),
    ],
)
def test_unsafe_names_are_refused_and_not_read(name: str, reason: str) -> None:
    analysis = Layer().file(name, DPKG_STATUS).file("etc/os-release", DEBIAN_OS_RELEASE).analyse()
    assert analysis.files == {"etc/os-release": ()}  # the safe entry after it is still read
    assert analysis.os is not None
    (problem,) = analysis.problems
    assert problem.startswith("refused entry '") and problem.endswith(f": {reason}")
    assert len(problem) < 300  # a hostile name is shown shortened


def test_harmless_spellings_are_normalised() -> None:
    analysis = Layer().file("./var//lib/./dpkg/status", DPKG_STATUS).analyse()
    assert list(analysis.files) == [STATUS] and analysis.problems == ()


@pytest.mark.parametrize(
    "target", ["/etc/shadow", "../../../../etc/shadow", "status.real", "/proc/self/environ"]
)
def test_a_package_database_that_is_a_symlink_is_reported_not_followed(target: str) -> None:
    analysis = Layer().file("var/lib/dpkg/status.real", DPKG_STATUS).symlink(STATUS, target).analyse()
    assert analysis.files == {STATUS: ()}
    assert analysis.problems == (f"{STATUS}: symbolic link to {target!r}; not followed",)


def test_a_symlinked_os_release_is_normal() -> None:
    analysis = (
        Layer()
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("usr/lib/os-release", DEBIAN_OS_RELEASE)
        .file(STATUS, DPKG_STATUS)
        .analyse()
    )
    assert analysis.problems == ()
    assert (analysis.os_path, analysis.os and analysis.os.ecosystem) == ("usr/lib/os-release", "Debian:12")


def test_a_hardlink_to_an_earlier_file_of_the_same_kind_is_resolved() -> None:
    analysis = Layer().file(STATUS, DPKG_STATUS).hardlink("var/lib/dpkg/status.d/base", STATUS).analyse()
    assert analysis.problems == ()
    linked = analysis.files["var/lib/dpkg/status.d/base"]
    assert [p.name for p in linked] == [p.name for p in analysis.files[STATUS]]
    assert {p.path for p in linked} == {"var/lib/dpkg/status.d/base"}


@pytest.mark.parametrize(
    ("layer", "problem"),
    [
        (
            Layer().hardlink(STATUS, "etc/passwd"),
            "not an earlier file of its kind in this layer",
        ),  # a lower layer's
        (
            Layer().hardlink(STATUS, "tmp/status").file("tmp/status", DPKG_STATUS),
            "not an earlier file",
        ),  # later
        (
            Layer().file("tmp/status", DPKG_STATUS).hardlink(STATUS, "tmp/status"),
            "not an earlier file",
        ),  # not read
        (Layer().hardlink(STATUS, "../../etc/shadow"), "refused: '..' component"),
        (Layer().hardlink(STATUS, "/etc/shadow"), "refused: absolute path"),
    ],
)
def test_other_hardlinks_are_reported_not_followed(layer: Layer, problem: str) -> None:
    analysis = layer.analyse()
    assert analysis.files[STATUS] == ()
    (reported,) = analysis.problems
    assert reported.startswith(f"{STATUS}: hard link to ") and problem in reported


def test_links_elsewhere_are_ignored() -> None:
    layer = (
        Layer()
        .symlink("usr/bin/python", "/etc/shadow")
        .hardlink("usr/bin/python3", "../../x")
        .symlink("lib", "usr/lib")
    )
    assert layer.analyse().problems == ()


def test_devices_and_fifos_are_ignored() -> None:
    analysis = Layer().device(STATUS).fifo("etc/os-release").device("dev/null").analyse()
    assert (analysis.files, analysis.problems, analysis.os) == ({}, (), None)


def test_an_oversized_file_of_interest_is_skipped_and_the_walk_goes_on() -> None:
    huge = DPKG_STATUS * 1000  # about 2.5 MB
    analysis = (
        Layer()
        .file(STATUS, huge)
        .file("etc/os-release", DEBIAN_OS_RELEASE)
        .analyse(max_file_bytes=1024 * 1024)
    )
    assert analysis.files[STATUS] == () and analysis.os is not None
    assert analysis.problems == (
        f"{STATUS}: {len(huge)} bytes, over the 1048576-byte limit for one file; skipped",
    )


def test_entry_count_limit() -> None:
    layer = Layer().file("etc/os-release", DEBIAN_OS_RELEASE)
    for index in range(50):
        layer.file(f"usr/share/doc/{index}", "x")
    analysis = layer.file(STATUS, DPKG_STATUS).analyse(max_entries=10)
    assert analysis.os is not None and STATUS not in analysis.files
    assert analysis.problems == ("limit reached: more than 10 entries; analysis stopped",)


def test_path_length_limit() -> None:
    analysis = Layer().file("a" * 101, "x").analyse(max_path_length=100)
    assert analysis.problems == (f"refused entry {('a' * 101)!r}: name longer than 100 characters",)


def test_problems_are_bounded() -> None:
    layer = Layer()
    for index in range(30):
        layer.file(f"../escape{index}", "x")
    problems = layer.analyse(max_problems=10).problems
    assert len(problems) == 11 and problems[-1] == "limit reached: 20 more problems not recorded"


def test_package_count_limit() -> None:
    analysis = (
        Layer().file(STATUS, DPKG_STATUS).file("lib/apk/db/installed", "P:x\nV:1\n").analyse(max_packages=3)
    )
    assert len(analysis.files[STATUS]) == 3 and "lib/apk/db/installed" not in analysis.files
    assert analysis.problems == ("limit reached: more than 3 packages; analysis stopped",)
