"""Runtimes pulling through pullgate under a signature requirement: containerd's ctr (with
pullgate as its only server) and podman get the signed image and a readable refusal for the
unsigned one."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.support.cosign import (
    generate_key,
    public_pem,
    push_cosign_signatures,
    sign_payload,
    simple_signing_payload,
)
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.registry import RunningRegistry
from tests.support.runtimes import Containerd, ctr_pull, make_podman, podman_pull, write_hosts_dir

pytestmark = pytest.mark.e2e

SIGNED_POLICY = """
default_action: deny
rules:
  - {id: apps, match: {repository: "team/**"}, action: allow}
signature_requirements:
  - id: ci-signed
    match: {repository: "team/**"}
    authorities:
      - {name: ci, key: {trust: ci-key}, check_reference: true}
"""


async def test_runtimes_get_signed_images_and_a_reason_for_unsigned_ones(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    key = generate_key()
    signed, unsigned = image_factory.image(2 * 1024 * 1024), image_factory.image()
    await push_to(upstream_registry, "team/signed", signed, "1")
    await push_to(upstream_registry, "team/unsigned", unsigned, "1")
    payload = simple_signing_payload(f"{upstream_registry.host}/team/signed", signed.digest)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, upstream_registry.url, "team/signed", signed.digest, [sign_payload(key, payload)]
        )
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], policy=SIGNED_POLICY)
    await pullgate.services.stores.signing.put_material("ci-key", "public_key", public_pem(key))
    pullgate.services.gate.forget()

    hosts = tmp_path / "hosts"
    write_hosts_dir(hosts, upstream_registry.host, pullgate.host)
    await ctr_pull(containerd, f"{upstream_registry.host}/team/signed:1", hosts)
    failed = await ctr_pull(containerd, f"{upstream_registry.host}/team/unsigned:1", hosts, check=False)
    assert failed.returncode != 0
    assert "signature requirement ci-signed" in failed.stderr and "no signature found" in failed.stderr
    listed = await containerd.ctr("image", "ls", "-q")
    assert "team/signed:1" in listed.stdout and "team/unsigned" not in listed.stdout

    with make_podman(tmp_path / "podman", {upstream_registry.host: pullgate.host}) as podman:
        await podman_pull(podman, f"{upstream_registry.host}/team/signed:1")
        refused = await podman_pull(podman, f"{upstream_registry.host}/team/unsigned:1", check=False)
    assert refused.returncode != 0 and "signature requirement ci-signed" in refused.stderr
