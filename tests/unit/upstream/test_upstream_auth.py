"""Authentication against upstreams: challenge parsing, the bearer token flow, Basic."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest
from aiohttp import web

from proxy.oci.reference import RepositoryName
from proxy.upstream import UpstreamError, UpstreamErrorKind
from proxy.upstream.auth import Challenge, parse_challenges

ALPINE = RepositoryName.parse("library/alpine")
BUSYBOX = RepositoryName.parse("library/busybox")
MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _with_images(fake):
    fake.add_manifest("library/alpine", "latest", MANIFEST)
    fake.add_manifest("library/busybox", "latest", MANIFEST)
    return fake


# -- WWW-Authenticate parsing ------------------------------------------------------------


def test_parses_bearer_challenge_with_quoted_commas() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push repository:c:pull"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "registry.example",
                "scope": "repository:a/b:pull,push repository:c:pull",
            },
        )
    ]


def test_parses_several_challenges_unquoted_values_and_escapes() -> None:
    header = r'Basic realm="say \"hi\", please", BEARER Realm=https://t.example/tok , error=bad_scope'
    challenges = parse_challenges([header, "Negotiate abc123=="])
    assert [c.scheme for c in challenges] == ["basic", "bearer", "negotiate"]
    assert challenges[0].params == {"realm": 'say "hi", please'}
    assert challenges[1].params == {"realm": "https://t.example/tok", "error": "bad_scope"}
    assert challenges[2].params == {}


@pytest.mark.parametrize("header", ["", "   ", ",,", 'Bearer realm="unterminated', "Bearer =oops"])
def test_malformed_challenges_do_not_crash(header: str) -> None:
    for challenge in parse_challenges([header]):
        assert challenge.scheme


# -- bearer tokens -----------------------------------------------------------------------


async def test_anonymous_token_fetched_once_and_reused(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer")
    _with_images(fake)
    upstream = await make_upstream(url)

    for _ in range(5):
        await upstream.get_manifest(ALPINE, "latest")

    assert len(fake.token_requests) == 1
    token_request = fake.token_requests[0]
    assert token_request.query == {"service": "fake.registry", "scope": "repository:library/alpine:pull"}
    assert token_request.authorization is None  # anonymous: no credentials configured
    # One 401 round trip, then the cached token is sent up front.
    statuses = [seen.authorization is None for seen in fake.registry_requests("/manifests/")]
    assert statuses == [True, False, False, False, False, False]


async def test_concurrent_requests_share_one_token_fetch(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer", token_delay=0.05)
    _with_images(fake)
    upstream = await make_upstream(url)

    await asyncio.gather(*(upstream.get_manifest(ALPINE, "latest") for _ in range(10)))

    assert len(fake.token_requests) == 1


async def test_tokens_are_cached_per_scope(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer")
    _with_images(fake)
    upstream = await make_upstream(url)

    await upstream.get_manifest(ALPINE, "latest")
    await upstream.get_manifest(BUSYBOX, "latest")
    await upstream.get_manifest(ALPINE, "latest")
    await upstream.head_manifest(BUSYBOX, "latest")

    scopes = [seen.query["scope"] for seen in fake.token_requests]
    assert scopes == ["repository:library/alpine:pull", "repository:library/busybox:pull"]


async def test_token_refetched_after_expiry(start_registry, make_upstream, clock) -> None:
    fake, url = await start_registry(auth="bearer", expires_in=60)
    _with_images(fake)
    upstream = await make_upstream(url, clock=clock)

    await upstream.get_manifest(ALPINE, "latest")
    clock.now += 45  # still comfortably valid
    await upstream.get_manifest(ALPINE, "latest")
    assert len(fake.token_requests) == 1

    clock.now += 10  # within the refresh margin before expiry: fetch a new one
    await upstream.get_manifest(ALPINE, "latest")
    assert len(fake.token_requests) == 2


async def test_default_lifetime_when_expires_in_missing(start_registry, make_upstream, clock) -> None:
    fake, url = await start_registry(auth="bearer", expires_in=None, token_field="access_token")
    _with_images(fake)
    upstream = await make_upstream(url, clock=clock)

    await upstream.get_manifest(ALPINE, "latest")
    clock.now += 30
    await upstream.get_manifest(ALPINE, "latest")
    clock.now += 31
    await upstream.get_manifest(ALPINE, "latest")

    assert len(fake.token_requests) == 2


async def test_credentialed_token_flow_sends_basic_to_realm(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer", token_needs_credentials=True)
    _with_images(fake)
    upstream = await make_upstream(url, username=fake.username, password=fake.password)

    manifest = await upstream.get_manifest(ALPINE, "latest")

    assert manifest.media_type == MANIFEST["mediaType"]
    expected = basic_header(fake.username, fake.password)
    assert [seen.authorization for seen in fake.token_requests] == [expected]
    # The password goes to the token endpoint only; the registry sees the token.
    assert all(expected != seen.authorization for seen in fake.requests)


async def test_revoked_cached_token_is_replaced_once(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer")
    _with_images(fake)
    upstream = await make_upstream(url)
    await upstream.get_manifest(ALPINE, "latest")

    fake.issued.clear()  # the upstream forgets every token it issued
    await upstream.get_manifest(ALPINE, "latest")

    assert len(fake.token_requests) == 2


async def test_wrong_credentials_at_token_endpoint(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer", token_needs_credentials=True)
    _with_images(fake)
    upstream = await make_upstream(url, username=fake.username, password="wrong-password")

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(ALPINE, "latest")

    assert caught.value.kind is UpstreamErrorKind.UNAUTHORIZED
    assert "wrong-password" not in str(caught.value)
    assert "token endpoint" in str(caught.value)


async def test_401_after_auth_is_unauthorized_and_leaks_nothing(
    start_registry, make_upstream, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, url = await start_registry(auth="bearer", reject_tokens=True)
    _with_images(fake)
    upstream = await make_upstream(url, username=fake.username, password=fake.password)

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(ALPINE, "latest")

    err = caught.value
    assert err.kind is UpstreamErrorKind.UNAUTHORIZED
    assert err.status == 401
    assert len(fake.token_requests) == 1
    assert len(fake.registry_requests("/manifests/")) == 2  # challenge, then one retry with the token
    (token,) = fake.issued
    texts = [
        str(err),
        repr(err),
        repr(upstream),
        repr(upstream._auth),
        repr(upstream._auth._tokens),
        caplog.text,
    ]
    for text in texts:
        assert token not in text
        assert fake.password not in text
    assert "upstream.test" in str(err)
    assert "/v2/library/alpine/manifests/latest" in str(err)


async def test_bearer_without_usable_realm_is_protocol_error(serve, make_upstream) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer service="x"'})

    app = web.Application()
    app.router.add_get("/v2/{tail:.*}", handler)
    upstream = await make_upstream(await serve(app))

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(ALPINE, "latest")
    assert caught.value.kind is UpstreamErrorKind.PROTOCOL


# -- Basic ---------------------------------------------------------------------------------


async def test_basic_auth_upstream(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="basic")
    _with_images(fake)
    upstream = await make_upstream(url, username=fake.username, password=fake.password)

    await upstream.get_manifest(ALPINE, "latest")
    await upstream.get_manifest(BUSYBOX, "latest")

    expected = basic_header(fake.username, fake.password)
    # After the first challenge, Basic is sent up front.
    assert [seen.authorization for seen in fake.requests] == [None, expected, expected]
    assert fake.token_requests == []


async def test_basic_challenge_without_credentials_is_unauthorized(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="basic")
    _with_images(fake)
    upstream = await make_upstream(url)

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(ALPINE, "latest")

    assert caught.value.kind is UpstreamErrorKind.UNAUTHORIZED
    assert caught.value.upstream_code == "UNAUTHORIZED"
    assert len(fake.requests) == 1
