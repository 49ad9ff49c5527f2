"""pullgate on S3-compatible object storage end to end: a client pulls through it, the blobs
land in the bucket (not on local disk), and a second pull is served from the bucket."""

from __future__ import annotations

from pathlib import Path

from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.push import skopeo_copy
from tests.support.registry import RunningRegistry
from tests.support.s3 import RunningS3


async def test_pulls_through_pullgate_store_blobs_in_the_bucket(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    s3_server: RunningS3,
    tmp_path: Path,
) -> None:
    image = image_factory.image(6 * 1024 * 1024, layers=2)
    await push_to(upstream_registry, "library/demo", image, "1")
    storage = {
        "backend": "s3",
        "s3": {
            "bucket": s3_server.bucket,
            "endpoint_url": s3_server.endpoint_url,
            "region": s3_server.region,
            "access_key_id": s3_server.access_key_id,
            "secret_access_key": s3_server.secret_access_key,
            "prefix": "pullgate/",
            "part_size": "5MiB",
            "spool_dir": str(tmp_path / "spool"),
        },
    }
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], storage=storage)
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / 'first'}")
    stored = {p.name for p in (s3_server.data_dir / s3_server.bucket).rglob("*") if p.is_file()}
    for digest in image.layer_digests:
        assert digest.split(":")[1] in stored  # the layer is an object in the bucket
    assert not any((tmp_path / "spool").rglob("*.part")) and not list((tmp_path / "spool").glob("*"))
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / 'again'}")
    for digest in image.layer_digests:
        name = digest.split(":")[1]
        assert (tmp_path / "again" / name).read_bytes() == image.blobs[digest]
    assert await pullgate.metric("pullgate_cache_hits", kind="blob") >= 2
