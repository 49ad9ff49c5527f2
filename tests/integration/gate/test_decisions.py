"""The gate end to end: real upstream, real clients, policies as an operator writes them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from db.quarantine_queries import QuarantineStatus
from proxy.oci.digest import Digest
from tests.support.images import ImageFactory, artifact_manifest
from tests.support.proc import ToolError
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT, skopeo_copy
from tests.support.registry import RunningRegistry

POLICY = """
default_action: deny
rules:
  - {id: apps, match: {repository: "team/**"}, action: allow}
  - {id: no-bad-tag, match: {repository: "team/**", tag: "bad*"}, action: deny, description: known bad build}
  - {id: vendor-review, match: {repository: "vendor/**"}, action: quarantine, owner: security}
  - {id: legacy-warn, match: {repository: "team/legacy"}, action: deny, mode: warn, description: legacy is retired}
  - {id: forbidden, match: {repository: "forbidden/**"}, action: deny, description: not for production}
"""


async def _get(
    pullgate: Pullgate | str, path: str, method: str = "GET", **headers: str
) -> tuple[int, Any, bytes]:
    base = pullgate if isinstance(pullgate, str) else pullgate.url
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{base}{path}", headers=headers) as r,
    ):
        return r.status, r.headers, await r.read()


def _error(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["errors"][0]
    return error


@pytest.fixture
async def world(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> tuple[Pullgate, RunningRegistry, dict[str, Any]]:
    images = {
        "team/app:1": image_factory.image(),
        "team/app:bad-1": image_factory.image(),
        "team/legacy:1": image_factory.image(),
        "vendor/tool:1": image_factory.image(),
        "forbidden/x:1": image_factory.image(),
        "other/y:1": image_factory.image(),
    }
    for ref, image in images.items():
        repo, tag = ref.split(":")
        await push_to(upstream_registry, repo, image, tag)
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)], policy=POLICY, gate={"decision_cache_ttl": 300}
    )
    return pullgate, upstream_registry, images


async def test_allowed_denied_warned(world) -> None:
    pullgate, _, images = world
    status, _, body = await _get(pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == images["team/app:1"].manifest_bytes

    status, _, body = await _get(pullgate, "/v2/forbidden/x/manifests/1", Accept=MANIFEST_ACCEPT)
    error = _error(body)
    assert status == 403 and error["code"] == "DENIED"
    assert "rule forbidden (deny)" in error["message"] and "not for production" in error["message"]
    assert images["forbidden/x:1"].digest in error["message"]
    assert error["detail"]["decision_id"] in error["message"]
    assert error["detail"]["reasons"][0]["rule_id"] == "forbidden"

    status, _, body = await _get(pullgate, "/v2/other/y/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 403 and "no policy rule matches" in _error(body)["message"]

    status, headers, body = await _get(pullgate, "/v2/team/legacy/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == images["team/legacy:1"].manifest_bytes
    warning = headers["Warning"]
    assert warning.startswith('299 - "') and "legacy-warn" in warning and "legacy is retired" in warning


async def test_no_bypass(world) -> None:
    pullgate, registry, images = world
    denied = images["forbidden/x:1"]
    bad = images["team/app:bad-1"]
    layer = denied.layer_digests[0]
    assert (await _get(pullgate, "/v2/forbidden/x/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 403
    assert (await _get(pullgate, "/v2/team/app/manifests/bad-1", Accept=MANIFEST_ACCEPT))[0] == 403
    attempts = [
        ("GET", f"/v2/forbidden/x/manifests/{denied.digest}"),  # by digest
        ("HEAD", "/v2/forbidden/x/manifests/1"),  # by HEAD
        ("HEAD", f"/v2/forbidden/x/manifests/{denied.digest}"),
        ("GET", f"/v2/forbidden/x/blobs/{layer}"),  # its blobs
        ("HEAD", f"/v2/forbidden/x/blobs/{layer}"),
        ("GET", f"/v2/team/app/blobs/{layer}"),  # its blob through an allowed repository
        ("GET", f"/v2/team/app/manifests/{denied.digest}"),  # its manifest through an allowed repository
        (
            "GET",
            f"/v2/{registry.host}/forbidden/x/manifests/1",
        ),  # upstream alias spelled out (not a path prefix)
        ("GET", f"/v2/forbidden/x/manifests/1?ns={registry.host}"),  # explicit ns
        ("GET", "/v2/forbidden/x/manifests/1?ns=docker.io"),  # spoofed ns
        ("GET", "/v2/Forbidden/x/manifests/1"),  # case tricks
        ("GET", "/v2/forbidden%2Fx/manifests/1"),  # percent-encoding tricks
        ("GET", "/v2/forbidden/./x/manifests/1"),
        ("GET", f"/v2/team/app/manifests/{bad.digest}"),  # a denied tag's image by digest
        ("GET", f"/v2/team/app/blobs/{bad.layer_digests[0]}"),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path in attempts:
            url = aiohttp.client.URL(f"{pullgate.url}{path}", encoded=True)
            async with session.request(method, url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
                body = await resp.read()
                assert resp.status >= 400, (method, path, resp.status)
                assert denied.manifest_bytes not in body and bad.manifest_bytes not in body
                assert denied.all_blobs[layer] not in body
    # Names are not content: the tags list and the referrers list give no bytes of the image.
    status, _, body = await _get(pullgate, "/v2/forbidden/x/tags/list")
    assert denied.manifest_bytes not in body
    status, _, body = await _get(pullgate, f"/v2/forbidden/x/referrers/{denied.digest}")
    assert status == 200 and json.loads(body)["manifests"] == []


async def test_quarantine_until_released_then_rejected(world) -> None:
    pullgate, _, images = world
    image = images["vendor/tool:1"]
    status, _, body = await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT)
    error = _error(body)
    assert status == 403 and "quarantined pending review" in error["message"]
    quarantine = pullgate.services.stores.quarantine
    entries, _ = await quarantine.list_quarantine(QuarantineStatus.PENDING, 10)
    assert [(e.repository, e.digest, e.decision_id) for e in entries] == [
        ("vendor/tool", image.digest, error["detail"]["decision_id"])
    ]
    assert (await _get(pullgate, f"/v2/vendor/tool/blobs/{image.layer_digests[0]}"))[0] == 403
    await quarantine.release(entries[0].id, "alice", "reviewed CVE list", None)
    await pullgate.services.stores.policies.bump()
    pullgate.services.gate.forget()
    status, _, body = await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == image.manifest_bytes
    assert (await _get(pullgate, f"/v2/vendor/tool/blobs/{image.layer_digests[0]}"))[0] == 200
    await quarantine.reject(entries[0].id, "bob", "licence problem")
    await pullgate.services.stores.policies.bump()
    pullgate.services.gate.forget()
    status, _, body = await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT)
    assert (
        status == 403
        and "rejected by bob" in _error(body)["message"]
        and "licence problem" in _error(body)["message"]
    )


async def test_a_rule_change_takes_effect_at_once(world) -> None:
    pullgate, _, _ = world
    assert (await _get(pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 200
    version = await pullgate.apply_policy(
        POLICY + "  - {id: stop-app, match: {repository: team/app}, action: deny}\n"
    )
    status, _, body = await _get(pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 403 and "rule stop-app" in _error(body)["message"]
    assert _error(body)["detail"]["policy_version"] == version


async def test_every_decision_is_audited(world) -> None:
    pullgate, _, images = world
    for path in ("/v2/team/app/manifests/1", "/v2/forbidden/x/manifests/1", "/v2/team/legacy/manifests/1"):
        await _get(pullgate, path, Accept=MANIFEST_ACCEPT, **{"User-Agent": "audit-test/1.0"})
    await _get(
        pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT
    )  # a reused decision is audited too
    audit = pullgate.services.stores.audit
    for _ in range(50):
        events, _ = await audit.query_events(kind="pull", limit=100)
        if len(events) >= 4:
            break
        await asyncio.sleep(0.1)
    by_repo = sorted((e.repository, e.outcome) for e in events)
    assert by_repo == [
        ("forbidden/x", "deny"),
        ("team/app", "allow"),
        ("team/app", "allow"),
        ("team/legacy", "warn"),
    ]
    denied = next(e for e in events if e.repository == "forbidden/x")
    assert denied.digest == images["forbidden/x:1"].digest and denied.reference == "1"
    assert denied.user_agent == "audit-test/1.0" and denied.client_address == "127.0.0.1"
    assert list(denied.rule_ids) == ["forbidden"] and denied.policy_version is not None
    pullers, _ = await audit.who_pulled(images["team/app:1"].digest, 10)
    assert [(p.client_address, p.pulls) for p in pullers] == [("127.0.0.1", 2)]


async def test_index_and_platform_specific_deny(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    index = image_factory.index()
    arm = index.child("linux/arm64")
    await push_to(upstream_registry, "team/multi", index, "1")
    policy = (
        POLICY
        + f'  - {{id: no-arm, match: {{repository: team/multi, digest: "{arm.digest}"}}, action: deny}}\n'
    )
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], policy=policy)
    assert (await _get(pullgate, "/v2/team/multi/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 200
    amd = index.child("linux/amd64")
    assert (await _get(pullgate, f"/v2/team/multi/manifests/{amd.digest}", Accept=MANIFEST_ACCEPT))[0] == 200
    status, _, body = await _get(pullgate, f"/v2/team/multi/manifests/{arm.digest}", Accept=MANIFEST_ACCEPT)
    assert status == 403 and "rule no-arm" in _error(body)["message"]
    # A child is decided as its image: a tag rule on the index's tag applies to every platform.
    await push_to(upstream_registry, "team/multi", index, "bad-2")
    assert (await _get(pullgate, "/v2/team/multi/manifests/bad-2", Accept=MANIFEST_ACCEPT))[0] == 403
    pullgate.services.gate.forget()
    status, _, body = await _get(pullgate, f"/v2/team/multi/manifests/{amd.digest}", Accept=MANIFEST_ACCEPT)
    assert status == 403 and "rule no-bad-tag" in _error(body)["message"]


async def test_signatures_of_a_denied_image_stay_readable(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image()
    signature = artifact_manifest(
        image, artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json", payload=b'{"critical": {}}'
    )
    await push_to(upstream_registry, "forbidden/x", image, "1")
    await push_to(upstream_registry, "forbidden/x", signature)
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], policy=POLICY)
    assert (await _get(pullgate, "/v2/forbidden/x/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 403
    status, _, body = await _get(
        pullgate, f"/v2/forbidden/x/manifests/{signature.digest}", Accept=MANIFEST_ACCEPT
    )
    assert status == 200 and body == signature.manifest_bytes
    payload = json.loads(body)["layers"][0]["digest"]
    assert (await _get(pullgate, f"/v2/forbidden/x/blobs/{payload}"))[0] == 200
    assert (await _get(pullgate, f"/v2/forbidden/x/blobs/{image.layer_digests[0]}"))[0] == 403


async def test_fail_closed_when_the_database_fails(world) -> None:
    pullgate, _, _ = world
    assert (await _get(pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 200
    engine_url = pullgate.settings.database.url
    engine = create_async_engine(engine_url)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE policy_state")
    await engine.dispose()
    pullgate.services.gate.forget()
    status, _, body = await _get(pullgate, "/v2/team/app/manifests/1", Accept=MANIFEST_ACCEPT)
    error = _error(body)
    assert status == 403 and error["code"] == "DENIED" and "could not decide" in error["message"]


async def test_clients_print_the_denial(world, tmp_path) -> None:
    pullgate, _, _ = world
    await skopeo_copy(f"docker://{pullgate.host}/team/app:1", f"dir:{tmp_path / 'ok'}")
    with pytest.raises(ToolError) as failed:
        await skopeo_copy(f"docker://{pullgate.host}/forbidden/x:1", f"dir:{tmp_path / 'no'}")
    assert "rule forbidden (deny)" in str(failed.value) and "decision" in str(failed.value)


async def test_released_exceptions_expire_and_prefetch_fills_the_cache(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image(300_000, layers=2)
    await push_to(upstream_registry, "vendor/tool", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)], policy=POLICY, gate={"quarantine_prefetch_blobs": True}
    )
    assert (await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 403
    store = pullgate.services.gate.mirror.blobs.store
    for _ in range(100):  # the quarantined image's blobs arrive in the background
        if all([await store.stat(Digest.parse(d)) is not None for d in image.layer_digests]):
            break
        await asyncio.sleep(0.05)
    assert all([await store.stat(Digest.parse(d)) is not None for d in image.layer_digests])
    quarantine = pullgate.services.stores.quarantine
    (entry,), _ = await quarantine.list_quarantine(QuarantineStatus.PENDING, 10)
    await quarantine.release(entry.id, "alice", "trial", datetime.now(UTC) + timedelta(seconds=1))
    pullgate.services.gate.forget()
    assert (await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT))[0] == 200
    await asyncio.sleep(1.2)
    pullgate.services.gate.forget()
    status, _, body = await _get(pullgate, "/v2/vendor/tool/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 403 and "quarantined" in _error(body)["message"], "the exception expired"
    (again,), _ = await quarantine.list_quarantine(QuarantineStatus.PENDING, 10)
    assert again.id == entry.id, "back in the review queue"
