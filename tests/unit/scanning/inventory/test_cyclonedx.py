"""CycloneDX 1.5 documents from inventories, checked against the official schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from proxy.scanning.cyclonedx import to_cyclonedx
from proxy.scanning.inventory import build_inventory
from proxy.scanning.model import Inventory, Package
from tests.support.layers import Layer
from tests.unit.scanning.inventory.formats import jar
from tests.unit.scanning.inventory.samples import DEBIAN_OS_RELEASE, DPKG_STATUS, NPM_PACKAGE, PYTHON_METADATA

IMAGE = "registry.example:5000/shop/api:1.4"
DIGEST = "sha256:" + "12" * 32
CREATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    shaded = jar([("org.example", "shop", "1.0"), ("org.apache.logging.log4j", "log4j-core", "2.17.1")])
    layer = (
        Layer()
        .file("etc/os-release", DEBIAN_OS_RELEASE)
        .file("var/lib/dpkg/status", DPKG_STATUS)
        .file("usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA", PYTHON_METADATA)
        .file("app/node_modules/@babel/core/package.json", NPM_PACKAGE)
        .file("app/shop.jar", shaded)
        .file("app/copy.jar", shaded)
    )
    return build_inventory([layer.analyse(digest="sha256:" + "34" * 32)])


def test_document(inventory: Inventory) -> None:
    bom = to_cyclonedx(inventory, image=IMAGE, digest=DIGEST, created=CREATED)
    assert (bom["bomFormat"], bom["specVersion"], bom["version"]) == ("CycloneDX", "1.5", 1)
    assert bom["metadata"]["timestamp"] == "2024-05-01T12:30:00Z"
    assert bom["metadata"]["component"] == {
        "type": "container",
        "bom-ref": DIGEST,
        "name": IMAGE,
        "version": DIGEST,
        "purl": f"pkg:oci/api@sha256:{'12' * 32}?repository_url=registry.example:5000%2Fshop%2Fapi",
    }
    operating_system, *libraries = bom["components"]
    assert operating_system == {
        "type": "operating-system",
        "bom-ref": "os:debian@12",
        "name": "debian",
        "version": "12",
        "description": "Debian GNU/Linux 12 (bookworm)",
    }
    assert len(libraries) == len(inventory.packages) == 5 + 1 + 1 + 4
    libc = next(c for c in libraries if c["name"] == "libc6")
    assert libc["purl"] == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
    assert {p["name"]: p["value"] for p in libc["properties"]} == {
        "pullgate:ecosystem": "Debian:12",
        "pullgate:path": "var/lib/dpkg/status",
        "pullgate:layer": "sha256:" + "34" * 32,
        "pullgate:source_name": "glibc",
    }
    assert len({c["bom-ref"] for c in bom["components"]}) == len(bom["components"])


def test_bom_refs_stay_unique_for_a_package_listed_twice() -> None:
    package = Package(
        name="x", version="1", ecosystem="npm", path="a/node_modules/x/package.json", purl="pkg:npm/x@1"
    )
    bom = to_cyclonedx(
        Inventory(os=None, packages=(package, package)), image=IMAGE, digest=DIGEST, created=CREATED
    )
    assert [c["bom-ref"] for c in bom["components"]] == [
        "pkg:npm/x@1|a/node_modules/x/package.json",
        "pkg:npm/x@1|a/node_modules/x/package.json#2",
    ]


def test_deterministic(inventory: Inventory) -> None:
    first = to_cyclonedx(inventory, image=IMAGE, digest=DIGEST, created=CREATED)
    again = to_cyclonedx(
        inventory, image=IMAGE, digest=DIGEST, created=CREATED.astimezone(timezone(timedelta(hours=2)))
    )
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    other = to_cyclonedx(inventory, image=IMAGE, digest="sha256:" + "56" * 32, created=CREATED)
    assert first["serialNumber"].startswith("urn:uuid:") and other["serialNumber"] != first["serialNumber"]


def test_naive_time_is_a_programming_error(inventory: Inventory) -> None:
    with pytest.raises(ValueError, match="timezone"):
        to_cyclonedx(inventory, image=IMAGE, digest=DIGEST, created=datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "image", ["debian", "docker.io/library/debian:12", f"ghcr.io/a/b@{DIGEST}", "localhost:5000/x"]
)
def test_image_names(image: str) -> None:
    component = to_cyclonedx(Inventory(os=None, packages=()), image=image, digest=DIGEST, created=CREATED)[
        "metadata"
    ]["component"]
    assert component["name"] == image
    name = image.partition("@")[0].rpartition("/")[2].partition(":")[0]
    assert component["purl"].startswith(f"pkg:oci/{name}@")


def test_valid_against_the_cyclonedx_1_5_schema(inventory: Inventory) -> None:
    validation = pytest.importorskip(
        "cyclonedx.validation.json", reason="cyclonedx-python-lib[json-validation]"
    )
    schema = pytest.importorskip("cyclonedx.schema")
    bom = to_cyclonedx(inventory, image=IMAGE, digest=DIGEST, created=CREATED)
    bom["metadata"]["properties"] = [{"name": "pullgate:problem", "value": "an example problem"}]
    errors = validation.JsonStrictValidator(schema.SchemaVersion.V1_5).validate_str(json.dumps(bom))
    assert errors is None, errors


def test_purls_parse_with_the_reference_implementation(inventory: Inventory) -> None:
    packageurl = pytest.importorskip("packageurl")
    for package in inventory.packages:
        parsed = packageurl.PackageURL.from_string(package.purl)
        assert parsed.version in (package.version, package.version.split(":", 1)[-1])
        assert parsed.name in (
            package.name,
            package.name.split("/")[-1],
            package.name.split(":")[-1],
            "pyyaml",
        )
