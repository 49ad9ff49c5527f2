"""Container runtimes authenticating to pullgate as robot accounts: containerd (ctr --user,
its OAuth2 POST to the token endpoint) and podman (--creds, the GET token flow)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay
from tests.support.runtimes import Containerd, ctr_pull, make_podman, podman_pull, write_hosts_dir

pytestmark = pytest.mark.e2e

PULL_AUTH = {"pull_auth": {"enabled": True}, "gate": {"audit_flush_interval": 0.02}}


async def _robot(pullgate: Pullgate, name: str, repository: str) -> str:
    scopes = [{"registry": "*", "repository": repository}]
    _, secret = await pullgate.services.stores.robots.create(name, owner="e2e", scopes=scopes)
    return secret


async def _pulled_by(pullgate: Pullgate, identity: str, count: int = 1) -> set[str]:
    for _ in range(250):
        rows, _ = await pullgate.services.stores.audit.query_events(client=identity, kind="pull")
        if len(rows) >= count:
            return {row.repository or "" for row in rows}
        await asyncio.sleep(0.02)
    raise AssertionError(f"no pull audited for {identity}")


async def test_ctr_pulls_as_a_robot_through_the_oauth2_token_flow(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "team/app", image_factory.image(2 * 1024 * 1024, layers=2), "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry, name="registry.test")], **PULL_AUTH)
    secret = await _robot(pullgate, "nodes", "team/**")
    hosts = tmp_path / "hosts"
    with Relay(pullgate.url) as front:  # records what containerd sent
        write_hosts_dir(hosts, "registry.test", front.host)
        refused = await ctr_pull(containerd, "registry.test/team/app:1", hosts, check=False)
        assert refused.returncode != 0 and "authorization failed" in refused.stderr, refused.stderr
        await ctr_pull(containerd, "registry.test/team/app:1", hosts, user=f"nodes:{secret}")
        requests = front.requests
    # containerd sends credentials with the OAuth2 POST form (the challenge's realm is pullgate's own).
    assert await pullgate.metric("pullgate_http_requests", route="token", method="POST", status="200") >= 1
    assert all(r.status in (200, 206) for r in requests if r.path.startswith("/v2/team/") and r.status != 401)
    assert "registry.test/team/app:1" in (await containerd.ctr("image", "ls", "-q")).stdout
    assert await _pulled_by(pullgate, "robot:nodes") == {"team/app"}


async def test_podman_pulls_with_creds_or_an_auth_file_and_is_refused_without_scope(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "team/app", image_factory.image(), "1")
    await push_to(upstream_registry, "team/lib", image_factory.image(), "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry, name="registry.test")], **PULL_AUTH)
    secret = await _robot(pullgate, "ci", "team/**")
    other = await _robot(pullgate, "other", "elsewhere/**")
    with make_podman(tmp_path / "podman", {"registry.test": pullgate.host}) as podman:
        direct = f"{pullgate.host}/team/app:1"
        denied = await podman_pull(podman, direct, creds=f"other:{other}", check=False)
        await podman_pull(podman, direct, creds=f"ci:{secret}")
        # Through a registries.conf rewrite podman 4.3 ignores --creds and looks credentials
        # up by the rewritten location: the auth file entry a node would carry.
        auth = base64.b64encode(f"ci:{secret}".encode()).decode()
        auth_file = podman.tmpdir / "auth.json"
        auth_file.write_text(json.dumps({"auths": {pullgate.host: {"auth": auth}}}))
        await podman_pull(podman, "registry.test/team/lib:1")
        images = await podman.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert denied.returncode != 0
    assert "robot 'other' may not pull registry.test/team/app" in denied.stderr, denied.stderr
    assert f"{pullgate.host}/team/app:1" in images.stdout and "registry.test/team/lib:1" in images.stdout
    assert await _pulled_by(pullgate, "robot:ci", 2) == {"team/app", "team/lib"}
