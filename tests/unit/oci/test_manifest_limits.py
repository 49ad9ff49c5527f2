"""How many descriptors a served manifest may list: the limit itself passes, one more is
refused naming the field, the count and the limit; a referrers index is not limited."""

import json

import pytest

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.manifest import (
    MAX_INDEX_ENTRIES,
    MAX_LAYERS,
    InvalidManifestError,
    ManifestLimitError,
    check_limits,
    parse_manifest,
)

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": str(Digest.of(b"c")), "size": 1}


def _descriptors(count: int, media_type: str) -> list[dict[str, object]]:
    return [
        {"mediaType": media_type, "digest": str(Digest.of(str(i).encode())), "size": 1} for i in range(count)
    ]


def _image(layers: int) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": CONFIG,
        "layers": _descriptors(layers, "application/vnd.oci.image.layer.v1.tar+gzip"),
    }
    return json.dumps(document).encode()


def _index(entries: int) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": _descriptors(entries, mediatypes.OCI_MANIFEST),
    }
    return json.dumps(document).encode()


def test_the_limits_themselves_are_served() -> None:
    check_limits(parse_manifest(_image(MAX_LAYERS)))
    check_limits(parse_manifest(_index(MAX_INDEX_ENTRIES)))


@pytest.mark.parametrize(
    ("data", "field", "limit"),
    [
        (_image(MAX_LAYERS + 1), "layers", MAX_LAYERS),
        (_index(MAX_INDEX_ENTRIES + 1), "manifests", MAX_INDEX_ENTRIES),
    ],
)
def test_one_more_is_refused_with_count_and_limit(data: bytes, field: str, limit: int) -> None:
    manifest = parse_manifest(data)  # well-formed: parsing alone accepts it (referrers answers may be long)
    with pytest.raises(ManifestLimitError) as caught:
        check_limits(manifest)
    assert (caught.value.field, caught.value.count, caught.value.limit) == (field, limit + 1, limit)
    assert isinstance(caught.value, InvalidManifestError)
    assert f"lists {limit + 1} {field}; pullgate serves at most {limit}" in str(caught.value)
