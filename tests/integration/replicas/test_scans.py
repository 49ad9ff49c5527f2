"""One scan per digest across replicas: the scan row is a lease the replicas share."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.integration.replicas.conftest import Admin, MakeReplicas
from tests.support.fixtures import PushTo
from tests.support.images import ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.replicas import Replica

pytestmark = pytest.mark.postgres

DENY_APP = "default_action: allow\nrules: [{id: not-yet, match: {repository: team/app}, action: deny}]\n"
POLICY = """
default_action: allow
vulnerability_policies:
  - {id: v, match: {repository: "team/**"}, max_severity: high, hold_seconds: 30}
"""


async def _pull(replica: Replica, tag: str) -> int:
    url = f"{replica.url}/v2/team/app/manifests/{tag}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp,
    ):
        await resp.read()
        return resp.status


async def test_the_same_new_image_through_both_replicas_is_scanned_once(
    make_replicas: MakeReplicas,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, "team/app", image, "1")
    replicas = make_replicas()
    admin = Admin(replicas[0], replicas.admin_token)
    # A denied pull caches the manifest but scans nothing: the race below is over the scan
    # alone (two replicas caching one manifest at once is the test after this one).
    await admin.put_policy(DENY_APP)
    assert await _pull(replicas[0], "1") == 403
    await admin.put_policy(POLICY)
    await asyncio.sleep(0.3)  # B's policy_refresh_interval (0.2 s): both hold for the scan now

    statuses = await asyncio.gather(*(_pull(replica, "1") for replica in replicas.replicas))
    assert statuses == [200, 200]
    for replica in replicas.replicas:
        status = (await Admin(replica, replicas.admin_token).get(f"/scans/{image.digest}")).json
        current = [
            scan
            for scan in status["history"]
            if scan["scanner"] == "builtin" and scan["db_version"] == status["db_version"]
        ]
        assert len(current) == 1 and current[0]["status"] == "done", status["history"]


async def test_two_replicas_caching_one_new_manifest_at_once_both_serve_it(
    make_replicas: MakeReplicas,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    tags = [f"t{i}" for i in range(3)]  # three tries at the race, each a manifest nobody cached
    for tag in tags:
        await push_to(upstream_registry, "team/app", image_factory.image(), tag)
    replicas = make_replicas()
    await Admin(replicas[0], replicas.admin_token).put_policy("default_action: allow\n")
    await asyncio.sleep(0.3)  # B's policy_refresh_interval
    for tag in tags:
        statuses = await asyncio.gather(*(_pull(replica, tag) for replica in replicas.replicas))
        assert statuses == [200, 200], tag
