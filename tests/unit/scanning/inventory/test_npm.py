"""npm: package.json of installed packages."""

from __future__ import annotations

import pytest

from proxy.scanning.inventory import ExtractionError, extract_npm
from tests.unit.scanning.inventory.samples import NPM_PACKAGE

PATH = "app/node_modules/@babel/core/package.json"


def test_scoped_package() -> None:
    (package,) = extract_npm(PATH, NPM_PACKAGE.encode(), None)
    assert (package.name, package.version, package.ecosystem, package.path) == (
        "@babel/core",
        "7.24.4",
        "npm",
        PATH,
    )
    assert package.purl == "pkg:npm/%40babel/core@7.24.4"


def test_unscoped_package() -> None:
    (package,) = extract_npm(
        "node_modules/lodash/package.json", b'{"name": "lodash", "version": "4.17.21"}', None
    )
    assert package.purl == "pkg:npm/lodash@4.17.21"


@pytest.mark.parametrize(
    "manifest", [b"{}", b'{"name": "x"}', b'{"name": "x", "version": 1}', b'{"version": "1.0.0"}']
)
def test_manifests_naming_nothing_installed_yield_nothing(manifest: bytes) -> None:
    assert extract_npm(PATH, manifest, None) == ()


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # deeper than the decoder's stack
        (b'{"name": "a/b/c", "version": "1.0.0"}', "invalid package name"),
        (b'{"name": "' + b"x" * 300 + b'", "version": "1.0.0"}', "invalid package name"),
    ],
)
def test_malformed_manifests_are_reported(manifest: bytes, problem: str) -> None:
    with pytest.raises(ExtractionError, match=problem):
        extract_npm(PATH, manifest, None)
