"""Put images into registries: the distribution HTTP API, OCI layouts on disk, and skopeo.

Pushing speaks the registry API directly (monolithic uploads, manifests by digest and by
tag), so tests do not depend on any client's upload quirks. ``skopeo_copy`` is async
because the proxy under test may run on the test's own event loop.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from tests.support.auth import Auth, auth_headers
from tests.support.images import OCI_INDEX, Image, Index, canonical_json, sha256_digest
from tests.support.proc import run_tool

__all__ = [
    "MANIFEST_ACCEPT",
    "get_blob",
    "get_manifest",
    "push_blob",
    "push_image",
    "push_manifest",
    "skopeo_copy",
    "write_oci_layout",
]

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


async def push_blob(
    session: aiohttp.ClientSession, base_url: str, repo: str, data: bytes, *, auth: Auth = None
) -> str:
    """Monolithic upload (POST then PUT ?digest=), skipped when HEAD says the blob exists."""
    digest = sha256_digest(data)
    headers = auth_headers(auth)
    async with session.head(f"{base_url}/v2/{repo}/blobs/{digest}", headers=headers) as resp:
        if resp.status == 200:
            return digest
    async with session.post(f"{base_url}/v2/{repo}/blobs/uploads/", headers=headers) as resp:
        assert resp.status == 202, f"upload start: {resp.status} {await resp.text()}"
        location = URL(base_url).join(URL(resp.headers["Location"]))
    put_headers = {**headers, "Content-Type": "application/octet-stream"}
    # A BytesIO body: aiohttp warns that large raw bytes could hold up the event loop.
    body = io.BytesIO(data)
    async with session.put(location.update_query(digest=digest), data=body, headers=put_headers) as resp:
        assert resp.status == 201, f"upload {digest}: {resp.status} {await resp.text()}"
    return digest


async def push_manifest(
    session: aiohttp.ClientSession,
    base_url: str,
    repo: str,
    reference: str,
    media_type: str,
    body: bytes,
    *,
    auth: Auth = None,
) -> str:
    """PUT a manifest by tag or digest; returns the digest the registry reports."""
    headers = {**auth_headers(auth), "Content-Type": media_type}
    url = f"{base_url}/v2/{repo}/manifests/{reference}"
    async with session.put(url, data=body, headers=headers) as resp:
        assert resp.status == 201, f"manifest {reference}: {resp.status} {await resp.text()}"
        return resp.headers.get("Docker-Content-Digest", sha256_digest(body))


async def push_image(
    base_url: str,
    repo: str,
    image: Image | Index,
    tag: str | None = None,
    *,
    auth: Auth = None,
    session: aiohttp.ClientSession | None = None,
) -> str:
    """Push every blob, every child manifest by digest, then the top manifest by digest and tag."""
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    try:
        for data in image.all_blobs.values():
            await push_blob(client, base_url, repo, data, auth=auth)
        for digest, (media_type, body) in image.manifests.items():
            await push_manifest(client, base_url, repo, digest, media_type, body, auth=auth)
        if tag is not None:
            await push_manifest(
                client, base_url, repo, tag, image.media_type, image.manifest_bytes, auth=auth
            )
    finally:
        if own:
            await client.close()
    return image.digest


async def get_manifest(
    session: aiohttp.ClientSession,
    base_url: str,
    repo: str,
    reference: str,
    *,
    auth: Auth = None,
    accept: str = MANIFEST_ACCEPT,
) -> tuple[str, str, bytes]:
    """GET a manifest; returns (Content-Type, Docker-Content-Digest, body)."""
    headers = {**auth_headers(auth), "Accept": accept}
    async with session.get(f"{base_url}/v2/{repo}/manifests/{reference}", headers=headers) as resp:
        assert resp.status == 200, f"manifest {reference}: {resp.status} {await resp.text()}"
        body = await resp.read()
        return resp.headers["Content-Type"], resp.headers.get("Docker-Content-Digest", ""), body


async def get_blob(
    session: aiohttp.ClientSession, base_url: str, repo: str, digest: str, *, auth: Auth = None
) -> bytes:
    async with session.get(f"{base_url}/v2/{repo}/blobs/{digest}", headers=auth_headers(auth)) as resp:
        assert resp.status == 200, f"blob {digest}: {resp.status}"
        return await resp.read()


def write_oci_layout(image: Image | Index, directory: Path, tag: str) -> Path:
    """Write (or add to) an OCI image layout; ``oci:DIR:TAG`` then names ``image``."""
    blob_dir = directory / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    contents = {**image.all_blobs, **{d: body for d, (_, body) in image.manifests.items()}}
    for digest, data in contents.items():
        (blob_dir / digest.removeprefix("sha256:")).write_bytes(data)
    index_path = directory / "index.json"
    index: dict[str, Any] = (
        json.loads(index_path.read_bytes()) if index_path.exists() else _empty_layout_index()
    )
    ref_key = "org.opencontainers.image.ref.name"
    index["manifests"] = [m for m in index["manifests"] if m.get("annotations", {}).get(ref_key) != tag]
    index["manifests"].append(
        {
            "mediaType": image.media_type,
            "digest": image.digest,
            "size": image.size,
            "annotations": {ref_key: tag},
        }
    )
    index_path.write_bytes(canonical_json(index))
    return directory


def _empty_layout_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


async def skopeo_copy(
    src: str, dst: str, extra_args: Sequence[str] = (), *, timeout: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy`` with TLS verification off on both sides and no signature policy.

    ``--src/--dest-tls-verify`` only matter for ``docker://`` references; skopeo ignores
    them for other transports.
    """
    argv = [
        "skopeo",
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        *extra_args,
        src,
        dst,
    ]
    return await run_tool(argv, timeout=timeout, check=check)
