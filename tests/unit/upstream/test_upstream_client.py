"""Fetching manifests, blobs, tags and referrers from an upstream over real sockets."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.manifest import MAX_MANIFEST_BYTES
from proxy.oci.reference import RepositoryName
from proxy.upstream import TagPage, UpstreamError, UpstreamErrorKind
from proxy.upstream.responses import next_last as _next_last

REPO = RepositoryName.parse("team/app")
INDEX = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
BLOB_DIGEST = Digest.of(b"x")


def _app(path: str, handler) -> web.Application:
    app = web.Application()
    app.router.add_route("*", path, handler)
    return app


async def _collect(stream, chunk_size: int = 1000) -> bytes:
    return b"".join([chunk async for chunk in stream.chunks(chunk_size)])


# -- manifests ---------------------------------------------------------------------------


async def test_get_manifest_sends_accept_and_returns_headers(start_registry, make_upstream) -> None:
    fake, url = await start_registry()
    data, digest = fake.add_manifest("team/app", "v1", INDEX)
    upstream = await make_upstream(url)

    fetched = await upstream.get_manifest(REPO, "v1")

    assert (fetched.data, fetched.media_type, fetched.digest) == (data, mediatypes.OCI_INDEX, digest)
    assert fake.requests[0].headers["Accept"] == ", ".join(mediatypes.MANIFEST_TYPES)
    assert "Accept-Encoding" not in fake.requests[0].headers  # bytes must arrive untransformed


async def test_head_manifest(start_registry, make_upstream) -> None:
    fake, url = await start_registry()
    data, digest = fake.add_manifest("team/app", "v1", INDEX)
    upstream = await make_upstream(url)

    head = await upstream.head_manifest(REPO, str(digest))

    assert (head.digest, head.media_type, head.size) == (digest, mediatypes.OCI_INDEX, len(data))
    assert fake.requests[0].method == "HEAD"


async def test_missing_manifest_keeps_upstream_code(start_registry, make_upstream) -> None:
    _, url = await start_registry()
    upstream = await make_upstream(url)

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "nope")

    err = caught.value
    assert (err.kind, err.status, err.upstream_code) == (UpstreamErrorKind.NOT_FOUND, 404, "MANIFEST_UNKNOWN")
    assert not err.temporary


async def test_invalid_docker_content_digest_is_ignored(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Type": mediatypes.OCI_INDEX, "Docker-Content-Digest": "md5:abc"}
        return web.Response(body=json.dumps(INDEX).encode(), headers=headers)

    upstream = await make_upstream(await serve(_app("/v2/team/app/manifests/v1", handler)))

    assert (await upstream.get_manifest(REPO, "v1")).digest is None


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_oversized_manifest_rejected(serve, make_upstream, declared: bool) -> None:
    body = b"{" + b" " * MAX_MANIFEST_BYTES + b"}"

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": mediatypes.OCI_MANIFEST})
        if declared:
            response.content_length = len(body)
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(body)
        return response

    upstream = await make_upstream(await serve(_app("/v2/team/app/manifests/v1", handler)))

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")
    assert caught.value.kind is UpstreamErrorKind.PROTOCOL
    assert "limit" in caught.value.message


async def test_manifest_content_type_parameters_are_dropped(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"{}", content_type=mediatypes.OCI_MANIFEST, charset="utf-8")

    upstream = await make_upstream(await serve(_app("/v2/team/app/manifests/v1", handler)))

    assert (await upstream.get_manifest(REPO, "v1")).media_type == mediatypes.OCI_MANIFEST


# -- blobs --------------------------------------------------------------------------------


async def test_blob_streams_with_size(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer")
    data = bytes(range(256)) * 1000
    digest = fake.add_blob("team/app", data)
    upstream = await make_upstream(url)

    async with upstream.open_blob(REPO, digest) as stream:
        assert stream.size == len(data)
        chunks = [chunk async for chunk in stream.chunks(4096)]

    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= 4096
    assert await upstream.head_blob(REPO, digest) == len(data)


async def test_missing_blob_raises_on_enter(start_registry, make_upstream) -> None:
    _, url = await start_registry()
    upstream = await make_upstream(url)

    with pytest.raises(UpstreamError) as caught:
        async with upstream.open_blob(REPO, BLOB_DIGEST):
            pytest.fail("the context must not be entered")
    assert caught.value.upstream_code == "BLOB_UNKNOWN"


async def test_truncated_blob_raises_from_chunks(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"a" * 400)
        assert request.transport is not None
        request.transport.close()  # hang up 600 bytes short
        return response

    upstream = await make_upstream(await serve(_app("/v2/team/app/blobs/{digest}", handler)))

    async with upstream.open_blob(REPO, BLOB_DIGEST) as stream:
        assert stream.size == 1000
        with pytest.raises(UpstreamError) as caught:
            await _collect(stream, 100)
    # A body that broke off is a transport failure (temporary); the stream is past the point
    # where a retry was safe, so it is the caller's to handle.
    assert caught.value.kind is UpstreamErrorKind.UNAVAILABLE
    assert "cut short" in caught.value.message


async def test_stalled_blob_body_times_out(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"a" * 10)
        await asyncio.sleep(30)
        return response

    upstream = await make_upstream(
        await serve(_app("/v2/team/app/blobs/{digest}", handler)), read_timeout=0.2
    )

    started = time.monotonic()
    async with upstream.open_blob(REPO, BLOB_DIGEST) as stream:
        with pytest.raises(UpstreamError) as caught:
            await _collect(stream)
    assert caught.value.kind is UpstreamErrorKind.TIMEOUT
    assert time.monotonic() - started < 2


async def test_stalled_headers_time_out(serve, make_upstream) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(30)
        return web.Response()

    upstream = await make_upstream(await serve(_app("/v2/{tail:.*}", handler)), read_timeout=0.2, retries=1)

    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")
    assert caught.value.kind is UpstreamErrorKind.TIMEOUT
    assert caught.value.temporary
    assert calls == 2  # a timeout is temporary: retried once
    assert time.monotonic() - started < 2


async def test_cross_origin_redirect_does_not_forward_authorization(
    serve, start_registry, make_upstream
) -> None:
    storage_seen: list[dict[str, str]] = []
    data = b"layer bytes" * 100

    async def storage(request: web.Request) -> web.Response:
        storage_seen.append({**request.headers, "query": request.query_string})
        return web.Response(body=data)

    storage_url = await serve(_app("/bucket/{digest}", storage))
    fake, url = await start_registry(auth="bearer", blob_redirect=f"{storage_url}/bucket")
    digest = fake.add_blob("team/app", data)
    upstream = await make_upstream(url)

    async with upstream.open_blob(REPO, digest) as stream:
        assert await _collect(stream) == data

    assert fake.requests[-1].authorization is not None  # the registry got its token...
    assert len(storage_seen) == 1
    assert "Authorization" not in storage_seen[0]  # ...object storage did not
    assert storage_seen[0]["query"] == "X-Signature=presigned-secret"


async def test_redirect_target_error_redacts_query(serve, start_registry, make_upstream) -> None:
    async def storage(request: web.Request) -> web.Response:
        return web.Response(status=403, text="<Error>SignatureDoesNotMatch</Error>")

    storage_url = await serve(_app("/bucket/{digest}", storage))
    fake, url = await start_registry(blob_redirect=f"{storage_url}/bucket")
    digest = fake.add_blob("team/app", b"data")
    upstream = await make_upstream(url)

    with pytest.raises(UpstreamError) as caught:
        async with upstream.open_blob(REPO, digest):
            pass
    assert caught.value.status == 403
    assert "presigned-secret" not in str(caught.value)
    assert f"{storage_url}/bucket/{digest}" in str(caught.value)


# -- tags and referrers ---------------------------------------------------------------------


async def test_list_tags_follows_link_header(serve, make_upstream) -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        headers = (
            {"Link": '</v2/team/app/tags/list?n=2&last=b%2Bc>; rel="next"'}
            if "last" not in request.query
            else {}
        )
        tags = ["a", "b+c"] if "last" not in request.query else ["d"]
        return web.json_response({"name": "team/app", "tags": tags}, headers=headers)

    upstream = await make_upstream(await serve(_app("/v2/team/app/tags/list", handler)))

    first = await upstream.list_tags(REPO, 2, None)
    second = await upstream.list_tags(REPO, 2, first.next_last)

    assert (first.tags, first.next_last) == (["a", "b+c"], "b+c")
    assert (second.tags, second.next_last) == (["d"], None)
    assert seen == [{"n": "2"}, {"n": "2", "last": "b+c"}]


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ([], None),
        (['</v2/a/tags/list?last=x&n=5>; rel="next"'], "x"),
        (['</v2/a/tags/list?last=p>; rel="prev", </v2/a/tags/list?last=n>; rel=next'], "n"),
        (['<https://r.example/v2/a/tags/list?n=5&last=z>;REL="next other"'], "z"),
        (['</v2/a/tags/list?n=5>; rel="next"'], None),
        (['</v2/a/tags/list?last=p>; rel="prev"'], None),
        (["garbage"], None),
    ],
)
def test_link_header_parsing(links: list[str], expected: str | None) -> None:
    assert _next_last(links) == expected


async def test_list_tags_of_unknown_repository(start_registry, make_upstream) -> None:
    fake, url = await start_registry()
    fake.tags["other"] = ["x"]
    upstream = await make_upstream(url)

    with pytest.raises(UpstreamError) as caught:
        await upstream.list_tags(REPO, None, None)
    assert caught.value.upstream_code == "NAME_UNKNOWN"
    assert await upstream.list_tags(RepositoryName.parse("other"), None, None) == TagPage(["x"], None)


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}'), (405, b""), (200, b"<html>hello</html>")],
)
async def test_referrers_unsupported_returns_none(serve, make_upstream, status: int, body: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body)

    upstream = await make_upstream(await serve(_app("/v2/team/app/referrers/{digest}", handler)))

    assert await upstream.get_referrers(REPO, BLOB_DIGEST, None) is None


async def test_referrers_returns_index_bytes(serve, make_upstream) -> None:
    index = json.dumps(INDEX).encode()
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.Response(body=index, content_type=mediatypes.OCI_INDEX)

    upstream = await make_upstream(await serve(_app("/v2/team/app/referrers/{digest}", handler)))

    assert await upstream.get_referrers(REPO, BLOB_DIGEST, "application/vnd.example.sbom") == index
    assert seen == [{"artifactType": "application/vnd.example.sbom"}]


# -- error bodies and ping ------------------------------------------------------------------


async def test_huge_error_body_is_not_read_to_the_end(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=404, headers={"Content-Type": "application/json"})
        response.content_length = 50 * 1024 * 1024
        await response.prepare(request)
        await response.write(b'{"errors": [' + b" " * 200 * 1024)
        await asyncio.sleep(30)  # the rest never comes: reading it all would time out
        return response

    upstream = await make_upstream(await serve(_app("/v2/{tail:.*}", handler)), read_timeout=1.0)

    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")
    assert caught.value.kind is UpstreamErrorKind.NOT_FOUND
    assert caught.value.upstream_code is None
    assert time.monotonic() - started < 0.9


async def test_ping_counts_401_as_reachable(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer")
    upstream = await make_upstream(url)

    await upstream.ping()

    assert fake.token_requests == []


async def test_ping_failure(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=502)

    upstream = await make_upstream(await serve(_app("/v2/", handler)))

    with pytest.raises(UpstreamError) as caught:
        await upstream.ping()
    assert caught.value.kind is UpstreamErrorKind.UNAVAILABLE
