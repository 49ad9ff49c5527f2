"""A scanner that crashes never lets an image through: it stays `pending`, never `allow`.

End to end through pullgate: the real Trivy backend running a process that is killed or exits
non-zero (a wrapper script standing in for the trivy binary, so the process really dies),
a Harbor scanner adapter answering 500 or garbage, and the built-in scanner raising. Each time the pull is refused as
pending with the scan's error and a Retry-After, a second pull is still refused (a failure
is never turned into a clean report), and the image's blobs are not served either.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from proxy.gate.scans.builtin import BuiltinScanner
from tests.integration.admin.conftest import MakeWorld, World
from tests.support.harbor_adapter import HarborAdapter
from tests.support.http import http_get

# Not about the database: SQLite only. The scan must be what decides (default allow).
pytestmark = pytest.mark.parametrize("app_database", ["sqlite"], indirect=True)

POLICY = """
default_action: allow
vulnerability_policies:
  - {id: scanned, match: {repository: "team/**"}, max_severity: high, hold_seconds: 10, scanners: [SCANNER]}
"""

# The script, and what the refusal then says about how the scan ended.
DEATHS = {
    "killed": ("kill -KILL $$", "trivy was killed by SIGKILL"),  # as the OOM killer would
    "exits-non-zero": ('echo "FATAL scan error: injected crash" >&2; exit 3', "trivy exited with status 3"),
}


async def _assert_pending(world: World, what: str) -> None:
    image = await world.push("team/app", "1")
    for attempt in range(2):  # the failed scan is retried on the next request, and fails again
        pull = await world.pull("team/app", "1")
        assert pull.status == 403 and pull.error["code"] == "DENIED", (attempt, pull.body)
        assert pull.error["detail"]["outcome"] == "pending", pull.error
        assert "the scan failed" in pull.error["message"] and what in pull.error["message"], pull.error
        assert "Retry-After" in pull.headers
    status, _, _ = await http_get(f"{world.pullgate.url}/v2/team/app/blobs/{image.layer_digests[0]}")
    assert status == 403, "a pending image's blobs are not served either"


@pytest.mark.parametrize("death", list(DEATHS))
async def test_a_trivy_process_that_dies_leaves_the_image_pending(
    make_world: MakeWorld, tmp_path: Path, death: str
) -> None:
    script = tmp_path / "trivy"
    command, said = DEATHS[death]
    script.write_text(f"#!/bin/sh\n{command}\n")
    script.chmod(0o755)
    scanning = {"scanners": ["trivy"], "trivy": {"binary": str(script), "cache_dir": str(tmp_path / "cache")}}
    world = await make_world(POLICY.replace("SCANNER", "trivy"), scanning=scanning)
    await _assert_pending(world, said)


@pytest.mark.parametrize("fault", ["error", "garbage"])
async def test_a_harbor_adapter_that_fails_leaves_the_image_pending(
    make_world: MakeWorld, fault: str
) -> None:
    with HarborAdapter() as adapter:
        adapter.report_fault = fault  # type: ignore[assignment]
        scanning = {"scanners": ["harbor:clair"], "harbor_adapters": [{"name": "clair", "url": adapter.url}]}
        world = await make_world(POLICY.replace("SCANNER", "harbor:clair"), scanning=scanning)
        await _assert_pending(world, "harbor:clair")
        assert adapter.records, "the adapter was asked to scan"


async def test_a_builtin_scanner_that_raises_leaves_the_image_pending(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*_args: object) -> NoReturn:
        raise MemoryError("a layer too big to analyse")

    monkeypatch.setattr(BuiltinScanner, "scan", crash)
    world = await make_world(POLICY.replace("SCANNER", "builtin"))
    await _assert_pending(world, "MemoryError")
