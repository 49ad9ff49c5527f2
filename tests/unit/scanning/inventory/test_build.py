"""Stacking layer analyses into an image inventory: replacement, whiteouts, opaque
directories, the operating system, and which layer each package came from."""

from __future__ import annotations

from dataclasses import replace

from proxy.scanning.inventory import build_inventory
from proxy.scanning.model import Inventory, LayerAnalysis, Package
from tests.support.layers import Layer
from tests.unit.scanning.inventory.formats import go_binary, modinfo
from tests.unit.scanning.inventory.samples import ALPINE_OS_RELEASE, DEBIAN_OS_RELEASE

STATUS = "var/lib/dpkg/status"
SITE = "usr/lib/python3/dist-packages"


def _dpkg(*packages: tuple[str, str]) -> str:
    return "\n".join(
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n"
        for name, version in packages
    )


def _metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def _stack(*layers: Layer) -> Inventory:
    return build_inventory([layer.analyse(digest=f"sha256:{index}") for index, layer in enumerate(layers)])


def _found(inventory: Inventory) -> dict[str, tuple[str, str | None]]:
    return {p.name: (p.version, p.layer) for p in inventory.packages}


def test_a_rewritten_status_file_keeps_the_layer_each_package_came_from() -> None:
    inventory = _stack(
        Layer()
        .file("etc/os-release", DEBIAN_OS_RELEASE)
        .file(STATUS, _dpkg(("base-files", "12.4"), ("libc6", "2.36-9"))),
        Layer().file(
            STATUS, _dpkg(("base-files", "12.4"), ("libc6", "2.36-9+deb12u4"), ("curl", "7.88.1-10"))
        ),
        Layer().file("app/run.sh", "#!/bin/sh\n"),
    )
    assert _found(inventory) == {
        "base-files": ("12.4", "sha256:0"),  # unchanged since the base layer
        "libc6": ("2.36-9+deb12u4", "sha256:1"),  # upgraded
        "curl": ("7.88.1-10", "sha256:1"),  # installed
    }
    assert inventory.problems == ()


def test_a_package_removed_and_installed_again_comes_from_the_later_layer() -> None:
    inventory = _stack(
        Layer().file("etc/os-release", DEBIAN_OS_RELEASE).file(STATUS, _dpkg(("curl", "7.88.1-10"))),
        Layer().file(STATUS, _dpkg(("base-files", "12.4"))),
        Layer().file(STATUS, _dpkg(("base-files", "12.4"), ("curl", "7.88.1-10"))),
    )
    assert _found(inventory) == {"base-files": ("12.4", "sha256:1"), "curl": ("7.88.1-10", "sha256:2")}


def test_whiteouts_delete_files_and_directories_below_only() -> None:
    inventory = _stack(
        Layer()
        .file(f"{SITE}/requests-2.28.1.dist-info/METADATA", _metadata("requests", "2.28.1"))
        .file(f"{SITE}/idna-3.3.dist-info/METADATA", _metadata("idna", "3.3"))
        .file("app/node_modules/lodash/package.json", '{"name": "lodash", "version": "4.17.20"}'),
        Layer()
        .whiteout(f"{SITE}/requests-2.28.1.dist-info")  # a directory
        .whiteout("app/node_modules/lodash/package.json")  # a file
        .file(f"{SITE}/requests-2.31.0.dist-info/METADATA", _metadata("requests", "2.31.0")),
        # A whiteout applies to the layers below, never to the files of its own layer.
        Layer()
        .whiteout(f"{SITE}/idna-3.3.dist-info")
        .file(f"{SITE}/idna-3.3.dist-info/METADATA", _metadata("idna", "3.3")),
    )
    assert _found(inventory) == {"requests": ("2.31.0", "sha256:1"), "idna": ("3.3", "sha256:2")}


def test_opaque_directories_hide_what_is_below() -> None:
    lodash = '{"name": "lodash", "version": "4.17.20"}'
    inventory = _stack(
        Layer()
        .file("app/node_modules/lodash/package.json", lodash)
        .file("app/node_modules/left-pad/package.json", '{"name": "left-pad", "version": "1.3.0"}')
        .file("srv/node_modules/lodash/package.json", lodash),
        Layer()
        .opaque("app/node_modules")
        .file("app/node_modules/lodash/package.json", '{"name": "lodash", "version": "4.17.21"}'),
    )
    assert sorted((p.name, p.version, p.path) for p in inventory.packages) == [
        ("lodash", "4.17.20", "srv/node_modules/lodash/package.json"),  # not under the opaque dir
        ("lodash", "4.17.21", "app/node_modules/lodash/package.json"),
    ]
    # An opaque root hides everything.
    assert (
        _stack(Layer().file("srv/node_modules/lodash/package.json", lodash), Layer().opaque("")).packages
        == ()
    )


