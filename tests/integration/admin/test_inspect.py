"""One image looked at closely through the admin API: its parts (layers, platforms), its
signatures and signers (checked now), its findings with the exceptions that waive them, and
the scan summary of each quarantined image."""

from __future__ import annotations

import aiohttp

from tests.integration.admin.conftest import MakeWorld, World
from tests.support.cosign import (
    generate_key,
    public_pem,
    push_cosign_signatures,
    sign_payload,
    simple_signing_payload,
)
from tests.support.debian_images import BASH, LIBSSL_OLD, debian_image, import_records, openssl_record
from tests.support.push import MANIFEST_ACCEPT

SCANNED = """
default_action: allow
rules:
  - {id: hold, match: {repository: "held/*"}, action: quarantine}
vulnerability_policies:
  - {id: no-criticals, match: {repository: "team/**"}, max_severity: critical, hold_seconds: 20}
vulnerability_exceptions:
  - {id: mitigated, vulnerability: CVE-2023-5678, match: {repository: "team/app"}, justification: DH not used, owner: security}
"""


async def _pull_index_child(world: World, repository: str, digest: str) -> None:
    url = f"{world.pullgate.url}/v2/{repository}/manifests/{digest}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp,
    ):
        assert resp.status == 200


async def _pull_blob(world: World, repository: str, digest: str) -> None:
    url = f"{world.pullgate.url}/v2/{repository}/blobs/{digest}"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        await resp.read()


async def test_contents_name_layers_and_platforms(world: World) -> None:
    index = world.images.index(["linux/amd64", "linux/arm64/v8"])
    await world.push_to(world.upstream, "multi/app", index, "1")
    assert (await world.pull("multi/app", "1")).status == 200
    child = index.child("linux/arm64/v8")
    await _pull_index_child(world, "multi/app", child.digest)

    parts = (await world.auditor.get(f"/images/{index.digest}/contents")).json
    assert parts["config"] is None and parts["layers"] == []
    assert [(m["platform"], m["digest"]) for m in parts["manifests"]] == [
        ("linux/amd64", index.child("linux/amd64").digest),
        ("linux/arm64/v8", child.digest),
    ]
    own = (await world.auditor.get(f"/images/{child.digest}/contents")).json
    assert own["config"]["digest"] == child.config_digest
    # Its config is not cached yet: asking about the image fetches nothing.
    assert own["platform"] is None and parts["platform"] is None
    await _pull_blob(world, "multi/app", child.config_digest)
    await world.pullgate.fills_done()
    own = (await world.auditor.get(f"/images/{child.digest}/contents")).json
    assert own["platform"] == "linux/arm64/v8"  # from the config itself
    assert [layer["digest"] for layer in own["layers"]] == child.layer_digests
    assert [(m["platform"], m["digest"]) for m in own["listed_by"]] == [("linux/arm64/v8", index.digest)]

    unknown = await world.admin.get(f"/images/sha256:{'0' * 64}/contents")
    assert (unknown.status, unknown.error["code"]) == (404, "not_found")
    assert (await world.admin.get("/images/sha256:short/contents")).status == 422


async def test_signatures_name_the_signer_per_repository(make_world: MakeWorld) -> None:
    policy = """
default_action: allow
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    authorities: [{name: ci, key: {trust: ci-key}}]
"""
    world = await make_world(policy)
    key = generate_key("p256")
    assert (
        await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": public_pem(key)})
    ).status == 201
    image = await world.push("team/app", "1")
    await world.push("other/app", "1", image)
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [sign_payload(key, payload)]
        )
    for repository in ("team/app", "other/app"):
        assert (await world.pull(repository, "1")).status == 200

    states = {
        s["repository"]: s
        for s in (await world.auditor.get(f"/images/{image.digest}/signatures")).json["items"]
    }
    team = states["team/app"]
    assert (team["requirements"], team["verdict"], team["problem"]) == (1, "allow", None)
    (check,) = team["checks"]
    assert check["detail"]["held"] is True and check["detail"]["requirement"] == "team-signed"
    (signer,) = team["signers"]
    assert signer["authority"] == "ci" and signer["signer"].startswith("sha256:")
    assert [a["kind"] for a in team["artifacts"]] == ["cosign"]
    # Where no requirement applies the artifacts are still listed (none were pushed there).
    other = states["other/app"]
    assert (other["requirements"], other["checks"], other["artifacts"]) == (0, [], [])

    only = (await world.admin.get(f"/images/{image.digest}/signatures", repository="other/app")).json
    assert [s["repository"] for s in only["items"]] == ["other/app"]
    missing = await world.admin.get(f"/images/{image.digest}/signatures", repository="nowhere/app")
    assert missing.status == 404
    assert (await world.admin.get(f"/images/{image.digest}/signatures", bogus="1")).status == 422


async def test_findings_carry_the_exceptions_that_waive_them(make_world: MakeWorld) -> None:
    world = await make_world(SCANNED)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    image = await world.push("team/app", "1", debian_image(LIBSSL_OLD, BASH))
    await world.push("team/other", "1", image)
    for repository in ("team/app", "team/other"):
        assert (await world.pull(repository, "1")).status == 200  # held until scanned; critical allowed

    report = (await world.auditor.get(f"/images/{image.digest}/vulnerabilities")).json
    assert report["scanner"] == "builtin"
    (finding,) = report["findings"]
    assert (finding["vulnerability"], finding["severity"], finding["package"]) == (
        "DEBIAN-CVE-2023-5678",
        "critical",
        "libssl3",
    )
    # The exception matches team/app only: the same digest in team/other is not waived.
    assert [(w["exception"], w["image"], w["justification"]) for w in finding["waived_by"]] == [
        ("mitigated", f"{world.upstream_name}/team/app", "DH not used")
    ]
    unscanned = await world.admin.get(f"/images/sha256:{'1' * 64}/vulnerabilities")
    assert unscanned.status == 404


async def test_the_queue_shows_each_image_scan_summary(make_world: MakeWorld) -> None:
    world = await make_world(SCANNED)
    await import_records(
        world.pullgate.settings.database.url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1")
    )
    image = await world.push("team/app", "1", debian_image(LIBSSL_OLD, BASH))
    await world.push("held/app", "1", image)
    await world.push("held/unscanned", "1")
    assert (await world.pull("team/app", "1")).status == 200  # scanned here first
    for repository in ("held/app", "held/unscanned"):
        assert (await world.pull(repository, "1")).status == 403

    entries = {e["repository"]: e for e in (await world.auditor.get("/quarantine")).json["items"]}
    summary = entries["held/app"]["scan"]
    assert (summary["scanner"], summary["findings"]) == ("builtin", 1)
    assert summary["by_severity"]["critical"] == 1 and summary["by_severity"]["high"] == 0
    assert entries["held/unscanned"]["scan"] is None
