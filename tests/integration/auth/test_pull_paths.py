"""Scopes are enforced on every pull path, against the routed registry and repository:
manifests, blobs, tags, referrers, GET and HEAD, by tag and digest, through ?ns=, a path
prefix and the default upstream (with Docker Hub's library/ normalisation)."""

from __future__ import annotations

import base64
import json

from tests.integration.auth.conftest import AuthWorld, MakeAuthWorld, basic, call
from tests.support.pullgate import upstream_entry
from tests.support.registry import RunningRegistry


async def _two_names(make_auth_world: MakeAuthWorld, upstream: RunningRegistry) -> AuthWorld:
    # One real registry under two names: docker.io (the default) and registry.test.
    return await make_auth_world(
        upstreams=[
            upstream_entry(upstream, name="docker.io"),
            upstream_entry(upstream, name="registry.test", default=False),
        ]
    )


async def test_the_ping_challenges_and_accepts_any_valid_robot(
    make_auth_world: MakeAuthWorld, upstream_registry: RunningRegistry
) -> None:
    world = await _two_names(make_auth_world, upstream_registry)
    secret = await world.robot("ci", "nothing/here")
    anonymous = await call(world.url("/v2/"))
    assert anonymous.status == 401
    assert anonymous.error["code"] == "UNAUTHORIZED"
    assert anonymous.challenge == f'Bearer realm="{world.pullgate.url}/auth/token",service="pullgate"'
    assert (await call(world.url("/v2/"), authorization=basic("ci", secret))).status == 200


async def test_every_pull_path_is_gated_by_the_routed_repository(
    make_auth_world: MakeAuthWorld, upstream_registry: RunningRegistry
) -> None:
    world = await _two_names(make_auth_world, upstream_registry)
    image = await world.push("team/app", "1")
    await world.push("library/alpine", "3")
    ci = basic("ci", await world.robot("ci", "team/**", registry="registry.test"))
    hub = basic("hub", await world.robot("hub", "library/*", registry="docker.io"))
    blob = image.layer_digests[0]
    for prefix, query in (("/v2/registry.test/team/app", ""), ("/v2/team/app", "?ns=registry.test")):
        for method, path in (
            ("GET", f"/manifests/1{query}"),
            ("HEAD", f"/manifests/1{query}"),
            ("GET", f"/manifests/{image.digest}{query}"),
            ("GET", f"/blobs/{blob}{query}"),
            ("HEAD", f"/blobs/{blob}{query}"),
            ("GET", f"/tags/list{query}"),
            ("GET", f"/referrers/{image.digest}{query}"),
        ):
            url = world.url(prefix + path)
            assert (await call(url, method=method, authorization=ci)).status == 200, (method, url)
            refused = await call(url, method=method, authorization=hub)
            assert refused.status == 403, (method, url)
            if method == "GET":
                assert refused.error["code"] == "DENIED"
                assert refused.error["message"].startswith("robot 'hub' may not pull registry.test/team/app")
                assert refused.error["detail"] == {
                    "robot": "hub",
                    "registry": "registry.test",
                    "repository": "team/app",
                }
            anonymous = await call(url, method=method)
            assert anonymous.status == 401, (method, url)
            assert 'scope="repository:registry.test/team/app:pull"' in anonymous.challenge
    # The default upstream is docker.io: the same path names another registry's repository.
    default = await call(world.url("/v2/team/app/manifests/1"), authorization=ci)
    assert default.status == 403
    assert "robot 'ci' may not pull docker.io/team/app" in default.error["message"]
    assert image.digest.encode() not in default.body
    anonymous = await call(world.url("/v2/team/app/manifests/1"))
    assert 'scope="repository:team/app:pull"' in anonymous.challenge
    # Docker Hub's short names are normalised before the scope is checked.
    assert (await call(world.url("/v2/alpine/manifests/3"), authorization=hub)).status == 200
    denied = await call(world.url("/v2/alpine/manifests/3"), authorization=ci)
    assert "robot 'ci' may not pull docker.io/library/alpine" in denied.error["message"]


async def test_anonymous_pulls_of_configured_repositories(make_auth_world: MakeAuthWorld) -> None:
    world = await make_auth_world(pull_auth={"anonymous": [{"repository": "public/**"}]})
    await world.push("public/base", "1")
    await world.push("private/app", "1")
    assert (await call(world.url("/v2/public/base/manifests/1"))).status == 200
    assert (await call(world.url("/v2/private/app/manifests/1"))).status == 401
    assert (await call(world.url("/v2/"))).status == 401  # clients still learn where tokens come from
    # An anonymous token grants what anyone may pull, and nothing else.
    token = await world.token("repository:public/base:pull", "repository:private/app:pull")
    claims = json.loads(_payload(token))
    assert claims["sub"] == "" and [a["name"] for a in claims["access"]] == [f"{world.registry}/public/base"]
    private = await call(world.url("/v2/private/app/manifests/1"), authorization=f"Bearer {token}")
    assert private.status == 401 and 'error="insufficient_scope"' in private.challenge
    assert "authentication required" in private.error["message"]
    assert (await call(world.url("/v2/"), authorization=f"Bearer {token}")).status == 200


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
