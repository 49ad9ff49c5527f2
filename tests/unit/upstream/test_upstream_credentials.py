"""Credentials that change while pullgate runs: stored ones replace the settings', tokens obtained
with the old ones are dropped, and an upstream whose stored credentials cannot be opened refuses."""

from __future__ import annotations

import asyncio

import pytest

from proxy.oci.reference import RepositoryName
from proxy.upstream import Credentials, UpstreamError, UpstreamErrorKind
from tests.unit.upstream.conftest import basic_header

ALPINE = RepositoryName.parse("library/alpine")
MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}


async def test_stored_credentials_replace_the_settings_and_drop_their_tokens(
    start_registry, make_upstream
) -> None:
    fake, url = await start_registry(auth="bearer", token_needs_credentials=True)
    fake.add_manifest("library/alpine", "latest", MANIFEST)
    upstream = await make_upstream(url, username="old-user", password="old-password")
    assert upstream.credentials.in_use == "settings"
    with pytest.raises(UpstreamError):  # the settings' credentials are wrong here
        await upstream.get_manifest(ALPINE, "latest")

    upstream.credentials.use_stored(Credentials(fake.username, fake.password))
    await upstream.get_manifest(ALPINE, "latest")
    await upstream.get_manifest(ALPINE, "latest")
    assert upstream.credentials.in_use == "stored" and upstream.credentials.username == fake.username
    fetched = [seen.authorization for seen in fake.token_requests]
    assert fetched[-1] == basic_header(fake.username, fake.password) and len(fetched) == 2

    # The same credentials again (a rotation re-sealed them): the cached token stays.
    upstream.credentials.use_stored(Credentials(fake.username, fake.password))
    await upstream.get_manifest(ALPINE, "latest")
    assert len(fake.token_requests) == 2

    # New credentials: the token the old ones obtained is not sent again.
    (old_token,) = fake.issued
    fake.password = "rotated-password"
    upstream.credentials.use_stored(Credentials(fake.username, "rotated-password"))
    before = len(fake.requests)
    await upstream.get_manifest(ALPINE, "latest")
    assert len(fake.token_requests) == 3
    assert all(seen.authorization != f"Bearer {old_token}" for seen in fake.requests[before:])

    upstream.credentials.use_stored(None)  # deleted: back to the settings'
    assert upstream.credentials.in_use == "settings" and upstream.credentials.username == "old-user"


async def test_a_token_fetched_with_replaced_credentials_is_not_kept(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="bearer", token_delay=0.2)
    fake.add_manifest("library/alpine", "latest", MANIFEST)
    upstream = await make_upstream(url, username="a", password="first")
    pending = asyncio.create_task(upstream.get_manifest(ALPINE, "latest"))
    while not fake.token_requests:
        await asyncio.sleep(0.01)
    upstream.credentials.use_stored(Credentials("a", "second"))
    await pending  # the request made before the change completes with what it obtained...
    await upstream.get_manifest(ALPINE, "latest")
    # ...but its token is not reused: the next request fetched one with the new credentials.
    assert [seen.authorization for seen in fake.token_requests] == [
        basic_header("a", "first"),
        basic_header("a", "second"),
    ]


async def test_basic_upstream_switches_credentials(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="basic")
    fake.add_manifest("library/alpine", "latest", MANIFEST)
    upstream = await make_upstream(url, username=fake.username, password=fake.password)
    await upstream.get_manifest(ALPINE, "latest")
    fake.password = "changed"
    upstream.credentials.use_stored(Credentials(fake.username, "changed"))
    await upstream.get_manifest(ALPINE, "latest")
    assert fake.requests[-1].authorization == basic_header(fake.username, "changed")


async def test_unusable_credentials_refuse_every_request_until_fixed(start_registry, make_upstream) -> None:
    fake, url = await start_registry(auth="basic")
    fake.add_manifest("library/alpine", "latest", MANIFEST)
    upstream = await make_upstream(url, username=fake.username, password=fake.password)
    problem = "stored credentials of upstream upstream.test (key id 'k9') cannot be decrypted: key id 'k9' is not in the key ring"
    upstream.credentials.refuse(problem)
    sent = len(fake.requests)
    for call in (upstream.get_manifest(ALPINE, "latest"), upstream.ping()):
        with pytest.raises(UpstreamError) as caught:
            await call
        assert caught.value.kind is UpstreamErrorKind.CREDENTIALS and not caught.value.temporary
        assert caught.value.message == problem
    assert len(fake.requests) == sent, "nothing is sent, not even anonymously"
    assert upstream.credentials.in_use == "unusable" and upstream.credentials.problem == problem
    assert fake.password not in repr(upstream.credentials)

    upstream.credentials.use_stored(Credentials(fake.username, fake.password))
    await upstream.get_manifest(ALPINE, "latest")
    assert upstream.credentials.problem is None
