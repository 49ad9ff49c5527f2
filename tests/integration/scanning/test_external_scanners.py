"""Trivy and a Harbor scanner adapter as pullgate's scanners, end to end: they read the image
through pullgate's scanner endpoint (content store, one grant per scan, no gate), their
results join the built-in scanner's, and a policy may name whose results count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.admin.conftest import MakeWorld
from tests.support.debian_images import LIBSSL_OLD, OS_RELEASE, dpkg_status, import_records, openssl_record
from tests.support.harbor_adapter import HarborAdapter
from tests.support.images import build_image, file_layer

BOTH = """
default_action: allow
vulnerability_policies:
  - {id: no-criticals, match: {repository: "team/**"}, max_severity: high, hold_seconds: 60}
"""


def _image() -> Any:
    files = {
        "etc/os-release": OS_RELEASE,
        "etc/debian_version": b"12.8\n",  # Trivy detects Debian from this file
        "var/lib/dpkg/status": dpkg_status(LIBSSL_OLD),
    }
    return build_image([file_layer(files)])


async def test_trivy_reads_through_the_scanner_endpoint_and_its_inventory_is_matched(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    scanning = {"scanners": ["builtin", "trivy"], "trivy": {"cache_dir": str(tmp_path / "trivy")}}
    world = await make_world(BOTH, scanning=scanning)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    image = await world.push("team/app", "1", _image())
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "DEBIAN-CVE-2023-5678" in pull.error["message"]
    history = (await world.admin.get(f"/scans/{image.digest}")).json["history"]
    by_scanner = {scan["scanner"]: scan for scan in history}
    assert set(by_scanner) == {"builtin", "trivy"}
    assert by_scanner["trivy"]["status"] == "done", by_scanner["trivy"]["error"]
    assert [f["vulnerability"] for f in by_scanner["trivy"]["findings"]] == ["DEBIAN-CVE-2023-5678"]


async def test_a_harbor_adapter_scans_and_a_policy_can_trust_only_it(make_world: MakeWorld) -> None:
    with HarborAdapter() as adapter:
        scanning = {
            "scanners": ["builtin", "harbor:clair"],
            "harbor_adapters": [{"name": "clair", "url": adapter.url}],
        }
        policy = """
default_action: allow
vulnerability_policies:
  - {id: cvss, match: {repository: "team/**"}, max_cvss: 7.0, hold_seconds: 60, scanners: ["harbor:clair"]}
"""
        world = await make_world(policy, scanning=scanning)
        image = await world.push("team/app", "1", _image())
        pull = await world.pull("team/app", "1")
        # The built-in scanner knows nothing (no OSV data); the adapter reports CVSS 7.5.
        message = pull.error["message"]
        assert pull.status == 403 and "CVSS score above 7.0" in message, message
        assert "CVE-2023-5678" in message and "scan by harbor:clair" in message
        (record,) = adapter.records
        # The adapter was handed pullgate's scanner endpoint and a working credential for it.
        assert record.repository.startswith("scan/") and record.authorization.startswith("Basic ")
        assert record.digest == image.digest
        history = (await world.admin.get(f"/scans/{image.digest}")).json["history"]
        assert {s["scanner"] for s in history} == {"builtin", "harbor:clair"}