def test_the_topmost_os_release_names_the_release_of_every_os_package() -> None:
    bullseye = DEBIAN_OS_RELEASE.replace('VERSION_ID="12"', 'VERSION_ID="11"')
    inventory = _stack(
        Layer().file("etc/os-release", bullseye).file(STATUS, _dpkg(("libc6", "2.31-13"))),
        Layer().file("etc/os-release", DEBIAN_OS_RELEASE),
    )
    assert inventory.os is not None and inventory.os.ecosystem == "Debian:12"
    (libc,) = inventory.packages
    assert libc.ecosystem == "Debian:12"
    assert libc.purl == "pkg:deb/debian/libc6@2.31-13?arch=amd64&distro=debian-12"


def test_os_release_whiteouts_and_links() -> None:
    # Deleting etc/os-release uncovers usr/lib/os-release; so does replacing it with a link.
    for upper in (
        Layer().whiteout("etc/os-release"),
        Layer().symlink("etc/os-release", "../usr/lib/os-release"),
    ):
        inventory = _stack(
            Layer().file("usr/lib/os-release", DEBIAN_OS_RELEASE),
            Layer().file("etc/os-release", ALPINE_OS_RELEASE),
            upper,
        )
        assert inventory.os is not None and inventory.os.id == "debian"
    assert _stack(Layer().file("etc/os-release", ALPINE_OS_RELEASE), Layer().whiteout("etc")).os is None


def test_missing_or_unknown_release_is_a_problem() -> None:
    inventory = _stack(Layer().file(STATUS, _dpkg(("libc6", "2.36-9"))))
    assert inventory.os is None
    assert inventory.packages[0].ecosystem == "Debian"
    assert inventory.problems == ("no os-release: operating-system packages carry no release",)
    centos = _stack(Layer().file("etc/os-release", 'ID="centos"\nVERSION_ID="7"\n'))
    assert centos.problems == ("no OSV ecosystem for centos 7: its packages match no advisories",)


def test_go_binaries_replaced_deleted_and_overwritten() -> None:
    def server(version: str) -> bytes:
        return go_binary("go1.21.3", modinfo("example.com/server", ("example.com/server", version)))

    path = "usr/local/bin/server"
    upgraded = _stack(
        Layer().file(path, server("v1.0.0"), mode=0o755), Layer().file(path, server("v1.1.0"), mode=0o755)
    )
    assert _found(upgraded)["example.com/server"] == ("v1.1.0", "sha256:1")
    deleted = _stack(Layer().file(path, server("v1.0.0"), mode=0o755), Layer().whiteout(path))
    assert deleted.packages == ()
    # Executables without Go build info are not recorded (there are thousands in an image),
    # so one written over a Go binary leaves the Go binary listed: over-reporting, the safe
    # side for a gate.
    overwritten = _stack(
        Layer().file(path, server("v1.0.0"), mode=0o755),
        Layer().file(path, b"\x7fELF" + bytes(500), mode=0o755),
    )
    assert _found(overwritten)["example.com/server"] == ("v1.0.0", "sha256:0")


def test_problems_of_every_layer_are_kept_with_their_layer() -> None:
    inventory = _stack(Layer().file("../escape", "x"), Layer().symlink(STATUS, "/etc/passwd"))
    assert inventory.problems == (
        "layer sha256:0: refused entry '../escape': '..' component",
        "layer sha256:1: var/lib/dpkg/status: symbolic link to '/etc/passwd'; not followed",
    )


def test_analyses_built_by_hand() -> None:
    """The analyses may come from a cache rather than from analyse_layer."""
    package = Package(
        name="left-pad", version="1.3.0", ecosystem="npm", path="a/node_modules/left-pad/package.json"
    )
    lower = LayerAnalysis(digest="sha256:a", files={package.path: (package,)})
    upper = LayerAnalysis(digest="sha256:b", whiteouts=("a",), problems=("something odd",))
    assert build_inventory([lower]).packages == (replace(package, layer="sha256:a"),)
    assert build_inventory([lower, upper]) == Inventory(
        os=None, packages=(), problems=("layer sha256:b: something odd",)
    )
    assert build_inventory([]) == Inventory(os=None, packages=())
