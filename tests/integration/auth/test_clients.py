"""skopeo through pullgate with pull authentication on: it follows the Bearer challenge to
pullgate's token endpoint, and what it prints on a refusal says why."""

from __future__ import annotations

from pathlib import Path

from tests.integration.auth.conftest import AuthWorld
from tests.support.push import skopeo_copy


async def test_skopeo_pulls_with_robot_credentials_and_is_audited(
    auth_world: AuthWorld, tmp_path: Path
) -> None:
    world = auth_world
    image = await world.push("team/app", "1")
    secret = await world.robot("ci", "team/**")
    source = f"docker://{world.pullgate.host}/team/app:1"
    await skopeo_copy(source, f"dir:{tmp_path / 'out'}", ["--src-creds", f"ci:{secret}"])
    assert (tmp_path / "out" / image.layer_digests[0].split(":")[1]).is_file()
    (pull,) = await world.pulls("robot:ci")
    assert (pull.repository, pull.digest, pull.outcome) == ("team/app", image.digest, "allow")
    assert pull.identity == "robot:ci"


async def test_skopeo_is_refused_without_valid_credentials_or_scope(
    auth_world: AuthWorld, tmp_path: Path
) -> None:
    world = auth_world
    await world.push("team/app", "1")
    await world.robot("ci", "team/**")
    other = await world.robot("other", "elsewhere/**")
    source = f"docker://{world.pullgate.host}/team/app:1"
    wrong = await skopeo_copy(
        source, f"dir:{tmp_path / 'a'}", ["--src-creds", "ci:not-the-secret"], check=False
    )
    assert wrong.returncode != 0
    assert "401" in wrong.stderr or "unauthorized" in wrong.stderr.lower(), wrong.stderr
    assert "robot 'ci' is unknown or the secret is wrong" in wrong.stderr
    anonymous = await skopeo_copy(source, f"dir:{tmp_path / 'b'}", check=False)
    assert anonymous.returncode != 0
    assert "authentication required" in anonymous.stderr, anonymous.stderr
    denied = await skopeo_copy(
        source, f"dir:{tmp_path / 'c'}", ["--src-creds", f"other:{other}"], check=False
    )
    assert denied.returncode != 0
    assert (
        "denied" in denied.stderr and f"robot 'other' may not pull {world.registry}/team/app" in denied.stderr
    )
    assert not any((tmp_path / d / "manifest.json").exists() for d in "abc")
    assert await world.pullgate.metric("pullgate_http_requests", route="blobs", status="200") == 0
