"""Real container runtimes pulling through pullgate: containerd's ctr and podman."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay
from tests.support.runtimes import Containerd, ctr_pull, make_podman, podman_pull, write_hosts_dir

pytestmark = pytest.mark.e2e


async def test_ctr_pulls_through_pullgate_with_ns(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    index = image_factory.index()
    big = image_factory.image(12 * 1024 * 1024, layers=2)
    await push_to(upstream_registry, "library/demo", index, "1")
    await push_to(upstream_registry, "library/demo", big, "big")
    # Name the upstream by a host that is not where it listens: pullgate must route by ns.
    pullgate = await make_pullgate([upstream_entry(upstream_registry, name="registry.test")])
    with Relay(pullgate.url) as front:  # records what ctr sent to pullgate
        hosts = tmp_path / "hosts"
        write_hosts_dir(hosts, "registry.test", front.host)
        await ctr_pull(containerd, "registry.test/library/demo:1", hosts)
        await ctr_pull(containerd, "registry.test/library/demo:big", hosts)
        requests = front.requests
    assert requests, "ctr talked to pullgate"
    assert all("ns=registry.test" in r.query for r in requests if r.path.startswith("/v2/library/")), requests
    assert all(r.status in (200, 206) for r in requests), [(r.method, r.path, r.status) for r in requests]
    listed = await containerd.ctr("image", "ls", "-q")
    assert (
        "registry.test/library/demo:1" in listed.stdout and "registry.test/library/demo:big" in listed.stdout
    )
    assert await pullgate.metric("pullgate_cache_misses", kind="blob") >= 3


async def test_podman_pulls_through_a_location_rewrite_with_a_path(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    image = image_factory.image(3 * 1024 * 1024, layers=2)
    await push_to(upstream_registry, "team/app", image, "1")
    other = upstream_entry("http://127.0.0.1:9", name="default.test")
    pullgate = await make_pullgate(
        [other, upstream_entry(upstream_registry, name="registry.test", default=False)]
    )
    # podman rewrites registry.test/... to pullgate/registry.test/..., routed by the path prefix.
    with make_podman(tmp_path / "podman", {"registry.test": f"{pullgate.host}/registry.test"}) as podman:
        await podman_pull(podman, "registry.test/team/app:1")
        images = await podman.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert "registry.test/team/app:1" in images.stdout
    assert await pullgate.metric("pullgate_http_requests", route="blobs", status="200") >= 3


GATE_POLICY = """
default_action: deny
rules:
  - {id: apps, match: {repository: "team/**"}, action: allow}
  - {id: forbidden, match: {repository: "forbidden/**"}, action: deny, description: not for production}
"""


async def test_ctr_with_pullgate_as_server_cannot_fall_back(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    allowed, denied = image_factory.image(), image_factory.image()
    await push_to(upstream_registry, "team/app", allowed, "1")
    await push_to(upstream_registry, "forbidden/x", denied, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)], policy=GATE_POLICY)
    hosts = tmp_path / "hosts"
    # The runtime asks for the real registry by name; hosts.toml makes pullgate its only server.
    write_hosts_dir(hosts, upstream_relay.host, pullgate.host)
    await ctr_pull(containerd, f"{upstream_relay.host}/team/app:1", hosts)
    failed = await ctr_pull(containerd, f"{upstream_relay.host}/forbidden/x:1", hosts, check=False)
    assert failed.returncode != 0
    assert "rule forbidden (deny)" in failed.stderr and "not for production" in failed.stderr
    # Nothing of the denied image left the upstream except the manifest pullgate judged.
    assert not any(r.path.startswith("/v2/forbidden/x/blobs/") for r in upstream_relay.requests)
    listed = await containerd.ctr("image", "ls", "-q")
    assert "forbidden/x" not in listed.stdout and "team/app:1" in listed.stdout


async def test_podman_prints_the_denial(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "forbidden/x", image_factory.image(), "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry, name="registry.test")], policy=GATE_POLICY
    )
    with make_podman(tmp_path / "podman", {"registry.test": pullgate.host}) as podman:
        failed = await podman_pull(podman, "registry.test/forbidden/x:1", check=False)
    assert failed.returncode != 0
    assert "rule forbidden (deny)" in failed.stderr and "decision" in failed.stderr
