import json

import pytest

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.manifest import MAX_MANIFEST_BYTES, InvalidManifestError, parse_manifest

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": str(Digest.of(b"c")), "size": 1}
LAYER = {
    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
    "digest": str(Digest.of(b"l")),
    "size": 1,
}


def image(**extra: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": CONFIG,
        "layers": [LAYER],
        **extra,
    }
    return json.dumps(doc).encode()


def test_image_manifest_references() -> None:
    manifest = parse_manifest(image(), mediatypes.OCI_MANIFEST)
    assert not manifest.is_index
    assert [str(d.digest) for d in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]


def test_index_children_and_platforms() -> None:
    child = {
        **LAYER,
        "mediaType": mediatypes.OCI_MANIFEST,
        "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
    }
    data = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [child]}).encode()
    manifest = parse_manifest(data, None)
    assert manifest.is_index and manifest.blobs == ()
    assert str(manifest.children[0].platform) == "linux/arm/v7"


def test_media_type_from_shape_when_omitted() -> None:
    doc = {"schemaVersion": 2, "config": CONFIG, "layers": []}
    assert parse_manifest(json.dumps(doc).encode()).media_type == mediatypes.OCI_MANIFEST


def test_subject_and_artifact_type() -> None:
    subject = {**LAYER, "mediaType": mediatypes.OCI_MANIFEST}
    manifest = parse_manifest(image(subject=subject, artifactType="application/x.sig"))
    assert manifest.subject is not None and manifest.artifact_type == "application/x.sig"


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"not json", None, "not valid JSON"),
        (b"[]", None, "not a JSON object"),
        (json.dumps({"schemaVersion": 1}).encode(), None, "schemaVersion 2"),
        (image(), mediatypes.DOCKER_MANIFEST, "contradicts"),
        (image(mediaType="text/plain"), None, "unsupported manifest media type"),
        (image(config={**CONFIG, "digest": "sha256:xyz"}), None, "config.digest"),
        (image(layers=[{**LAYER, "size": -1}]), None, "non-negative"),
        (image(layers="x"), None, "must be a list"),
        (image(annotations={"a": 1}), None, "annotations"),
        (b" " * (MAX_MANIFEST_BYTES + 1), None, "larger than"),
    ],
)
def test_invalid_manifests(data: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidManifestError, match=message):
        parse_manifest(data, content_type)


def test_accept_negotiation() -> None:
    accepted = mediatypes.parse_accept([f"{mediatypes.OCI_MANIFEST};q=0.5, {mediatypes.DOCKER_MANIFEST}"])
    assert mediatypes.accepts(accepted, mediatypes.OCI_MANIFEST)
    assert not mediatypes.accepts(accepted, mediatypes.OCI_INDEX)
    assert mediatypes.accepts(set(), mediatypes.OCI_INDEX)
    assert mediatypes.accepts({"*/*"}, mediatypes.OCI_INDEX)
