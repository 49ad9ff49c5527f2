"""The files `pullgate runtime-config` generates, installed into real runtimes (ctr, podman).

Each test names the real registry (the upstream behind a counting relay) the way a node
would, installs only what the command wrote, and pulls: the allowed image arrives through
pullgate, and the denied one cannot be obtained at all. A runtime that fell back to the
registry it was asked for would fetch the denied image's blobs from the relay; none arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

import pytest

from proxy.runtime_config import add_runtime_config_command, path_segment, run_runtime_config
from tests.support.fixtures import PushTo
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay
from tests.support.runtimes import Containerd, ctr_pull, make_podman

pytestmark = pytest.mark.e2e

GATE_POLICY = """
default_action: deny
rules:
  - {id: apps, match: {repository: "team/**"}, action: allow}
  - {id: forbidden, match: {repository: "forbidden/**"}, action: deny, description: not for production}
"""


def generate(runtime: str, url: str, registries: str, output: Path) -> Path:
    """Run the command as an operator would, writing under ``output``."""
    parser = argparse.ArgumentParser()
    add_runtime_config_command(parser.add_subparsers(dest="command"), lambda _: None)
    args = parser.parse_args(
        ["runtime-config", runtime, "--url", url, "--registries", registries, "--output", str(output)]
    )
    assert run_runtime_config(args) == 0
    return output


def blob_requests(relay: Relay, repository: str) -> list[str]:
    return [r.path for r in relay.requests if r.path.startswith(f"/v2/{repository}/blobs/")]


@pytest.mark.parametrize("listed", [True, False], ids=["own-directory", "default-directory"])
async def test_ctr_with_generated_hosts_pulls_only_through_pullgate(
    listed: bool,
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to: PushTo,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "team/app", image_factory.image(layers=2), "1")
    await push_to(upstream_registry, "forbidden/x", image_factory.image(), "1")
    registry = upstream_relay.host  # the name nodes pull by is the real registry's address
    pullgate = await make_pullgate([upstream_entry(upstream_relay.url)], policy=GATE_POLICY)
    # Unlisted, the registry is covered by certs.d/_default alone.
    listed_names = registry if listed else "docker.io"
    hosts = generate("containerd", pullgate.url, listed_names, tmp_path / "out") / "certs.d"
    assert (hosts / registry / "hosts.toml").is_file() is listed
    # No --plain-http: the generated hosts.toml alone says how to reach pullgate.
    await ctr_pull(containerd, f"{registry}/team/app:1", hosts, plain_http=False)
    failed = await ctr_pull(containerd, f"{registry}/forbidden/x:1", hosts, plain_http=False, check=False)
    assert failed.returncode != 0
    assert "rule forbidden (deny)" in failed.stderr and "not for production" in failed.stderr
    assert blob_requests(upstream_relay, "team/app"), "the allowed image came from upstream via pullgate"
    assert not blob_requests(upstream_relay, "forbidden/x"), "no fallback to the real registry"
    listed_images = (await containerd.ctr("image", "ls", "-q")).stdout
    assert f"{registry}/team/app:1" in listed_images and "forbidden/x" not in listed_images


async def test_podman_with_generated_registries_conf_pulls_only_through_pullgate(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to: PushTo,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "team/app", image_factory.image(layers=2), "1")
    await push_to(upstream_registry, "team/tool", image_factory.image(), "2")
    await push_to(upstream_registry, "forbidden/x", image_factory.image(), "1")
    registry = upstream_relay.host  # host:port: routed through the alias the command asks for
    pullgate = await make_pullgate(
        [
            upstream_entry(upstream_relay.url, aliases=[path_segment(registry)]),
            upstream_entry(upstream_registry, name="registry.test", default=False),
        ],
        policy=GATE_POLICY,
    )
    out = generate("podman", pullgate.url, f"{registry},registry.test", tmp_path / "out")
    with make_podman(tmp_path / "podman") as podman:
        podman.registries_conf.write_text((out / "registries.conf").read_text())
        # No --tls-verify=false: the generated `insecure = true` alone allows plain HTTP.
        pull = ("pull", "--signature-policy", str(podman.policy_path))
        await podman.run(*pull, f"{registry}/team/app:1")
        await podman.run(*pull, "registry.test/team/tool:2")
        failed = await podman.run(*pull, f"{registry}/forbidden/x:1", check=False)
        images = (await podman.run("images", "--format", "{{.Repository}}:{{.Tag}}")).stdout
        digests = (await podman.run("images", "--digests", "--format", "{{.Digest}}")).stdout.split()
    assert failed.returncode != 0
    assert "rule forbidden (deny)" in failed.stderr
    assert f"{registry}/team/app:1" in images and "registry.test/team/tool:2" in images
    assert "forbidden/x" not in images
    assert blob_requests(upstream_relay, "team/app"), "the allowed image came from upstream via pullgate"
    assert not blob_requests(upstream_relay, "forbidden/x"), "no fallback to the real registry"
    # The bypass check of docs/runtimes.md: what podman lists, pullgate audited.
    assert digests and all([await pulled_through_pullgate(pullgate, digest) for digest in digests])


async def pulled_through_pullgate(pullgate: Pullgate, digest: str, *, wait: float = 5.0) -> bool:
    """Whether pullgate's audit log has a pull of ``digest`` (GET /api/v1/audit/pulls?digest=)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait  # the audit writer flushes in batches (gate.audit_flush_interval)
    while True:
        pullers, _ = await pullgate.services.stores.audit.who_pulled(digest, 10)
        if pullers or loop.time() >= deadline:
            return bool(pullers)
        await asyncio.sleep(0.1)


