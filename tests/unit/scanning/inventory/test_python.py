"""Python distributions: core metadata, and the real ones installed in this venv."""

from __future__ import annotations

import importlib.metadata
import sysconfig
from pathlib import Path

import pytest

from proxy.scanning.inventory import ExtractionError, build_inventory, extract_python, normalise_pypi_name
from tests.support.layers import Layer
from tests.unit.scanning.inventory.samples import PYTHON_METADATA

SITE = "usr/local/lib/python3.11/site-packages"


def test_metadata_headers_only() -> None:
    (package,) = extract_python(f"{SITE}/PyYAML-6.0.1.dist-info/METADATA", PYTHON_METADATA.encode(), None)
    # The display name keeps its spelling; the purl (what matching uses) is normalised.
    assert (package.name, package.version, package.ecosystem) == ("PyYAML", "6.0.1", "PyPI")
    assert package.purl == "pkg:pypi/pyyaml@6.0.1"


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("Foo.Bar_baz", "foo-bar-baz"), ("zope.interface", "zope-interface"), ("A__B--C", "a-b-c")],
)
def test_pep_503_normalisation(name: str, normalised: str) -> None:
    assert normalise_pypi_name(name) == normalised


def test_missing_version_is_reported() -> None:
    with pytest.raises(ExtractionError, match="without Name or Version"):
        extract_python("x.dist-info/METADATA", b"Metadata-Version: 2.1\nName: x\n", None)


def _venv_distributions() -> dict[Path, importlib.metadata.Distribution]:
    """Each distribution installed in this interpreter's site-packages, by its metadata file."""
    site = Path(sysconfig.get_paths()["purelib"])
    metadata = [*site.glob("*.dist-info/METADATA"), *site.glob("*.egg-info/PKG-INFO")]
    return {path: importlib.metadata.Distribution.at(path.parent) for path in metadata}


def test_the_venvs_real_distributions() -> None:
    """Every dist-info of this venv, copied into a layer, comes back with the name and version
    importlib.metadata reports."""
    distributions = _venv_distributions()
    site = Path(sysconfig.get_paths()["purelib"])
    assert len(distributions) > 20
    layer = Layer()
    for metadata in distributions:
        layer.file(f"{SITE}/{metadata.relative_to(site)}", metadata.read_bytes())
    inventory = build_inventory([layer.analyse()])

    assert inventory.problems == ()
    expected = sorted((d.metadata["Name"], d.version) for d in distributions.values())
    assert sorted((p.name, p.version) for p in inventory.packages) == expected
    found = {normalise_pypi_name(p.name): p.version for p in inventory.packages}
    for known in ("aiohttp", "cryptography", "pydantic", "PyYAML", "SQLAlchemy", "pytest"):
        assert found[normalise_pypi_name(known)] == importlib.metadata.version(known)
