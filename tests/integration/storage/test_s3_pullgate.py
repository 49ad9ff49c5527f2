"""pullgate on S3-compatible object storage end to end: a client pulls through it, the blobs
land in the bucket (not on local disk), and a second pull is served from the bucket."""

from __future__ import annotations

from pathlib import Path

import aiohttp

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
    await pullgate.fills_done()
    stored = {p.name for p in (s3_server.data_dir / s3_server.bucket).rglob("*") if p.is_file()}
    for digest in image.layer_digests:
        assert digest.split(":")[1] in stored  # the layer is an object in the bucket
    assert not any((tmp_path / "spool").rglob("*.part")) and not list((tmp_path / "spool").glob("*"))
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / 'again'}")
    for digest in image.layer_digests:
        name = digest.split(":")[1]
        assert (tmp_path / "again" / name).read_bytes() == image.blobs[digest]
    assert await pullgate.metric("pullgate_cache_hits", kind="blob") >= 2


async def test_redirect_sends_verified_blobs_to_the_bucket_and_never_a_denied_one(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    s3_server: RunningS3,
    tmp_path: Path,
) -> None:
    image = image_factory.image(1024 * 1024)
    denied = image_factory.image(2048)
    await push_to(upstream_registry, "library/demo", image, "1")
    await push_to(upstream_registry, "forbidden/x", denied, "1")
    storage = {
        "backend": "s3",
        "s3": {
            "bucket": s3_server.bucket,
            "endpoint_url": s3_server.endpoint_url,
            "access_key_id": s3_server.access_key_id,
            "secret_access_key": s3_server.secret_access_key,
            "spool_dir": str(tmp_path / "spool"),
            "redirect": True,
        },
    }
    policy = """
default_action: allow
rules:
  - {id: forbidden, match: {repository: "forbidden/**"}, action: deny}
"""
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], storage=storage, policy=policy)
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / 'first'}")  # fills
    await pullgate.fills_done()  # only committed content is ever redirected to
    layer = image.layer_digests[0]
    async with aiohttp.ClientSession() as session:
        url = f"{pullgate.url}/v2/library/demo/blobs/{layer}"
        async with session.get(url, allow_redirects=False) as resp:
            assert resp.status == 307
            location = resp.headers["Location"]
        assert location.startswith(s3_server.endpoint_url) and "Signature" in location
        async with session.get(location) as resp:
            assert resp.status == 200 and await resp.read() == image.blobs[layer]
        # The gate still decides first: a denied image's blob is refused, not redirected.
        async with session.get(
            f"{pullgate.url}/v2/forbidden/x/blobs/{denied.layer_digests[0]}", allow_redirects=False
        ) as resp:
            assert resp.status == 403
    # Clients follow the redirect (skopeo does).
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / 'again'}")
    assert (tmp_path / "again" / layer.split(":")[1]).read_bytes() == image.blobs[layer]
