"""Scan targets are validated once, and never show their credential."""

from __future__ import annotations

import pytest

from proxy.scanning.backends.base import ScannerError, ScanTarget

DIGEST = "sha256:" + "0f" * 32
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def test_a_target_knows_its_registry_host() -> None:
    assert (
        ScanTarget("http://127.0.0.1:5000", "a/b", DIGEST, None, MANIFEST).registry_host == "127.0.0.1:5000"
    )
    assert (
        ScanTarget("https://scanner.example/", "a", DIGEST, None, MANIFEST).registry_host == "scanner.example"
    )
    assert ScanTarget("http://[::1]:5000", "a", DIGEST, None, MANIFEST).registry_host == "[::1]:5000"


def test_the_credential_stays_out_of_repr() -> None:
    target = ScanTarget("http://127.0.0.1:5000", "a", DIGEST, "Bearer s3cret", MANIFEST)

    assert "s3cret" not in repr(target)


@pytest.mark.parametrize(
    ("url", "repository", "digest"),
    [
        ("ftp://127.0.0.1", "a", DIGEST),
        ("127.0.0.1:5000", "a", DIGEST),
        ("http://127.0.0.1:5000/v2", "a", DIGEST),
        ("http://user:pw@127.0.0.1:5000", "a", DIGEST),
        ("http://127.0.0.1:5000?x=1", "a", DIGEST),
        ("http://127.0.0.1:5000", "Upper/Case", DIGEST),
        ("http://127.0.0.1:5000", "-flag", DIGEST),
        ("http://127.0.0.1:5000", "a", "latest"),
        ("http://127.0.0.1:5000", "a", "md5:" + "0" * 32),
    ],
)
def test_invalid_targets_are_refused(url: str, repository: str, digest: str) -> None:
    with pytest.raises(ValueError):
        ScanTarget(url, repository, digest, None, MANIFEST)


def test_scanner_error_carries_its_retry_hint() -> None:
    error = ScannerError("scanner busy", temporary=True)

    assert (str(error), error.temporary) == ("scanner busy", True)
    assert repr(error) == "ScannerError('scanner busy', temporary=True)"