async def test_bypass_check_finds_an_image_that_did_not_come_through_pullgate(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to: PushTo,
    tmp_path: Path,
) -> None:
    """docs/runtimes.md: every digest on the node must have a pull in pullgate's audit log."""
    gated, smuggled = image_factory.index(), image_factory.image()
    await push_to(upstream_registry, "team/app", gated, "1")
    await push_to(upstream_registry, "team/side", smuggled, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay.url)], policy=GATE_POLICY)
    hosts = generate("containerd", pullgate.url, upstream_relay.host, tmp_path / "out") / "certs.d"
    await ctr_pull(containerd, f"{upstream_relay.host}/team/app:1", hosts, plain_http=False)
    # A bypass: the same node pulling straight from the registry (no hosts.toml for it).
    await ctr_pull(containerd, f"{upstream_registry.host}/team/side:1", tmp_path / "empty")
    listing = (await containerd.ctr("image", "ls")).stdout
    on_node = dict(re.findall(r"^(\S+)\s+\S+\s+(sha256:[0-9a-f]{64})", listing, re.MULTILINE))
    assert on_node[f"{upstream_relay.host}/team/app:1"] == gated.digest  # the index digest
    assert await pulled_through_pullgate(pullgate, gated.digest)  # waits for the audit flush
    unexplained = [
        ref for ref, digest in on_node.items() if not await pulled_through_pullgate(pullgate, digest, wait=0)
    ]
    assert unexplained == [f"{upstream_registry.host}/team/side:1"]


# Controls: the same checks against pullgate listed as a plain *mirror* (what the generated
# files avoid). Both runtimes fall back to the real registry on the 403, so the relay sees the
# denied image's blobs: the "no blob requests" assertions above can fail, and would.
async def test_control_ctr_with_pullgate_as_mirror_falls_back(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to: PushTo,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "forbidden/x", image_factory.image(), "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay.url)], policy=GATE_POLICY)
    registry = upstream_relay.host
    (tmp_path / "hosts" / registry).mkdir(parents=True)
    (tmp_path / "hosts" / registry / "hosts.toml").write_text(
        f'server = "http://{registry}"\n\n[host."{pullgate.url}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    await ctr_pull(containerd, f"{registry}/forbidden/x:1", tmp_path / "hosts", plain_http=False)
    assert blob_requests(upstream_relay, "forbidden/x"), "the mirror was bypassed"


async def test_control_podman_with_pullgate_as_mirror_falls_back(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to: PushTo,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "forbidden/x", image_factory.image(), "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay.url)], policy=GATE_POLICY)
    registry = upstream_relay.host
    with make_podman(tmp_path / "podman") as podman:
        podman.registries_conf.write_text(
            f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n\n'
            f'[[registry.mirror]]\nlocation = "{pullgate.host}"\ninsecure = true\n'
        )
        await podman.run("pull", "--signature-policy", str(podman.policy_path), f"{registry}/forbidden/x:1")
    assert blob_requests(upstream_relay, "forbidden/x"), "the mirror was bypassed"
