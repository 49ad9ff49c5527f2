"""Manifest parsing as properties: anything at all ends in `InvalidManifestError` (or a
manifest), never another exception; the size limit holds before any parsing; and generated
image manifests and indexes, OCI and Docker, parse with exactly the descriptors they were
built with."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.manifest import MAX_MANIFEST_BYTES, InvalidManifestError, Manifest, parse_manifest
from tests.support.properties import digest_text, examples

_STRINGS = st.text(max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_STRINGS, inner, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations"]
)
_DESCRIPTOR_KEYS = st.sampled_from(["mediaType", "digest", "size", "platform", "artifactType", "annotations"])


def _parse(data: bytes, content_type: str | None = None) -> Manifest | None:
    try:
        return parse_manifest(data, content_type)
    except InvalidManifestError:
        return None


@given(st.binary(max_size=2048), st.one_of(st.none(), st.sampled_from(mediatypes.MANIFEST_TYPES), _STRINGS))
def test_arbitrary_bytes_raise_only_the_manifest_error(data: bytes, content_type: str | None) -> None:
    _parse(data, content_type)


@st.composite
def manifest_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """Objects with the right keys holding anything: most checks are reached this way."""
    descriptor = st.dictionaries(_DESCRIPTOR_KEYS, _JSON | digest_text(), max_size=6)
    values = (
        _JSON | descriptor | st.lists(descriptor, max_size=3) | st.sampled_from(mediatypes.MANIFEST_TYPES)
    )
    doc = draw(st.dictionaries(_KEYS, values, max_size=8))
    if draw(st.booleans()):
        doc["schemaVersion"] = draw(st.sampled_from([2, 2.0, True, "2", 1]))
    return doc


@given(manifest_shaped(), st.one_of(st.none(), st.sampled_from(mediatypes.MANIFEST_TYPES)))
def test_manifest_shaped_json_raises_only_the_manifest_error(
    doc: dict[str, Any], content_type: str | None
) -> None:
    manifest = _parse(json.dumps(doc).encode(), content_type)
    if manifest is not None:
        assert doc["schemaVersion"] == 2 and type(doc["schemaVersion"]) is int
        assert manifest.media_type in mediatypes.MANIFEST_TYPES


@given(st.sampled_from([b"[", b'{"a":', b'[{"b":[']), st.integers(1_000, 200_000))
def test_deep_nesting_is_a_manifest_error(opening: bytes, depth: int) -> None:
    assert _parse(opening * depth) is None


def test_numbers_past_the_integer_digit_limit_are_a_manifest_error() -> None:
    # json.loads raises a plain ValueError for an integer of more than 4300 digits.
    data = b'{"schemaVersion": 2, "config": {"size": ' + b"9" * 5000 + b"}}"
    assert _parse(data) is None


@given(st.integers(1, 64))
def test_the_size_limit_is_checked_before_parsing(extra: int) -> None:
    # Valid JSON one byte (or more) over the limit: refused for its size, not parsed.
    data = b'{"schemaVersion": 2, "layers": []}'
    data += b" " * (MAX_MANIFEST_BYTES - len(data) + extra)
    try:
        parse_manifest(data)
    except InvalidManifestError as exc:
        assert "larger than" in str(exc)
    else:
        raise AssertionError("an oversized manifest parsed")


_MEDIA = st.from_regex(r"application/[a-z0-9.+-]{1,30}", fullmatch=True)
_ANNOTATIONS = st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)
_PLATFORMS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"os": st.sampled_from(["linux", "windows"]), "architecture": st.sampled_from(["amd64", "arm64"])},
        optional={"variant": st.sampled_from(["v7", "v8"])},
    ),
)


@st.composite
def descriptors(draw: st.DrawFn, platform: bool = False) -> dict[str, Any]:
    algorithm = draw(st.sampled_from(["sha256", "sha512"]))
    item: dict[str, Any] = {
        "mediaType": draw(_MEDIA),
        "digest": draw(digest_text(algorithm)),
        "size": draw(st.integers(0, 2**53)),
    }
    if draw(st.booleans()):
        item["annotations"] = draw(_ANNOTATIONS)
    if draw(st.booleans()):
        item["artifactType"] = draw(_MEDIA)
    if platform and (chosen := draw(_PLATFORMS)) is not None:
        item["platform"] = chosen
    return item


def _same(parsed: Any, built: dict[str, Any]) -> None:
    assert parsed.media_type == built["mediaType"]
    assert parsed.digest == Digest.parse(built["digest"])
    assert parsed.size == built["size"]
    assert parsed.annotations == built.get("annotations", {})
    assert parsed.artifact_type == built.get("artifactType")
    platform = built.get("platform")
    if platform is None:
        assert parsed.platform is None
    else:
        assert (parsed.platform.os, parsed.platform.architecture) == (
            platform["os"],
            platform["architecture"],
        )
        assert parsed.platform.variant == platform.get("variant")


@given(
    st.sampled_from(sorted(mediatypes.IMAGE_TYPES)),
    descriptors(),
    st.lists(descriptors(), max_size=5),
    st.one_of(st.none(), descriptors()),
    st.booleans(),
    st.booleans(),
)
@examples(60)
def test_generated_image_manifests_parse_with_their_descriptors(
    media_type: str,
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    subject: dict[str, Any] | None,
    declared: bool,
    header: bool,
) -> None:
    doc: dict[str, Any] = {"schemaVersion": 2, "config": config, "layers": layers}
    if declared or (media_type == mediatypes.DOCKER_MANIFEST and not header):
        doc["mediaType"] = media_type  # only an OCI manifest may leave it to its shape
    if subject is not None:
        doc["subject"] = subject
    manifest = parse_manifest(json.dumps(doc).encode(), f"{media_type}; charset=utf-8" if header else None)
    assert manifest.media_type == media_type and not manifest.is_index
    _same(manifest.config, config)
    assert len(manifest.layers) == len(layers) and manifest.children == ()
    for parsed, built in zip(manifest.layers, layers, strict=True):
        _same(parsed, built)
    assert [d.digest for d in manifest.blobs] == [Digest.parse(d["digest"]) for d in [config, *layers]]
    if subject is None:
        assert manifest.subject is None
    else:
        _same(manifest.subject, subject)


@given(st.sampled_from(sorted(mediatypes.INDEX_TYPES)), st.lists(descriptors(platform=True), max_size=5))
@examples(60)
def test_generated_indexes_parse_with_their_children(media_type: str, children: list[dict[str, Any]]) -> None:
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": children}
    manifest = parse_manifest(json.dumps(doc).encode(), media_type)
    assert manifest.is_index and manifest.blobs == () and manifest.config is None
    assert len(manifest.children) == len(children)
    for parsed, built in zip(manifest.children, children, strict=True):
        _same(parsed, built)


@given(st.sampled_from(mediatypes.MANIFEST_TYPES), st.sampled_from(mediatypes.MANIFEST_TYPES))
def test_a_declared_type_contradicting_the_header_is_refused(declared: str, header: str) -> None:
    doc = {"schemaVersion": 2, "mediaType": declared, "config": {}, "layers": [], "manifests": []}
    manifest = _parse(json.dumps(doc).encode(), header)
    if declared != header:
        assert manifest is None
