"""The platform of a single-platform image, read from its config blob."""

from __future__ import annotations

import json

import pytest

from proxy.oci.image_config import config_platform
from proxy.oci.manifest import Platform


def test_a_config_names_its_platform() -> None:
    config = {"architecture": "arm", "os": "linux", "variant": "v7", "rootfs": {"type": "layers"}}
    assert config_platform(json.dumps(config).encode()) == Platform("linux", "arm", "v7")
    assert str(config_platform(b'{"os": "linux", "architecture": "amd64"}')) == "linux/amd64"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'"linux/amd64"',
        b'{"os": "linux"}',
        b'{"os": "", "architecture": "amd64"}',
        b'{"os": 1, "architecture": "amd64"}',
        b"[" * 100_000,  # deep nesting: no RecursionError escapes
        b"\xff\xfe",
    ],
)
def test_what_is_not_a_config_naming_a_platform_gives_none(data: bytes) -> None:
    assert config_platform(data) is None


def test_a_variant_that_is_not_a_string_is_left_out() -> None:
    assert config_platform(b'{"os": "linux", "architecture": "arm64", "variant": 8}') == Platform(
        "linux", "arm64"
    )
