"""Maven: pom.properties in jars, wars, ears and the archives nested in them."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from proxy.scanning.inventory import ExtractionError, extract_maven
from tests.unit.scanning.inventory.formats import jar

LOG4J = ("org.apache.logging.log4j", "log4j-core", "2.14.1")
JACKSON = ("com.fasterxml.jackson.core", "jackson-databind", "2.13.0")
APP = ("com.example", "shop", "1.4.0")


def test_plain_jar() -> None:
    (package,) = extract_maven("opt/app/log4j-core-2.14.1.jar", jar([LOG4J]), None)
    assert (package.name, package.version, package.ecosystem) == (
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        "Maven",
    )
    assert package.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    assert package.path == "opt/app/log4j-core-2.14.1.jar"


def test_shaded_jar_lists_every_artifact() -> None:
    packages = extract_maven("app.jar", jar([APP, LOG4J, JACKSON]), None)
    assert {p.name for p in packages} == {
        "com.example:shop",
        "org.apache.logging.log4j:log4j-core",
        JACKSON[0] + ":" + JACKSON[1],
    }


def test_nested_archives_are_named_like_jar_urls() -> None:
    war = jar([APP], nested={"WEB-INF/lib/log4j-core-2.14.1.jar": jar([LOG4J])})
    ear = jar(nested={"shop.war": war, "lib/jackson-databind-2.13.0.jar": jar([JACKSON])})
    packages = {p.name: p.path for p in extract_maven("srv/shop.ear", ear, None)}
    assert packages == {
        "com.example:shop": "srv/shop.ear!/shop.war",
        "org.apache.logging.log4j:log4j-core": "srv/shop.ear!/shop.war!/WEB-INF/lib/log4j-core-2.14.1.jar",
        "com.fasterxml.jackson.core:jackson-databind": "srv/shop.ear!/lib/jackson-databind-2.13.0.jar",
    }


def test_nesting_depth_limit() -> None:
    deep = jar([LOG4J])
    for level in range(4):
        deep = jar([("com.example", f"level{level}", "1")], nested={f"lib/level{level}.jar": deep})
    with pytest.raises(ExtractionError) as caught:
        extract_maven("deep.jar", deep, None, max_depth=2)
    assert "nested deeper than 2" in caught.value.problems[0]
    assert {p.name for p in caught.value.packages} == {
        "com.example:level3",
        "com.example:level2",
        "com.example:level1",
    }


def test_nested_size_budget() -> None:
    inner = jar([LOG4J], extra={"blob.bin": random.Random(1).randbytes(100_000)})  # incompressible
    with pytest.raises(ExtractionError, match="left for nested archives"):
        extract_maven(
            "app.war",
            jar([APP], nested={"WEB-INF/lib/a.jar": inner, "WEB-INF/lib/b.jar": inner}),
            None,
            max_nested_bytes=150_000,
        )


def test_zip_bomb_in_a_nested_archive_is_bounded() -> None:
    """A nested entry whose header claims a small size but inflates far beyond it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WEB-INF/lib/bomb.jar", b"\x00" * 50_000_000)
    data = bytearray(buffer.getvalue())
    # Lie about the uncompressed size in the central directory and the local header.
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (1000).to_bytes(4, "little")
    with pytest.raises(ExtractionError) as caught:
        extract_maven("app.war", bytes(data), None, max_nested_bytes=1_000_000)
    assert "unreadable" in caught.value.problems[0]


@pytest.mark.parametrize("data", [b"", b"not a zip at all" * 100, b"PK\x05\x06" + b"\x00" * 8 + b"\xff" * 10])
def test_not_an_archive(data: bytes) -> None:
    with pytest.raises(ExtractionError, match="zip"):
        extract_maven("x.jar", data, None)


def test_empty_archive() -> None:
    assert extract_maven("x.jar", b"PK\x05\x06" + b"\x00" * 18, None) == ()


def test_too_many_entries_are_refused_before_reading() -> None:
    with pytest.raises(ExtractionError, match="more than 3 entries"):
        extract_maven("x.jar", jar([APP, LOG4J]), None, max_entries=3)


def test_properties_escapes_and_comments() -> None:
    properties = (
        b"#Generated\n! also a comment\nversion = 1.0\\:beta\ngroupId:org.example\nartifactId  tool\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("META-INF/maven/org.example/tool/pom.properties", properties)
        archive.writestr("META-INF/maven/incomplete/x/pom.properties", b"groupId=incomplete\n")
    (package,) = extract_maven("tool.jar", buffer.getvalue(), None)
    assert (package.name, package.version) == ("org.example:tool", "1.0:beta")
