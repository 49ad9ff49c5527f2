"""apk: Alpine's installed database."""

from __future__ import annotations

import pytest

from proxy.scanning.inventory import ExtractionError, extract_apk, parse_os_release
from tests.unit.scanning.inventory.samples import ALPINE_OS_RELEASE, APK_INSTALLED

ALPINE = parse_os_release(ALPINE_OS_RELEASE.encode())
DB = "lib/apk/db/installed"


def test_lists_every_record_with_its_origin() -> None:
    packages = extract_apk(DB, APK_INSTALLED.encode(), ALPINE)
    assert [(p.name, p.version, p.source_name) for p in packages] == [
        ("musl", "1.2.5-r0", "musl"),
        ("busybox", "1.36.1-r29", "busybox"),
        ("ssl_client", "1.36.1-r29", "busybox"),
        ("libcrypto3", "3.3.2-r0", "openssl"),
    ]
    assert packages[2].advisory_name == "busybox"
    assert {p.ecosystem for p in packages} == {"Alpine:v3.20"}
    assert packages[0].purl == "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"


def test_record_without_version_is_reported() -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_apk(DB, b"P:orphan\nA:x86_64\n\n" + APK_INSTALLED.encode(), ALPINE)
    assert caught.value.problems == ("record 1 has no P (name) or V (version)",)
    assert len(caught.value.packages) == 4


def test_unknown_release_and_no_release() -> None:
    assert extract_apk(DB, APK_INSTALLED.encode(), None)[0].ecosystem == "Alpine"
    edge = parse_os_release(b"ID=alpine\nVERSION_ID=3.21.0_alpha20240807\n")
    assert extract_apk(DB, APK_INSTALLED.encode(), edge)[0].ecosystem == "Alpine:v3.21"
