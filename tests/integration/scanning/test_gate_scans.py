"""The vulnerability gate end to end: a real upstream registry, pullgate scanning what it
caches with the built-in scanner, OSV records in the database, skopeo as the client.

Images are built in the tests with a real dpkg status file and os-release (Debian 12), so
the inventory, the matching by source package and release, and the version ordering are the
real ones. OSV records are modelled on real advisories (tests/support/osv.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.integration.admin.conftest import MakeWorld
from tests.support.debian_images import (
    BASH,
    LIBSSL_FIXED,
    LIBSSL_OLD,
    debian_image,
    import_records,
    openssl_record,
)
from tests.support.images import build_image, file_layer
from tests.support.push import skopeo_copy

POLICY = """
default_action: allow
vulnerability_policies:
  - {id: no-criticals, match: {repository: "team/**"}, max_severity: high, unscanned: hold, hold_seconds: 20}
"""


async def test_a_critical_vulnerability_blocks_the_first_pull_after_a_held_scan(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = await make_world(POLICY)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    vulnerable = await world.push("team/app", "1", debian_image(LIBSSL_OLD, BASH))
    fixed = await world.push("team/app", "2", debian_image(LIBSSL_FIXED, BASH))

    refused = await skopeo_copy(
        f"docker://{world.pullgate.host}/team/app:1", f"dir:{tmp_path / 'x'}", check=False
    )
    assert refused.returncode != 0
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    message = pull.error["message"]
    assert "vulnerability policy no-criticals: severity above high" in message
    assert (
        "DEBIAN-CVE-2023-5678 (critical 9.8, libssl3 3.0.11-1~deb12u2, fixed in 3.0.13-1~deb12u1)" in message
    )

    await skopeo_copy(f"docker://{world.pullgate.host}/team/app:2", f"dir:{tmp_path / 'ok'}")
    status = await world.admin.get(f"/scans/{fixed.digest}")
    assert status.status == 200 and status.json["latest"]["findings"] == []
    assert status.json["latest"]["packages"] == 2 and "Debian" in status.json["latest"]["os"]
    report = (await world.admin.get(f"/scans/{vulnerable.digest}")).json["latest"]
    assert [f["vulnerability"] for f in report["findings"]] == ["DEBIAN-CVE-2023-5678"]
    affected = await world.admin.get("/vulnerabilities/CVE-2023-5678/images")
    assert [i["digest"] for i in affected.json["items"]] == [vulnerable.digest]
    sbom = await world.admin.get(f"/images/{vulnerable.digest}/sbom")
    names = {c["name"] for c in sbom.json["components"]}
    assert {"libssl3", "bash"} <= names


async def test_an_exception_lets_the_image_through_and_is_quoted(make_world: MakeWorld) -> None:
    policy = (
        POLICY
        + """
vulnerability_exceptions:
  - {id: mitigated, vulnerability: CVE-2023-5678, justification: DH not used, owner: security}
"""
    )
    world = await make_world(policy)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    await world.push("team/app", "1", debian_image(LIBSSL_OLD))
    pull = await world.pull("team/app", "1")
    assert pull.status == 200
    decision = (await world.audited(1, repository="team/app"))[0]
    (reason,) = [r for r in decision["reasons"] if r["check"] == "vulnerability"]
    assert reason["detail"]["exceptions"] == ["mitigated"]


async def test_unscanned_deny_and_allow(make_world: MakeWorld) -> None:
    policy = """
default_action: allow
vulnerability_policies:
  - {id: strict, match: {repository: "strict/**"}, max_severity: high, unscanned: deny}
  - {id: lenient, match: {repository: "lenient/**"}, max_severity: high, unscanned: allow}
"""
    world = await make_world(policy, scanning={"concurrency": 1})
    await world.push("strict/app", "1", debian_image(BASH))
    await world.push("lenient/app", "1", debian_image(("dash", "dash", "0.5.12-2")))  # another digest
    denied = await world.pull("strict/app", "1")
    assert denied.status == 403 and "vulnerability policy strict: not scanned yet" in denied.error["message"]
    served = await world.pull("lenient/app", "1")
    assert served.status == 200 and "not scanned yet" in served.headers["Warning"]


async def test_hold_answers_retry_later_while_the_scan_runs(make_world: MakeWorld) -> None:
    policy = POLICY.replace("hold_seconds: 20", "hold_seconds: 0")
    world = await make_world(policy)
    await world.push("team/app", "1", debian_image(BASH))
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "scan in progress, retry in" in pull.error["message"]
    for _ in range(100):  # the scan it queued finishes; then the image is served
        await asyncio.sleep(0.05)
        if (await world.pull("team/app", "1")).status == 200:
            return
    raise AssertionError("the held image was never served")


class Hooks:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.events.append(json.loads(await request.read()))
        return web.Response(status=204)


@pytest.fixture
async def hooks(aiohttp_server: Any) -> AsyncIterator[tuple[Hooks, str]]:
    receiver = Hooks()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = await aiohttp_server(app)
    yield receiver, f"http://127.0.0.1:{server.port}/hook"


async def test_a_database_update_flips_an_allowed_image_and_fires_the_webhook(
    make_world: MakeWorld, hooks: tuple[Hooks, str]
) -> None:
    receiver, url = hooks
    scanning = {"vulndb_check_interval": 0.2, "webhooks": [{"url": url}]}
    world = await make_world(POLICY, scanning=scanning)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-0001", "3.0.9-1")
    )  # older than installed
    image = await world.push("team/app", "1", debian_image(LIBSSL_OLD))
    assert (await world.pull("team/app", "1")).status == 200

    # A new advisory: the stored inventory is re-matched (no layer fetched again).
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    for _ in range(200):
        if receiver.events:
            break
        await asyncio.sleep(0.05)
    (event,) = receiver.events
    assert event["event"] == "verdict.changed" and (event["before"], event["after"]) == ("allow", "deny")
    assert event["digest"] == image.digest and event["repository"] == "team/app"
    assert event["pulled_by"] and event["pulled_by"][0]["pulls"] >= 1
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "DEBIAN-CVE-2023-5678" in pull.error["message"]
    rescans = await world.audited(1, kind="rescan")
    assert rescans[0]["digest"] == image.digest and rescans[0]["outcome"] == "deny"


async def test_a_real_debian_root_filesystem_is_inventoried_like_dpkg_query_lists_it(
    make_world: MakeWorld,
) -> None:
    """This machine is Debian 12: its own dpkg database and os-release, pushed as an image."""
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {tuple(line.split()[1:3]) for line in listed.splitlines() if line.startswith("ii")}
    files = {
        "etc/os-release": Path("/etc/os-release").read_bytes(),
        "etc/debian_version": Path("/etc/debian_version").read_bytes(),
        "var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
    }
    world = await make_world(POLICY)
    image = await world.push("team/debian", "12", build_image([file_layer(files)]))
    assert (await world.pull("team/debian", "12")).status == 200  # held until scanned, nothing known
    sbom = (await world.admin.get(f"/images/{image.digest}/sbom")).json
    found = {(c["name"], c["version"]) for c in sbom["components"] if c.get("type") == "library"}
    assert {name for name, _ in found} == {name.split(":")[0] for name, _ in installed}
    assert found == {(name.split(":")[0], version) for name, version in installed}
