"""An image by digest in the browser: tags, layers, packages, vulnerabilities (sortable,
with the exception that waives one), signatures and who signed, and who pulled it — from a
real scan (built-in scanner, OSV records), a real cosign signature and a real skopeo pull."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from playwright.async_api import expect

from tests.e2e.console.conftest import OpenConsole
from tests.integration.admin.conftest import MakeWorld
from tests.support.cosign import (
    generate_key,
    public_pem,
    push_cosign_signatures,
    sign_payload,
    simple_signing_payload,
)
from tests.support.debian_images import BASH, LIBSSL_OLD, debian_image, import_records, openssl_record
from tests.support.osv import osv_record
from tests.support.push import skopeo_copy

POLICY = """
default_action: allow
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    authorities: [{name: ci, key: {trust: ci-key}}]
vulnerability_policies:
  - {id: no-criticals, match: {repository: "team/**"}, max_severity: high, hold_seconds: 20}
vulnerability_exceptions:
  - {id: mitigated, vulnerability: CVE-2023-5678, justification: DH is not used, owner: security}
"""


def _bash_record() -> dict[str, object]:
    return osv_record(
        "DEBIAN-CVE-2022-3715",
        {
            "package": {"name": "bash", "ecosystem": "Debian:12"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+b3"}]}],
        },
        upstream=["CVE-2022-3715"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"}],  # 5.5
        summary="bash: test advisory modelled on a real one",
    )


async def test_an_image_page_shows_what_it_is_and_who_has_it(
    make_world: MakeWorld, open_console: OpenConsole, tmp_path: Path
) -> None:
    world = await make_world(POLICY)
    url = world.pullgate.settings.database.url
    await import_records(url, openssl_record("DEBIAN-CVE-2023-5678", "3.0.13-1~deb12u1"), _bash_record())
    key = generate_key("p256")
    assert (
        await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": public_pem(key)})
    ).status == 201
    image = await world.push("team/app", "1.0", debian_image(LIBSSL_OLD, BASH))
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [sign_payload(key, payload)]
        )
    # Signed, and its critical finding waived: skopeo gets it.
    await skopeo_copy(f"docker://{world.pullgate.host}/team/app:1.0", f"dir:{tmp_path / 'out'}")
    await world.audited(1, repository="team/app")

    console = await open_console(world)
    await console.login(world.admin.token or "")
    await console.open("/images")
    await expect(console.page.locator("#images")).to_contain_text("team/app")
    await console.shot("images")
    await console.page.locator("#images tbody tr", has_text="team/app").get_by_role("link").first.click()
    page = console.page
    await expect(page.locator("#image h1")).to_contain_text(image.digest)
    await expect(page.locator("#image-repositories")).to_contain_text("1.0")
    await expect(page.locator("#image-repositories")).to_contain_text("allowed")
    await expect(page.locator("#layers tbody tr")).to_have_count(len(image.layer_digests))
    await expect(page.locator("#platforms")).to_contain_text("linux/amd64")  # from its config
    # A plain image is no artifact, whatever type the registry derives for it from its config.
    await expect(page.locator("#image")).not_to_contain_text("artifact type")
    await expect(page.locator("#layers")).to_contain_text(image.layer_digests[0][:19])

    findings = page.locator("#vulnerabilities tbody tr")
    await expect(findings).to_have_count(2)
    # Worst first; the critical one is waived by the exception, the medium one counts.
    await expect(findings.nth(0)).to_contain_text("DEBIAN-CVE-2023-5678")
    await expect(findings.nth(0)).to_contain_text("waived by mitigated")
    await expect(findings.nth(1)).to_contain_text("DEBIAN-CVE-2022-3715")
    await expect(findings.nth(1)).to_contain_text("counts")
    await page.get_by_role("button", name="Sort by Package").click()
    await expect(findings.nth(0)).to_contain_text("bash")
    await page.get_by_role("button", name="Sort by Package, sorted ascending").click()
    await expect(findings.nth(0)).to_contain_text("libssl3")

    await expect(page.locator("#packages")).to_contain_text("libssl3")
    await expect(page.locator("#packages")).to_contain_text("bash")
    signatures = page.locator("#signatures")
    await expect(signatures).to_contain_text("1 of 1 requirement(s) met")
    await expect(signatures.locator(".signers")).to_contain_text("ci")
    await expect(signatures).to_contain_text("cosign")
    await expect(page.locator("#pullers tbody tr")).to_have_count(1)
    await expect(page.locator("#pullers")).to_contain_text("127.0.0.1")
    await console.shot("image")
